#!/usr/bin/env python3
"""Capacity of the hot endpoints under wrk (issue 10): each endpoint driven the same way as the trivial one.

Run by `bin/bench --wrk` against a service it started (or by hand against one on --base):

  python3 gatling/wrk_capacity.py --base http://127.0.0.1:8080 --out DIR --app-pid PID [--endpoints LIST]
      [--secs 5] [--warm-secs 3] [--threads 2] [--conns 64] [--db-user bench_app] [--jfr] [--users 100000]
      [--concerts 10000] [--seats-per-date 500] [--dates-per-concert 2]

Set-up through the public and operator APIs only (not measured): access tokens minted in bulk
(POST /admin/users/{id}/access-token with X-Admin-Key), concerts made for the run (a 1,000-seat date, a
50,000-seat date, a 40 x 1,000-seat concert for holds), queue passes taken by the fans and admitted by the
operator route (policy + POST /admin/queues/{id}/admit), then polled until ACTIVE. Every write is real:
holds go to distinct free seats (each fan holds at most one seat per date), pays pay distinct prepared holds
(one pass each, since paying ends a pass), cancels cancel the holds the hold run made.

On stadium data (--seats-per-date 50000: bin/seed-data's stadium-10m/50m/100m, bin/bench passes the scale's shape)
the runs address the seeded ids instead of making their own stadium: seats50k reads the first date of the last
seeded concert; holds go to 20 seeded concerts (40 dates of 50,000 seats, as many dates as the made 40 x 1,000-seat
concert has, seat numbers from 1 up the same way) that the date listing shows untouched (every seat free), looked
for among the first half of the concerts, so runs without a reset between them (bin/bench --no-seed) find fresh
ones (holds that ran out are released by the sweeper; with fewer untouched concerts the holds spread over fewer
dates, and the hold and cancel labels say how many dates); each hold fan gets a pass for one of them only; pays hold and
pay a seat each on the second half (salted per run: other concerts and seats than the last run's). seats1k still
makes its 1,000-seat date (the seeded dates have 50,000 seats).

Per endpoint: a warm-up wrk run (not recorded), then the measured one with --latency; the service's CPU from
/proc, the database's statements and commits (bin/db-counts, per account when --db-user is given), and with
--jfr a JFR recording of the measured run (jcmd JFR.start/stop) aggregated by bin/jfr-breakdown.
Writes DIR/wrk.json and prints a Markdown table.
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL = ["liveness", "dates", "seats1k", "seats50k", "hold", "pay", "cancel"]
EXTRA = ["liveness-bearer", "concerts", "concerts-bearer", "balance", "dates-hot"]
LABEL = {
    "liveness": "GET /actuator/health/liveness (trivial reference)",
    "liveness-bearer": "GET /actuator/health/liveness with a valid bearer token",
    "concerts": "GET /concerts?page=0&size=20 (public)",
    "concerts-bearer": "GET /concerts?page=0&size=20 with a valid bearer token",
    "balance": "GET /users/{id}/balance (authenticated)",
    "dates": "GET /concerts/{id}/dates",
    "dates-hot": "GET /concerts/{id}/dates, 10 concerts on sale (the opening minute)",
    "seats1k": "GET /concerts/dates/{id}/seats, 1,000-seat date",
    "seats50k": "GET /concerts/dates/{id}/seats, 50,000-seat date",
    "hold": "POST /reservations (hold)",
    "pay": "POST /payments/pay",
    "cancel": "DELETE /reservations/{id} (cancel a hold)",
}
TARGET = {"dates": 50, "dates-hot": 50, "seats1k": 20, "hold": 8, "pay": 5, "cancel": 5}


def log(msg):
    print("[wrk %s] %s" % (time.strftime("%H:%M:%S", time.gmtime()), msg), file=sys.stderr, flush=True)


class Api:
    def __init__(self, base, admin_key):
        u = urllib.parse.urlparse(base)
        self.host, self.port, self.admin_key = u.hostname, u.port or 80, admin_key
        self.local = threading.local()

    def call(self, method, path, body=None, access=None, queue=None, admin=False):
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            headers = {"Accept": "application/json"}
            if NO_IDENTITY and queue:
                access, queue = queue, None    # before identity the queue token was the bearer credential
            if access:
                headers["Authorization"] = "Bearer " + access
            if queue:
                headers["Queue-Token"] = queue
            if admin:
                headers["X-Admin-Key"] = self.admin_key
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            try:
                conn.request(method, path, body=data, headers=headers)
                r = conn.getresponse()
                raw = r.read()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                return r.status, parsed
            except (OSError, http.client.HTTPException):
                self.local.conn = None
                time.sleep(0.2)
        return -1, None


def parallel(label, items, fn, threads=32):
    t0 = time.time()
    with cf.ThreadPoolExecutor(threads) as ex:
        out = list(ex.map(fn, items))
    ok = [x for x in out if x is not None]
    log("prep %s: %d ok of %d in %.1f s" % (label, len(ok), len(items), time.time() - t0))
    return out


class Prep:
    def __init__(self, api, users, concerts):
        self.api, self.users, self.concerts = api, users, concerts
        self.access = {}
        self.unexpected = 0

    def bad(self, what, status, body):
        self.unexpected += 1
        if self.unexpected <= 5:
            log("unexpected %s: %s %s" % (what, status, json.dumps(body)[:200]))

    def identity(self):
        """False for a service from before identity (b2a80d0, issue 18's write-path yardstick): it has no access-token
        route, its fans name themselves in the queue-token body and send their queue token as the bearer token."""
        if not hasattr(self, "_identity"):
            s, _ = self.api.call("POST", "/api/v1/admin/users/1/access-token", admin=True)
            self._identity = s not in (404, 405)
            global NO_IDENTITY
            NO_IDENTITY = not self._identity
            if not self._identity:
                log("no access-token route (%s): a service from before identity; requests carry no bearer token" % s)
        return self._identity

    def tokens(self, ids):
        need = [u for u in ids if u not in self.access]
        if not self.identity():
            self.access.update({u: "" for u in need})
            return

        def mint(u):
            s, b = self.api.call("POST", "/api/v1/admin/users/%d/access-token" % u, admin=True)
            if s == 200 and b and b.get("accessToken"):
                return u, b["accessToken"]
            self.bad("access-token", s, b)
            return None
        for r in parallel("access tokens", need, mint):
            if r:
                self.access[r[0]] = r[1]

    def concert(self, name, dates, seats_per_date):
        vip, r = seats_per_date // 10, (seats_per_date * 3) // 10
        seats = [{"grade": "VIP", "price": 150000, "count": vip}, {"grade": "R", "price": 120000, "count": r},
                 {"grade": "S", "price": 90000, "count": seats_per_date - vip - r}]
        body = {"name": name, "description": "wrk capacity run",
                "dates": [{"startsAt": "2027-06-%02dT%02d:00:00Z" % (1 + i // 20, i % 20), "venue": "wrk hall",
                           "seats": seats} for i in range(dates)]}
        s, b = self.api.call("POST", "/api/v1/admin/concerts", body, admin=True)
        if s != 201:
            raise SystemExit("creating concert %s: %s %s" % (name, s, b))
        return b["concertId"], [d["concertDateId"] for d in b["dates"]]

    def passes(self, pairs):
        """ACTIVE queue passes for (user, concert) pairs: open admission, take tokens, admit, poll."""
        self.tokens(sorted({u for u, _ in pairs}))
        for c in sorted({c for _, c in pairs}):
            self.api.call("PUT", "/api/v1/admin/queues/%d/policy" % c, {"admitPerTick": 100000, "maxActive": 1000000},
                          admin=True)

        def take(pair):
            u, c = pair
            if u not in self.access:
                return None
            body = {"concertId": c} if self.identity() else {"userId": u, "concertId": c}
            s, b = self.api.call("POST", "/api/v1/queues/token", body, access=self.access[u])
            if s in (200, 201) and b and b.get("token"):
                return (u, c, b["token"], b.get("status"))
            self.bad("queue token", s, b)
            return None
        issued = [p for p in parallel("queue tokens", pairs, take) if p]
        per_concert = {}
        for u, c, t, st in issued:
            if st != "ACTIVE":
                per_concert[c] = per_concert.get(c, 0) + 1
        for c, n in per_concert.items():
            self.api.call("POST", "/api/v1/admin/queues/%d/admit" % c, {"count": n}, admin=True)
        waiting, active, deadline = issued, [], time.time() + 90
        while waiting and time.time() < deadline:
            def status(p):
                s, b = self.api.call("GET", "/api/v1/queues/status", access=self.access[p[0]], queue=p[2])
                return p, (b or {}).get("status") if s == 200 else "ERR %s" % s
            still = []
            for p, st in parallel("queue status", waiting, status):
                (active if st == "ACTIVE" else still if st == "WAITING" else []).append(p)
            waiting = still
            if waiting:
                time.sleep(0.5)
        log("prep passes: %d ACTIVE of %d asked" % (len(active), len(pairs)))
        return [(u, c, t) for u, c, t, _ in active]


def untouched_concerts(api, first, last, want, dpc):
    """Up to `want` concerts among first..last whose dpc dates the public date listing shows with every seat free."""
    found = []
    for c in range(first, last + 1):
        s, b = api.call("GET", "/api/v1/concerts/%d/dates" % c)
        ds = ((b or {}).get("dates") or []) if s == 200 else []
        if len(ds) == dpc and all(d.get("availableSeats") == d.get("totalSeats") for d in ds):
            found.append((c, sorted(d["concertDateId"] for d in ds)))
            if len(found) == want:
                break
    return found


NO_IDENTITY = False   # set by Prep.identity() for a service from before identity (b2a80d0)


def line(method, path, access="-", queue="-", body="-"):
    if NO_IDENTITY and queue and queue != "-":
        access, queue = queue, "-"     # before identity the queue token was the bearer credential
    return "\t".join([method, path, access or "-", queue or "-", body if isinstance(body, str) else json.dumps(body)])


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def cpu_secs(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


def redis_commands(port):
    """Redis's total_commands_processed (server-wide), or None when it cannot be read."""
    try:
        out = subprocess.run(["redis-cli", "-p", str(port), "info", "stats"], capture_output=True, text=True, timeout=5).stdout
        m = re.search(r"total_commands_processed:(\d+)", out)
        return int(m.group(1)) if m else None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_wrk(text):
    def num_unit(v, u):
        v = float(v)
        return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}.get(u, 1)
    out = {"raw": text}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
        out["secs"] = num_unit(m.group(2), m.group(3)) / 1000
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, text, re.M)
        out["p" + pct] = num_unit(m.group(1), m.group(2)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return out


class PoolSampler(threading.Thread):
    """R2DBC pool gauges from the Prometheus scrape every 0.5 s during a measured run (pending = acquisitions
    waiting for a connection)."""

    def __init__(self, base, admin_key):
        super().__init__(daemon=True)
        self.api = Api(base, admin_key)
        self.samples = []
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.5):
            try:
                conn = http.client.HTTPConnection(self.api.host, self.api.port, timeout=5)
                conn.request("GET", "/actuator/prometheus", headers={"X-Admin-Key": self.api.admin_key})
                text = conn.getresponse().read().decode("utf-8", "replace")
                conn.close()
            except (OSError, http.client.HTTPException):
                continue
            vals = {}
            for metric in ("r2dbc_pool_pending_connections", "r2dbc_pool_acquired_connections", "r2dbc_pool_max_allocated_connections"):
                m = re.search(r"^%s\{[^}]*\} ([\d.eE+-]+)" % metric, text, re.M)
                if m:
                    vals[metric] = float(m.group(1))
            if vals:
                self.samples.append(vals)

    def stop(self):
        self.done.set()
        self.join(timeout=6)

    def summary(self):
        if not self.samples:
            return None
        pend = [s.get("r2dbc_pool_pending_connections", 0) for s in self.samples]
        acq = [s.get("r2dbc_pool_acquired_connections", 0) for s in self.samples]
        return {"samples": len(self.samples), "pending_max": max(pend), "pending_mean": sum(pend) / len(pend),
                "acquired_mean": sum(acq) / len(acq), "max": self.samples[-1].get("r2dbc_pool_max_allocated_connections")}


class Runner:
    def __init__(self, a, out):
        self.a, self.out = a, out
        self.base = a.base
        self.results = []
        # the service's dependencies in the request path get the same weight as it while measuring
        self.boost_pids = []
        for name, cmd in (("mariadbd", ["pgrep", "-xo", "mariadbd"]),
                          ("redis", ["redis-cli", "-p", str(a.redis_port), "info", "server"])):
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
                m = re.search(r"process_id:(\d+)", out) if name == "redis" else re.match(r"(\d+)", out)
                if m:
                    self.boost_pids.append(int(m.group(1)))
            except (OSError, subprocess.SubprocessError):
                pass

    def wrk(self, name, script_file, offset, mode, secs, latency=True):
        cmd = ["wrk", "-t%d" % self.a.threads, "-c%d" % self.a.conns, "-d%ds" % secs, "--timeout", "10s"]
        if latency:
            cmd.append("--latency")
        if script_file:
            cmd += ["-s", os.path.join(ROOT, "gatling/wrk/requests.lua"), self.base + "/",
                    "--", script_file, str(offset), mode, str(self.a.threads)]
        else:
            cmd.append(self.base + "/actuator/health/liveness")
        p = subprocess.run(cmd, capture_output=True, text=True)
        return " ".join(cmd), parse_wrk(p.stdout + p.stderr)

    def measure(self, key, script_file=None, mode="wrap", warm_secs=None, secs=None, offset=0):
        a = self.a
        warm_secs = a.warm_secs if warm_secs is None else warm_secs
        secs = secs or a.secs
        self.boost(True)
        if warm_secs:
            _, w = self.wrk(key, script_file, offset, mode, warm_secs, latency=False)
            offset += w.get("requests", 0) + a.conns * 2
            log("%s warm-up: %d requests, %.0f/s, non-2xx %d" % (key, w.get("requests", 0), w["rps"], w["non2xx"]))
        load0 = open("/proc/loadavg").read().split()[:3]
        t_start = time.time()
        db_json = os.path.join(self.out, "%s.db.json" % key)
        c0 = cpu_secs(a.app_pid)
        redis0 = redis_commands(a.redis_port)
        db_cmd = [os.path.join(ROOT, "bin/db-counts"), "--json"] + (["--user", a.db_user] if a.db_user else []) + ["--"]
        # bin/db-counts runs wrk (its output to stderr, kept in a file), so the counters bracket the measured run only
        cmd_file = os.path.join(self.out, "%s.wrk.txt" % key)
        wrk_cmd = ["wrk", "-t%d" % a.threads, "-c%d" % a.conns, "-d%ds" % secs, "--timeout", "10s", "--latency"]
        if script_file:
            wrk_cmd += ["-s", os.path.join(ROOT, "gatling/wrk/requests.lua"), self.base + "/",
                        "--", script_file, str(offset), mode, str(a.threads)]
        else:
            wrk_cmd.append(self.base + "/actuator/health/liveness")
        pool = PoolSampler(self.base, a.admin_key)
        pool.start()
        with open(cmd_file, "w") as f:
            p = subprocess.run(db_cmd + wrk_cmd, stdout=subprocess.PIPE, stderr=f, text=True)
        pool.stop()
        c1 = cpu_secs(a.app_pid)
        redis1 = redis_commands(a.redis_port)
        t_end = time.time()
        self.boost(False)
        text = open(cmd_file).read()
        r = parse_wrk(text)
        try:
            r["db"] = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            r["db"] = None
        if a.jfr and a.app_pid:
            # the service records from its start (bin/bench --jfr); the measured window is cut out of it
            jfr = os.path.join(self.out, "%s.jfr" % key)
            subprocess.run(["jcmd", str(a.app_pid), "JFR.dump", "name=bench", "begin=-%ds" % (int(time.time() - t_start) + 2),
                            "filename=%s" % jfr], capture_output=True)
            bd = subprocess.run([os.path.join(ROOT, "bin/jfr-breakdown"), jfr, "--from", str(t_start), "--to", str(t_end),
                                 "--title", "%s (%s)" % (LABEL.get(key, key), key)], capture_output=True, text=True)
            r["jfr"] = jfr
            r["breakdown"] = bd.stdout
            with open(os.path.join(self.out, "%s.breakdown.md" % key), "w") as f:
                f.write(bd.stdout + bd.stderr)
        r.pop("raw", None)
        r.update({"pool": pool.summary(), "t_start": t_start, "t_end": t_end, "key": key, "label": LABEL.get(key, key), "command": " ".join(wrk_cmd), "offset": offset,
                  "app_cpu_s": round(c1 - c0, 2), "load_before": " ".join(load0),
                  "load_after": " ".join(open("/proc/loadavg").read().split()[:3])})
        n = r.get("requests") or 0
        r["app_cpu_us_per_req"] = round((c1 - c0) * 1e6 / n, 1) if n else None
        # server-wide, so background work (admission ticks, relays) is in it too: a request's share, not an exact count
        r["redis_cmds_per_req"] = round((redis1 - redis0) / n, 2) if n and redis0 is not None and redis1 is not None else None
        log("%s: %d requests, %.0f/s, p50 %s ms, p99 %s ms, non-2xx %d, socket errors %d, app CPU %.0f us/req, load %s"
            % (key, n, r["rps"], r["p50"], r["p99"], r["non2xx"], r["socket_errors"], r["app_cpu_us_per_req"] or 0,
               r["load_before"]))
        self.results.append(r)
        with open(os.path.join(self.out, "wrk.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        return r

    def boost(self, on):
        """--cpu-boost: the machine is shared and the kernel shares CPU per session (autogroup), so the service
        and wrk (one session) get 1/N of the cores whatever their nice value. During warm-up and measurement
        only, the session's autogroup gets a higher weight (nice --cpu-boost), then it is put back to 0."""
        if not self.a.cpu_boost or not self.a.app_pid:
            return
        for pid in [self.a.app_pid] + self.boost_pids:
            try:
                with open("/proc/%d/autogroup" % pid, "w") as f:
                    f.write(str(self.a.cpu_boost if on else 0))
            except OSError as e:
                log("cpu boost not possible for pid %d: %s" % (pid, e))

    def hey_rate(self, key, path, access, queue, rate, secs):
        """Latency at a fixed offered rate (issue 10: 50,000-seat map p99 < 100 ms at 1,000 req/s): hey with
        workers each limited to rate/workers requests per second (a closed loop that reaches the rate only while
        latency stays under workers/rate)."""
        workers = 100
        cmd = ["hey", "-z", "%ds" % secs, "-c", str(workers), "-q", "%g" % (rate / workers), "-t", "10",
               "-H", "Authorization: Bearer " + access, "-H", "Queue-Token: " + queue, "-H", "Accept: application/json",
               self.base + path]
        load0 = open("/proc/loadavg").read().split()[:3]
        self.boost(True)
        c0 = cpu_secs(self.a.app_pid)
        p = subprocess.run(cmd, capture_output=True, text=True)
        c1 = cpu_secs(self.a.app_pid)
        self.boost(False)
        t = p.stdout
        with open(os.path.join(self.out, "%s.hey.txt" % key), "w") as f:
            f.write(t + p.stderr)

        def pick(pat):
            m = re.search(pat, t)
            return float(m.group(1)) if m else None
        n_ok = sum(int(x) for x in re.findall(r"\[200\]\s+(\d+) responses", t))
        n_all = sum(int(x) for x in re.findall(r"\[\d+\]\s+(\d+) responses", t))
        r = {"key": key, "label": LABEL["seats50k"] + " at %d req/s offered (hey)" % rate, "rps": pick(r"Requests/sec:\s+([\d.]+)") or 0,
             "p50": (pick(r"50%+ in ([\d.]+) secs") or 0) * 1000, "p99": (pick(r"99%+ in ([\d.]+) secs") or 0) * 1000,
             "requests": n_all, "non2xx": n_all - n_ok, "socket_errors": len(re.findall(r"Error distribution", t)),
             "command": " ".join(cmd[:8] + ["-H 'Authorization: Bearer ...' -H 'Queue-Token: ...'", self.base + path]),
             "load_before": " ".join(load0), "app_cpu_s": round(c1 - c0, 2),
             "app_cpu_us_per_req": round((c1 - c0) * 1e6 / n_all, 1) if n_all else None, "db": None}
        log("%s: %d requests at %.0f/s, p50 %.1f ms, p99 %.1f ms, non-2xx %d" % (key, n_all, r["rps"], r["p50"], r["p99"], r["non2xx"]))
        self.results.append(r)
        with open(os.path.join(self.out, "wrk.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8080")
    ap.add_argument("--admin-key", default="dev-admin-key")
    ap.add_argument("--out", required=True)
    ap.add_argument("--app-pid", type=int, default=0)
    ap.add_argument("--endpoints", default=",".join(ALL))
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--warm-secs", type=int, default=3)
    ap.add_argument("--liveness-warm-secs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--users", type=int, default=100000, help="seeded users 1..N")
    ap.add_argument("--concerts", type=int, default=10000, help="seeded concerts 1..N")
    ap.add_argument("--seats-per-date", type=int, default=500, help="seeded seats per date (50000: stadium data, see above)")
    ap.add_argument("--dates-per-concert", type=int, default=2, help="seeded dates per concert (concert c: dates (c-1)*n+1 .. c*n)")
    ap.add_argument("--db-user", default="")
    ap.add_argument("--redis-port", type=int, default=int(os.environ.get("BOOKING_REDIS_PORT", "6379")))
    ap.add_argument("--jfr", action="store_true", help="the service runs a JFR recording named 'bench' (bin/bench --jfr)")
    ap.add_argument("--cpu-boost", type=int, default=0, help="autogroup nice of the service's session while measuring (e.g. -10)")
    ap.add_argument("--pays", type=int, default=6000, help="prepared holds to pay")
    ap.add_argument("--rate50k", type=int, default=1000, help="offered rate for the 50,000-seat map latency run (0: skip)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    stadium = a.seats_per_date >= 50000
    dpc = a.dates_per_concert
    salt = int.from_bytes(os.urandom(4), "big")
    if stadium:
        LABEL["seats50k"] = "GET /concerts/dates/{id}/seats, seeded 50,000-seat date"
        for k in ("hold", "cancel"):
            LABEL[k] += ", seeded 50,000-seat dates"
    keys = [k for k in a.endpoints.split(",") if k]
    for k in keys:
        if k not in ALL + EXTRA:
            raise SystemExit("unknown endpoint %s (known: %s)" % (k, ", ".join(ALL + EXTRA)))
    api = Api(a.base, a.admin_key)
    prep = Prep(api, a.users, a.concerts)
    run = Runner(a, a.out)
    files = {}
    t0 = time.time()

    # ---- set-up: fans, concerts, passes
    read_users = list(range(1, 513))
    # 3,999 fans (prime to the 40 dates: one hold per fan per date): at most 4 seats of a concert per fan (SPEC 4.13), so
    # up to ~16,000 holds before a fan reaches the limit (2,003 fans ran into it after ~8,000 holds on a quiet machine)
    hold_users = list(range(1001, 5000))
    pay_users = list(range(5001, 5001 + a.pays))
    prep.tokens(read_users + (hold_users if {"hold", "cancel"} & set(keys) else []))
    if any(k in keys for k in ("dates",)):
        files["dates"] = write_lines(os.path.join(a.out, "dates.tsv"),
                                     [line("GET", "/api/v1/concerts/%d/dates" % (1 + (i * 7919) % a.concerts)) for i in range(20000)])
    if "dates-hot" in keys:
        # The opening minute: every fan asks for the dates of the few concerts on sale, so their listings stay cached.
        files["dates-hot"] = write_lines(os.path.join(a.out, "dates-hot.tsv"),
                                         [line("GET", "/api/v1/concerts/%d/dates" % (1 + i % 10)) for i in range(1000)])
    if "concerts" in keys or "concerts-bearer" in keys:
        files["concerts"] = write_lines(os.path.join(a.out, "concerts.tsv"),
                                        [line("GET", "/api/v1/concerts?page=%d&size=20" % (i % 50)) for i in range(1000)])
        files["concerts-bearer"] = write_lines(os.path.join(a.out, "concerts-bearer.tsv"),
                                               [line("GET", "/api/v1/concerts?page=%d&size=20" % (i % 50), prep.access[read_users[i % 512]]) for i in range(1000)])
    if "liveness-bearer" in keys:
        files["liveness-bearer"] = write_lines(os.path.join(a.out, "liveness-bearer.tsv"),
                                               [line("GET", "/actuator/health/liveness", prep.access[u]) for u in read_users])
    if "balance" in keys:
        files["balance"] = write_lines(os.path.join(a.out, "balance.tsv"),
                                       [line("GET", "/api/v1/users/%d/balance" % u, prep.access[u]) for u in read_users])
    for key, seats in (("seats1k", 1000), ("seats50k", 50000)):
        if key in keys:
            if key == "seats50k" and stadium:
                cid, dates = a.concerts, [(a.concerts - 1) * dpc + 1]
                log("seats50k: seeded date %d of concert %d" % (dates[0], cid))
            else:
                cid, dates = prep.concert("wrk %s %d" % (key, int(time.time())), 1, seats)
            ps = prep.passes([(u, cid) for u in read_users])
            files[key] = write_lines(os.path.join(a.out, key + ".tsv"),
                                     [line("GET", "/api/v1/concerts/dates/%d/seats" % dates[0], prep.access[u], t) for u, _, t in ps])
            files[key + ".one"] = (("/api/v1/concerts/dates/%d/seats" % dates[0]), prep.access[ps[0][0]], ps[0][2])
    hold_dates, hold_passes = [], []
    if ("hold" in keys or "cancel" in keys) and stadium:
        # Seeded concerts with every seat free; fans in as many groups, each group holding in its own concert.
        found = untouched_concerts(api, 1, max(1, a.concerts // 2), max(1, 40 // dpc), dpc)
        if not found:
            raise SystemExit("hold: no seeded concert among 1..%d has every seat free (reset the data: bin/seed-data --reset-state)"
                             % max(1, a.concerts // 2))
        log("hold: seeded concerts %s (%d dates), every seat free" % (",".join(str(c) for c, _ in found), len(found) * dpc))
        if len(found) < max(1, 40 // dpc):
            log("hold: only %d of the %d concerts wanted are untouched (earlier runs' holds are released 5 minutes after"
                " they were made; bin/seed-data --reset-state frees all): the holds spread over fewer dates" % (len(found), 40 // dpc))
        for k in ("hold", "cancel"):
            LABEL[k] += " (%d dates)" % (len(found) * dpc)
        groups = [hold_users[g::len(found)] for g in range(len(found))]
        hold_passes = prep.passes([(u, found[g][0]) for g in range(len(found)) for u in groups[g]])
        by_user = {u: t for u, _, t in hold_passes}
        hold_dates = [d for _, ds in found for d in ds]
        lines, D = [], len(hold_dates)
        for i in range(D * 1000):
            d, j = i % D, i // D
            group = groups[d // dpc]
            u = group[(j * dpc + d % dpc) % len(group)]
            if u in by_user:
                lines.append(line("POST", "/api/v1/reservations", prep.access[u], by_user[u],
                                  {"userId": u, "concertDateId": hold_dates[d], "seatNumber": j + 1}))
        files["hold"] = write_lines(os.path.join(a.out, "hold.tsv"), lines)
    elif "hold" in keys or "cancel" in keys:
        hcid, hold_dates = prep.concert("wrk holds %d" % int(time.time()), 40, 1000)
        hold_passes = prep.passes([(u, hcid) for u in hold_users])
        by_user = {u: t for u, _, t in hold_passes}
        lines, D, U = [], len(hold_dates), len(hold_users)
        for i in range(D * 1000):
            u = hold_users[i % U]
            if u in by_user:
                lines.append(line("POST", "/api/v1/reservations", prep.access[u], by_user[u],
                                  {"userId": u, "concertDateId": hold_dates[i % D], "seatNumber": i // D + 1}))
        files["hold"] = write_lines(os.path.join(a.out, "hold.tsv"), lines)
    if "pay" in keys:
        # one pass and one hold per payment (paying ends the pass): seeded concerts 201-400, a seat each; on stadium
        # data the second half of the concerts but the last, concert and seat salted per run
        if stadium:
            first = a.concerts // 2 + 1
            span, pay_salt = max(1, a.concerts - 1 - first + 1), salt
        else:
            first, span, pay_salt = 201, max(1, min(200, a.concerts - 400)), 0
        pairs = [(u, first + (u * 7919 + pay_salt) % span) for u in pay_users]
        ps = prep.passes(pairs)

        def hold_one(p):
            u, c, t = p
            for attempt in range(8):
                date = (c - 1) * dpc + 1 + (attempt + u) % dpc
                seat = 1 + (u * 31 + attempt * 97 + pay_salt) % a.seats_per_date
                s, b = api.call("POST", "/api/v1/reservations", {"userId": u, "concertDateId": date, "seatNumber": seat},
                                access=prep.access[u], queue=t)
                if s == 201:
                    return line("POST", "/api/v1/payments/pay", prep.access[u], t, {"reservationId": b["reservationId"], "userId": u})
                if s != 409:
                    prep.bad("pay set-up hold", s, b)
                    return None
            return None
        files["pay"] = write_lines(os.path.join(a.out, "pay.tsv"), [x for x in parallel("holds to pay", ps, hold_one) if x])
    log("set-up done in %.0f s" % (time.time() - t0))

    # ---- measured runs, the trivial endpoint first (JIT-warmed)
    for key in keys:
        if key == "liveness":
            run.measure(key, None, warm_secs=a.liveness_warm_secs)
        elif key in ("dates", "dates-hot", "seats1k", "seats50k", "concerts", "concerts-bearer", "liveness-bearer", "balance"):
            run.measure(key, files[key])
            if key == "seats50k" and a.rate50k:
                path, acc, q = files["seats50k.one"]
                run.hey_rate("seats50k@%d" % a.rate50k, path, acc, q, a.rate50k, max(a.secs, 10))
        elif key == "hold":
            run.measure(key, files["hold"], mode="once")
        elif key == "pay":
            run.measure(key, files["pay"], mode="once", warm_secs=1)
        elif key == "cancel":
            # the holds the hold run made (or, without one, fresh holds), listed through the fans' own API
            if "hold" not in keys:
                n = 0
                for path_line in open(files["hold"]).read().splitlines()[:6000]:
                    m, path, acc, q, body = path_line.split("\t")
                    n += api.call("POST", path, json.loads(body), access=acc, queue=q)[0] == 201
                log("prep cancel: %d fresh holds" % n)

            def held(u):
                s, b = api.call("GET", "/api/v1/reservations/%d" % u, access=prep.access[u])
                if s != 200 or not isinstance(b, list):
                    return []
                return [line("DELETE", "/api/v1/reservations/%d?userId=%d" % (r["reservationId"], u), prep.access[u])
                        for r in b if r.get("status") == "HELD" and r.get("concertDateId") in set(hold_dates)]
            cancels = [x for lst in parallel("held reservations", hold_users, held) for x in lst]
            cancels.sort(key=lambda s: hash(s) & 0xffff)
            files["cancel"] = write_lines(os.path.join(a.out, "cancel.tsv"), cancels)
            log("cancel: %d holds to cancel" % len(cancels))
            run.measure(key, files["cancel"], mode="once", warm_secs=1)

    # ---- table
    live = next((r for r in run.results if r["key"] == "liveness"), None)
    print(markdown(run.results, live))
    for r in run.results:
        if r.get("breakdown"):
            print("\n" + r["breakdown"].rstrip())


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float) and v >= 100:
        return "{:,.0f}".format(v)
    return ("{:,.%df}" % nd).format(v) if isinstance(v, float) else "{:,}".format(v)


def markdown(results, live):
    out = ["| endpoint | requests | req/s | p50 ms | p99 ms | non-2xx | ratio to liveness | issue 10 target | app CPU µs/req "
           "| Redis commands/req | DB statements/req | COMMITs/req | fsyncs/req | DB CPU µs/req | DB busy µs/req | pool in use (mean) / waiting (max) | load avg (1/5/15 min) |",
           "|---|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|---:|:-:|---|"]
    for r in results:
        if r["key"] == "liveness":
            live = r  # ratios to the trivial endpoint measured last before (repeated pairs in one run)
        n = r.get("requests") or 0
        db = (r.get("db") or {}).get("delta", {})
        stm = com = fs = busy = dbcpu = None
        if n and db:
            if "u.select_commands" in db:
                stm = (db["u.select_commands"] + db["u.update_commands"] + db["u.other_commands"]) / n
                busy = db["u.busy_time_s"] * 1e6 / n
                dbcpu = db["u.cpu_time_s"] * 1e6 / n
            else:
                stm = db.get("g.questions", 0) / n
            com = db.get("g.com_commit", 0) / n
            fs = db.get("g.innodb_data_fsyncs", 0) / n
        pool = r.get("pool") or {}
        pool_s = "%.0f / %.0f" % (pool["acquired_mean"], pool["pending_max"]) if pool else "-"
        ratio = r["rps"] / live["rps"] * 100 if live and live["rps"] and r["key"] != "liveness" else (100.0 if r["key"] == "liveness" else None)
        tgt = TARGET.get(r["key"])
        tgt_s = "-" if tgt is None else ("%d %%: %s" % (tgt, "met" if ratio is not None and ratio >= tgt else "missed"))
        if r["key"].startswith("seats50k@"):
            tgt_s = "p99 < 100 ms: %s" % ("met" if r["p99"] < 100 and r["rps"] >= 0.95 * float(r["key"].split("@")[1]) else "missed")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["label"], fmt(n), fmt(r["rps"], 0), fmt(r["p50"]), fmt(r["p99"]), fmt(r["non2xx"] + r.get("socket_errors", 0)),
            "-" if ratio is None else "%.1f %%" % ratio, tgt_s, fmt(r.get("app_cpu_us_per_req"), 0),
            fmt(r.get("redis_cmds_per_req"), 2), fmt(stm, 2), fmt(com, 2), fmt(fs, 2), fmt(dbcpu, 0), fmt(busy, 0), pool_s, r.get("load_before", "-")))
    return "\n".join(out)


if __name__ == "__main__":
    main()
