// What the Node bench scripts (bin/sse-bench.mjs, bin/sse-heap.mjs, bin/queue-scale/streams.mjs) share: their
// --name value arguments, a JSON client of the service's API over a keep-alive pool (with the operator's key for the
// admin API), and a bounded pool of concurrent tasks.
import http from 'node:http';

/** `--name value` pairs of the command line as an object. */
export function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(argv.reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A JSON client of `base` (a URL): call(method, path, body, headers) resolves { status, json } (json null for an
 * empty body; with jsonObjectsOnly, also for a body that is not a JSON object), 30 s per request; admin() adds the
 * X-Admin-Key. Requests share one keep-alive agent of maxSockets connections (destroy() closes it).
 */
export function apiClient(base, { maxSockets = 64, adminKey = 'dev-admin-key', jsonObjectsOnly = false } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  function call(method, path, body, headers = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ host: base.hostname, port: base.port, path, method, agent, timeout: 30000,
        headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode,
          json: text && (!jsonObjectsOnly || text[0] === '{') ? JSON.parse(text) : null }));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      if (data) req.write(data);
      req.end();
    });
  }
  const admin = (method, path, body) => call(method, path, body, { 'x-admin-key': adminKey });
  return { agent, call, admin, destroy: () => agent.destroy() };
}

/** Runs fn(0..n-1) with at most `concurrency` at a time; resolves their results in order. */
export async function pool(n, concurrency, fn) {
  const out = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) { const i = next++; out[i] = await fn(i); }
  }));
  return out;
}
