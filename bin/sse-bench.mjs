// SSE capacity probe for the waiting queue: opens N concurrent streams against one instance, then measures
// server heap and CPU, the client's CPU, and Redis commands/s (INFO commandstats) while they are held:
//   idle   - nobody moves: only keep-alive positions and presence refreshes flow
//   moving - the queue admits every tick: every stream gets a new position every second
// the fan-out delay of one operator admission to all open streams, and admission-to-`active` delivery: for every
// `active` event, its receipt time minus the admission instant the service stamped (activeUntil - active TTL).
// Usage: node bin/sse-bench.mjs --base http://127.0.0.1:18081 --pid <app pid> --redis-port 16380 --streams 5000 --hold 20
import http from 'node:http';
import { apiClient, parseArgs, pool, sleep } from './lib/http.mjs';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const args = parseArgs();
const base = new URL(args.base ?? 'http://127.0.0.1:18081');
const pid = Number(args.pid);
const redisPort = args['redis-port'] ?? '16380';
const redisDb = args['redis-db'] ?? '0';
const N = Number(args.streams ?? 1000);
const HOLD = Number(args.hold ?? 20);
const ADMIN = args['admin-key'] ?? 'dev-admin-key';

const api = apiClient(base, { maxSockets: 128, adminKey: ADMIN });
const { call, admin } = api;


function cpuSeconds() { // utime + stime of the app, in seconds (clock ticks of 1/100 s)
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
function commandstats() {
  const text = execFileSync('redis-cli', ['-p', redisPort, 'INFO', 'commandstats'], { encoding: 'utf8' });
  const calls = {};
  for (const m of text.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) calls[m[1]] = Number(m[2]);
  return calls;
}
function redisCpuSeconds() { // used_cpu_sys + used_cpu_user of the Redis server
  const text = execFileSync('redis-cli', ['-p', redisPort, 'INFO', 'cpu'], { encoding: 'utf8' });
  return Number(/used_cpu_sys:([\d.]+)/.exec(text)[1]) + Number(/used_cpu_user:([\d.]+)/.exec(text)[1]);
}
async function metric(name, tag) {
  const r = await admin('GET', `/actuator/metrics/${name}${tag ? `?tag=${tag}` : ''}`); // metrics are operator-only
  return r.json.measurements[0].value;
}
async function liveHeapMb() {
  execFileSync('jcmd', [String(pid), 'GC.run'], { stdio: 'ignore' });
  await sleep(500);
  return (await metric('jvm.memory.used', 'area:heap')) / 1048576;
}

async function window(label, seconds) {
  const rc0 = redisCpuSeconds();
  const r0 = commandstats(), c0 = cpuSeconds(), u0 = process.cpuUsage(), t0 = Date.now(), e0 = events.total;
  await sleep(seconds * 1000);
  const rc1 = redisCpuSeconds();
  const r1 = commandstats(), c1 = cpuSeconds(), u1 = process.cpuUsage(), wall = (Date.now() - t0) / 1000;
  const perCmd = Object.fromEntries(Object.keys(r1).map((k) => [k, ((r1[k] - (r0[k] ?? 0)) / wall)]).filter(([, v]) => v > 0.05)
    .sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v * 10) / 10]));
  const total = Object.values(perCmd).reduce((a, b) => a + b, 0);
  // Commands the app sends itself (round trips); the rest run inside its Lua scripts. 'info' is this probe.
  const direct = ['evalsha', 'eval', 'mget', 'smembers', 'exists'].reduce((a, k) => a + (perCmd[k] ?? 0), 0);
  const clientCpu = ((u1.user - u0.user) + (u1.system - u0.system)) / 1e6 / wall;
  const res = { label, seconds: Math.round(wall), open: open.size, serverCpuCores: +((c1 - c0) / wall).toFixed(3),
    clientCpuCores: +clientCpu.toFixed(3), redisCpuCores: +((rc1 - rc0) / wall).toFixed(3), redisCmdsPerSec: Math.round(total * 10) / 10,
    redisRoundTripsPerSec: Math.round(direct * 10) / 10, redisInScriptCmdsPerSec: Math.round((total - direct - (perCmd.info ?? 0)) * 10) / 10,
    redisByCommand: perCmd,
    sseEventsPerSec: Math.round((events.total - e0) / wall) };
  console.log(JSON.stringify(res));
  return res;
}

const open = new Map();  // index -> request
const lastPos = new Map();
const events = { total: 0, waiters: [] };
const actives = []; // admission-to-active delivery of every active event, ms, tagged with the phase it came in
let activeTtlMs = 600000;
let phase = 'idle';
let retried = 0;
function openStream(i, token, retries = 0) {
  if (retries > 0) retried++;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: base.hostname, port: base.port, agent: false,
      path: `/api/v1/queues/stream?token=${encodeURIComponent(token)}`, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode === 503 && retries < 10) { // Retry-After: like a client, try again shortly
        res.resume();
        open.delete(i);
        setTimeout(() => openStream(i, token, retries + 1).then(resolve, reject), 1000 + Math.random() * 1000);
        return;
      }
      if (res.statusCode !== 200) { reject(new Error(`stream ${i}: HTTP ${res.statusCode}`)); return; }
      res.setEncoding('utf8');
      let buf = '';
      let first = true;
      res.on('data', (chunk) => {
        buf += chunk;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
          const ev = /^event:(.*)$/m.exec(block)?.[1];
          const data = /^data:(.*)$/m.exec(block)?.[1];
          if (!ev) continue;
          events.total++;
          if (ev === 'position') lastPos.set(i, JSON.parse(data).position);
          if (ev === 'active') actives.push({ phase, ms: Date.now() - (Date.parse(JSON.parse(data).activeUntil) - activeTtlMs) });
          if (first) { first = false; resolve(); }
          for (const w of events.waiters) w(i);
        }
      });
      res.on('end', () => open.delete(i));
    });
    req.on('error', (e) => { open.delete(i); reject(e); });
    open.set(i, req);
  });
}

const concert = await admin('POST', '/api/v1/admin/concerts', { name: `sse-bench-${Date.now()}`, description: 'bench',
  dates: [{ startsAt: new Date(Date.now() + 30 * 864e5).toISOString().replace(/\.\d+Z$/, 'Z'), venue: `bench-hall-${Date.now()}`, seats: [{ grade: 'R', price: 1000, count: 10 }] }] });
const concertId = concert.json.concertId;
await admin('PUT', `/api/v1/admin/queues/${concertId}/policy`, { admitPerTick: 0, maxActive: 1000000 });
activeTtlMs = (await admin('GET', `/api/v1/admin/queues/${concertId}`)).json.activeTtlSeconds * 1000;
const heapBefore = await liveHeapMb();
// Signed-in fans (SPEC 11): users made and access tokens minted through the operator API before the run.
const runTag = Date.now().toString(36);
const access = await pool(N, 64, async (i) => {
  const user = await admin('POST', '/api/v1/admin/users', { username: `sse-${runTag}-${i}`, balance: 0 });
  return (await admin('POST', `/api/v1/admin/users/${user.json.userId}/access-token`)).json.accessToken;
});
let t = Date.now();
async function join(i) { // a 503 (Redis busy on a loaded machine) carries Retry-After: try again like a client
  for (let attempt = 0; ; attempt++) {
    const r = await call('POST', '/api/v1/queues/token', { concertId }, { authorization: `Bearer ${access[i]}` });
    if (r.status !== 503 || attempt >= 5) return r.json.token;
    retried++;
    await sleep(1000 + Math.random() * 1000);
  }
}
const tokens = await pool(N, 128, join);
const joinSeconds = (Date.now() - t) / 1000;
t = Date.now();
await pool(N, 200, (i) => openStream(i, tokens[i]));
const openSeconds = (Date.now() - t) / 1000;
await sleep(2000);
const serverStreams = await metric('booking.queue.streams');
console.log(JSON.stringify({ streams: N, serverStreams, joinSeconds, openSeconds, retriesAfter503: retried, concertId }));

const idle = await window('idle', HOLD);
const heapWith = await liveHeapMb();

// Fan-out delay: one operator admission of 10; time until every still-waiting stream shows its new place.
const expected = new Map();
for (const [i, p] of lastPos) if (p > 10) expected.set(i, p - 10);
const pending = new Set(expected.keys());
const delays = [];
t = Date.now();
const allSeen = new Promise((resolve) => {
  events.waiters.push((i) => {
    if (pending.has(i) && lastPos.get(i) === expected.get(i)) { pending.delete(i); delays.push(Date.now() - t); if (pending.size === 0) resolve(); }
  });
});
phase = 'fanout';
await admin('POST', `/api/v1/admin/queues/${concertId}/admit`, { count: 10 });
await Promise.race([allSeen, sleep(30000)]);
delays.sort((a, b) => a - b);
const q = (p) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))];
const fanout = { reached: delays.length, of: expected.size, p50ms: q(0.5), p99ms: q(0.99), maxms: delays[delays.length - 1] };
console.log(JSON.stringify({ fanout }));

phase = 'ticks';
await admin('PUT', `/api/v1/admin/queues/${concertId}/policy`, { admitPerTick: 20, maxActive: 1000000 });
const moving = await window('moving', HOLD);
await admin('PUT', `/api/v1/admin/queues/${concertId}/policy`, { admitPerTick: 0, maxActive: 1000000 });
// A burst: one operator admission of a larger block (a tenth of the streams, at most 500) at once.
await sleep(1500);
phase = 'burst';
const burstSize = Math.min(500, Math.floor(N / 10));
const burstBase = actives.length;
await admin('POST', `/api/v1/admin/queues/${concertId}/admit`, { count: burstSize });
for (let w = 0; w < 100 && actives.length - burstBase < burstSize; w++) await sleep(100);
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const activeStats = Object.fromEntries(['ticks', 'burst', 'all'].map((ph) => {
  const xs = actives.filter((a) => ph === 'all' || a.phase === ph).map((a) => a.ms).sort((a, b) => a - b);
  return [ph, xs.length ? { n: xs.length, p50ms: pct(xs, 0.5), p90ms: pct(xs, 0.9), p99ms: pct(xs, 0.99), maxms: xs[xs.length - 1],
    over250ms: xs.filter((x) => x > 250).length } : { n: 0 }];
}));
console.log(JSON.stringify({ admissionToActive: activeStats }));

console.log(JSON.stringify({ summary: { streams: N, loadavg: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '), heapBeforeMb: +heapBefore.toFixed(1), heapWithStreamsMb: +heapWith.toFixed(1),
  heapPerStreamKb: +(((heapWith - heapBefore) * 1024) / N).toFixed(2), idle, moving, fanout, admissionToActive: activeStats } }));
for (const req of open.values()) req.destroy();
await sleep(3000);
console.log(JSON.stringify({ afterClose: { serverStreams: await metric('booking.queue.streams') } }));
api.destroy();
process.exit(0);
