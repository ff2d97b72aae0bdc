// Open queue streams on one instance as far as the machine allows (driven by bin/queue-scale-bench --streams).
// Unlike bin/sse-bench it makes its fans fast: accounts in one SQL INSERT, and access tokens signed here with the
// development issuer's key that the bench passes to the app (the test key of src/test/resources/auth), with the
// claims the issuer itself puts in (iss, aud, sub, preferred_username, iat, nbf, exp, jti; kid from the app's JWKS).
// Measures: streams opened (and why the rest failed), live heap per stream after a full GC, app CPU per stream
// with the queue idle and moving (20 admitted per tick), Redis CPU.
//   node streams.mjs --base URL --pid APP_PID --redis-port P --db DB --pem FILE --streams N --hold S
import http from 'node:http';
import { apiClient, parseArgs, pool, sleep } from '../lib/http.mjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const args = parseArgs();
const base = new URL(args.base);
const N = Number(args.streams);
const HOLD = Number(args.hold ?? 10);
const ADMIN = args['admin-key'] ?? 'dev-admin-key';
const key = crypto.createPrivateKey(fs.readFileSync(args.pem, 'utf8'));

const api = apiClient(base, { maxSockets: 64, adminKey: ADMIN, jsonObjectsOnly: true });
const { call, admin } = api;
const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
function sign(kid, userId, username) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ kid, typ: 'JWT', alg: 'RS256' });
  const body = b64({ sub: String(userId), aud: 'booking-api', nbf: now, iss: 'booking-dev-issuer', preferred_username: username,
    exp: now + 3600, iat: now, jti: crypto.randomUUID() });
  return `${head}.${body}.${crypto.sign('sha256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
}
function appCpuSeconds() {
  const f = fs.readFileSync(`/proc/${args.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
function redisCpuSeconds() {
  const text = execFileSync('redis-cli', ['-p', args['redis-port'], 'INFO', 'cpu'], { encoding: 'utf8' });
  return Number(/used_cpu_sys:([\d.]+)/.exec(text)[1]) + Number(/used_cpu_user:([\d.]+)/.exec(text)[1]);
}
async function metric(name, tag) {
  const r = await admin('GET', `/actuator/metrics/${name}${tag ? `?tag=${tag}` : ''}`);
  return r.json.measurements[0].value;
}
async function liveHeapMb() {
  execFileSync('jcmd', [String(args.pid), 'GC.run'], { stdio: 'ignore' });
  await sleep(500);
  return (await metric('jvm.memory.used', 'area:heap')) / 1048576;
}
function openFds() { return fs.readdirSync(`/proc/${args.pid}/fd`).length; }

const kid = (await call('GET', '/.well-known/jwks.json')).json.keys[0].kid;
const tag = Date.now().toString(36);
const concert = (await admin('POST', '/api/v1/admin/concerts', { name: `streams-${tag}`, description: 'bench',
  dates: [{ startsAt: new Date(Date.now() + 30 * 864e5).toISOString().replace(/\.\d+Z$/, 'Z'), venue: `streams-hall-${tag}`,
    seats: [{ grade: 'R', price: 1000, count: 10 }] }] })).json.concertId;
// Joining and opening thousands of streams takes minutes on a busy machine: the fans who joined first must not be
// dropped as idle (waiting-timeout, 2 min by default) before their stream opens.
await admin('PUT', `/api/v1/admin/queues/${concert}/policy`, { admitPerTick: 0, maxActive: 1000000, waitingTimeoutSeconds: 86400 });

const mysql = (sql) => execFileSync('mariadb', ['-ubooking', '-pbooking', '-h127.0.0.1', '-N', args.db, '-e', sql], { encoding: 'utf8' });
mysql(`INSERT INTO users (username, balance) SELECT CONCAT('st-${tag}-', seq), 0 FROM seq_1_to_${N}`);
const users = mysql(`SELECT id, username FROM users WHERE username LIKE 'st-${tag}-%' ORDER BY id`).trim().split('\n').map((l) => l.split('\t'));
let t = Date.now();
const bearers = users.map(([id, name]) => sign(kid, id, name));
const signSeconds = (Date.now() - t) / 1000;

t = Date.now();
let retried = 0;
const tokens = await pool(N, 64, async (i) => {
  for (let attempt = 0; ; attempt++) {
    const r = await call('POST', '/api/v1/queues/token', { concertId: concert }, { authorization: `Bearer ${bearers[i]}` });
    if (r.status < 300) return r.json.token;
    if (attempt >= 5) throw new Error(`join ${i}: HTTP ${r.status}`);
    retried++;
    await sleep(1000 + Math.random() * 1000);
  }
});
const joinSeconds = (Date.now() - t) / 1000;
api.destroy(); // the keep-alive connections of the joins would count as open descriptors
await sleep(1000);
const heapBefore = await liveHeapMb();
const fdsBefore = openFds();

const open = [];
const failures = {};
let events = 0;
function openStream(i, retries = 0) {
  return new Promise((resolve) => {
    const req = http.get({ host: base.hostname, port: base.port, agent: false,
      path: `/api/v1/queues/stream?token=${encodeURIComponent(tokens[i])}`, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode === 503 && retries < 5) {
        res.resume();
        setTimeout(() => openStream(i, retries + 1).then(resolve), 1000 + Math.random() * 1000);
        return;
      }
      if (res.statusCode !== 200) { failures[`HTTP ${res.statusCode}`] = (failures[`HTTP ${res.statusCode}`] ?? 0) + 1; res.resume(); resolve(); return; }
      open.push(req);
      let first = true;
      res.on('data', () => { events++; if (first) { first = false; resolve(); } });
      res.on('error', () => {});
    });
    req.on('error', (e) => { failures[e.code ?? e.message] = (failures[e.code ?? e.message] ?? 0) + 1; resolve(); });
    req.setTimeout(60000, () => { failures.timeout = (failures.timeout ?? 0) + 1; req.destroy(); resolve(); });
  });
}
t = Date.now();
await pool(N, 200, (i) => openStream(i));
const openSeconds = (Date.now() - t) / 1000;
await sleep(3000);
const serverStreams = await metric('booking.queue.streams');

async function window(label) {
  const c0 = appCpuSeconds(), r0 = redisCpuSeconds(), e0 = events, t0 = Date.now();
  await sleep(HOLD * 1000);
  const wall = (Date.now() - t0) / 1000;
  return { label, seconds: Math.round(wall), appCpuCores: +((appCpuSeconds() - c0) / wall).toFixed(3),
    redisCpuCores: +((redisCpuSeconds() - r0) / wall).toFixed(3), sseChunksPerSec: Math.round((events - e0) / wall) };
}
const idle = await window('idle');
const heapWith = await liveHeapMb();
const fdsWith = openFds();
await admin('PUT', `/api/v1/admin/queues/${concert}/policy`, { admitPerTick: 20, maxActive: 1000000, waitingTimeoutSeconds: 86400 });
const moving = await window('moving');
await admin('PUT', `/api/v1/admin/queues/${concert}/policy`, { admitPerTick: 0, maxActive: 1000000, waitingTimeoutSeconds: 86400 });
const perStreamKb = open.length ? +(((heapWith - heapBefore) * 1024) / open.length).toFixed(1) : null;
console.log(JSON.stringify({ requested: N, opened: open.length, serverStreams, failures, retriedJoins: retried, signSeconds, joinSeconds,
  openSeconds, heapBeforeMb: +heapBefore.toFixed(1), heapWithMb: +heapWith.toFixed(1), heapPerStreamKb: perStreamKb,
  appFdsBefore: fdsBefore, appFdsWith: fdsWith, fdLimit: fs.readFileSync(`/proc/${args.pid}/limits`, 'utf8').match(/Max open files\s+(\d+)/)[1],
  idle, moving, concert }));
for (const r of open) r.destroy();
process.exit(0);
