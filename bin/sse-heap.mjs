// Heap per open queue SSE stream, by class (issue 18 item 6): with 2N fans already signed in and joined (so their
// accounts, tokens and caches are in the baseline), takes a live-object class histogram (jcmd GC.class_histogram,
// which runs a full GC first) at 0, N and 2N open streams. Heap per stream = (live(2N) - live(N)) / N; the class
// diff between N and 2N says where it goes.
// Usage: node bin/sse-heap.mjs --base http://127.0.0.1:18004 --pid <app pid> --streams 500 [--out DIR] [--top 40] [--dump 1]
// (--dump 1: also a live heap dump at each step, OUT/heap-<streams>.hprof, for a look at who holds what)
import http from 'node:http';
import { apiClient, parseArgs, pool, sleep } from './lib/http.mjs';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const args = parseArgs();
const base = new URL(args.base ?? 'http://127.0.0.1:18004');
const pid = Number(args.pid);
const N = Number(args.streams ?? 500);
const TOP = Number(args.top ?? 40);
const OUT = args.out ?? 'target/sse-heap';
const ADMIN = args['admin-key'] ?? 'dev-admin-key';
fs.mkdirSync(OUT, { recursive: true });

const api = apiClient(base, { maxSockets: 64, adminKey: ADMIN });
const { call, admin } = api;

function histogram(label) { // live objects only: the histogram runs a full GC first
  if (args.dump) execFileSync('jcmd', [String(pid), 'GC.heap_dump', '-overwrite', `${fs.realpathSync(OUT)}/heap-${label}.hprof`]);
  const text = execFileSync('jcmd', [String(pid), 'GC.class_histogram'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.writeFileSync(`${OUT}/histogram-${label}.txt`, text);
  const classes = new Map();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)/.exec(line);
    if (m) classes.set(m[3], { count: Number(m[1]), bytes: Number(m[2]) });
    const t = /^Total\s+(\d+)\s+(\d+)/.exec(line);
    if (t) total = Number(t[2]);
  }
  return { total, classes };
}

const open = [];
function openStream(token, retries = 0) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: base.hostname, port: base.port, agent: false,
      path: `/api/v1/queues/stream?token=${encodeURIComponent(token)}`, headers: { accept: 'text/event-stream' } }, (res) => {
      if ((res.statusCode === 503 || res.statusCode === 429) && retries < 20) { // Retry-After: try again like a client
        res.resume();
        setTimeout(() => openStream(token, retries + 1).then(resolve, reject), 1000 + Math.random() * 1000);
        return;
      }
      if (res.statusCode !== 200) { reject(new Error(`stream: HTTP ${res.statusCode}`)); return; }
      res.setEncoding('utf8');
      let first = true;
      res.on('data', () => { if (first) { first = false; resolve(); } });
    });
    req.on('error', reject);
    open.push(req);
  });
}

const concert = await admin('POST', '/api/v1/admin/concerts', { name: `sse-heap-${Date.now()}`, description: 'bench',
  dates: [{ startsAt: new Date(Date.now() + 30 * 864e5).toISOString().replace(/\.\d+Z$/, 'Z'), venue: `heap-hall-${Date.now()}`, seats: [{ grade: 'R', price: 1000, count: 10 }] }] });
const concertId = concert.json.concertId;
await admin('PUT', `/api/v1/admin/queues/${concertId}/policy`, { admitPerTick: 0, maxActive: 1000000 });
const tag = Date.now().toString(36);
async function signedIn(i) { // an account and an access token through the operator API, retried on 503/429
  for (let attempt = 0; ; attempt++) {
    const user = await admin('POST', '/api/v1/admin/users', { username: `heap-${tag}-${i}-${attempt}`, balance: 0 });
    const token = user.json?.userId && (await admin('POST', `/api/v1/admin/users/${user.json.userId}/access-token`)).json?.accessToken;
    if (token) return token;
    if (attempt >= 10) throw new Error(`user ${i}: HTTP ${user.status} ${JSON.stringify(user.json)}`);
    await sleep(1000 + Math.random() * 1000);
  }
}
const access = await pool(2 * N, 32, signedIn);
async function join(i) { // a 503 or 429 carries Retry-After: try again like a client
  for (let attempt = 0; ; attempt++) {
    const r = await call('POST', '/api/v1/queues/token', { concertId }, { authorization: `Bearer ${access[i]}` });
    if (r.json?.token) return r.json.token;
    if (attempt >= 10) throw new Error(`join ${i}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    await sleep(1000 + Math.random() * 1000);
  }
}
const tokens = await pool(2 * N, 32, join);
await sleep(2000);
const h0 = histogram('0');
await pool(N, 100, (i) => openStream(tokens[i]));
await sleep(3000);
const h1 = histogram(String(N));
await pool(N, 100, (i) => openStream(tokens[N + i]));
await sleep(3000);
const h2 = histogram(String(2 * N));

const diff = [];
for (const [name, b] of h2.classes) {
  const a = h1.classes.get(name) ?? { count: 0, bytes: 0 };
  if (b.bytes !== a.bytes) diff.push({ name, perStreamBytes: (b.bytes - a.bytes) / N, perStreamCount: (b.count - a.count) / N });
}
diff.sort((x, y) => y.perStreamBytes - x.perStreamBytes);
const summary = { streams: [0, N, 2 * N], liveBytes: [h0.total, h1.total, h2.total],
  perStreamBytesFirstN: Math.round((h1.total - h0.total) / N), perStreamBytesSecondN: Math.round((h2.total - h1.total) / N),
  loadavg: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
console.log(JSON.stringify({ summary }));
console.log(`| class | bytes per stream | objects per stream |\n|---|---:|---:|`);
for (const d of diff.slice(0, TOP)) console.log(`| ${d.name} | ${d.perStreamBytes.toFixed(0)} | ${d.perStreamCount.toFixed(2)} |`);
fs.writeFileSync(`${OUT}/diff-${N}-${2 * N}.json`, JSON.stringify({ summary, diff }, null, 1));
for (const req of open) req.destroy();
api.destroy();
process.exit(0);
