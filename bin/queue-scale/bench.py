#!/usr/bin/env python3
"""One concert's waiting queue at growing sizes (driven by bin/queue-scale-bench, which starts Redis and the app).

For each size N: empty the private Redis, write N waiting fans straight into the concert's queue keys (the same
structures join.lua writes: wait ZSET user -> arrival seq, seen ZSET user -> presence ms, entry HASH user -> UUIDv7
entry id, seq counter), pipelined through redis-cli --pipe; then measure with wrk
  - join:   POST /api/v1/queues/token by JOINERS real users (real accounts, real access tokens), who land behind the N,
  - status: GET /api/v1/queues/status with those users' queue tokens (positions ~N: the deepest ZRANK),
  - Redis memory per waiting fan: INFO used_memory after the seeding minus before, divided by N,
  - the Redis-side cost of the queue scripts (INFO commandstats, usec per EVALSHA) during each phase,
  - the admission pass: booking_queue_tick_seconds from the app's /actuator/prometheus during a window in which
    the queue admits admitPerTick fans per tick (actives expire after 1 s, so every pass admits and sweeps).
Prints one JSON line per size and a Markdown table at the end.
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid

BASE = os.environ["BASE"]
REDIS_PORT = os.environ["REDIS_PORT"]
DB = os.environ["DB"]
ADMIN = os.environ.get("ADMIN_KEY", "dev-admin-key")
OUT = os.environ["OUT"]
JOINERS = int(os.environ.get("JOINERS", "2000"))
DURATION = os.environ.get("DURATION", "5s")
CONNS = os.environ.get("CONNS", "8")
THREADS = os.environ.get("THREADS", "2")
TICK_WINDOW = int(os.environ.get("TICK_WINDOW", "6"))
ADMIT_PER_TICK = int(os.environ.get("ADMIT_PER_TICK", "500"))
FILLER_BASE = 1_000_000_000  # seeded fans' user ids: far above any real account (they never call the API)


def log(msg):
    print(f"[queue-scale] {msg}", file=sys.stderr, flush=True)


def call(method, path, body=None, headers=None, admin=False):
    data = None if body is None else json.dumps(body).encode()
    h = dict(headers or {})
    if data is not None:
        h["Content-Type"] = "application/json"
    if admin:
        h["X-Admin-Key"] = ADMIN
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
        return json.loads(text) if text and text[0] in "{[" else text


def redis(*args):
    return subprocess.run(["redis-cli", "-p", REDIS_PORT, *map(str, args)], check=True, capture_output=True, text=True).stdout


def info(section):
    return dict(line.split(":", 1) for line in redis("INFO", section).splitlines() if ":" in line and not line.startswith("#"))


def evalsha_stats():
    s = info("commandstats")
    calls, usec = 0, 0
    for cmd in ("cmdstat_evalsha", "cmdstat_eval"):
        if cmd in s:
            m = dict(kv.split("=") for kv in s[cmd].split(","))
            calls += int(m["calls"])
            usec += int(m["usec"])
    return calls, usec


def resp(*parts):
    out = [f"*{len(parts)}\r\n"]
    for p in parts:
        b = str(p)
        out.append(f"${len(b.encode())}\r\n{b}\r\n")
    return "".join(out)


def seed(concert, n):
    """N waiting fans, exactly as join.lua leaves them: arrival seq 1..N, presence now, a UUIDv7 entry id each."""
    key = lambda part: f"queue:{{concert:{concert}}}:{part}"
    now_ms = int(time.time() * 1000)
    started = time.time()
    proc = subprocess.Popen(["redis-cli", "-p", REDIS_PORT, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    batch = 1000
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        wait, seen, entry = ["ZADD", key("wait")], ["ZADD", key("seen")], ["HSET", key("entry")]
        for i in range(lo, hi):
            u = FILLER_BASE + i
            wait += [i + 1, u]
            seen += [now_ms, u]
            r = uuid.uuid4().int
            high = (now_ms << 16) | 0x7000 | ((r >> 64) & 0x0FFF)
            entry += [u, str(uuid.UUID(int=(high << 64) | (r & ((1 << 64) - 1))))]
        proc.stdin.write(resp(*wait) + resp(*seen) + resp(*entry))
    proc.stdin.write(resp("SET", key("seq"), n))
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait()
    if "errors: 0" not in out:
        raise SystemExit(f"seeding failed: {out}")
    return time.time() - started


def mint(user_id):
    return call("POST", f"/api/v1/admin/users/{user_id}/access-token", admin=True)["accessToken"]


def wrk(script, env, duration=DURATION, conns=CONNS):
    cmd = ["nice", "-n", "5", "wrk", "-t", THREADS, "-c", str(conns), "-d", duration, "--timeout", "5s", "-s", script, BASE]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **env}).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    result["rps"] = round(result["requests"] / result["seconds"])
    return result


def scrape():
    text = call("GET", "/actuator/prometheus")
    vals = {}
    for name in ("booking_queue_tick_seconds_count", "booking_queue_tick_seconds_sum", "booking_queue_tick_seconds_max",
                 "booking_queue_admissions_total"):
        m = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", text, re.M)
        vals[name] = float(m.group(1)) if m else 0.0
    buckets = {float(le) if le != "+Inf" else float("inf"): float(v) for le, v in
               re.findall(r'^booking_queue_tick_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} ([0-9.eE+-]+)$', text, re.M)}
    vals["buckets"] = buckets
    return vals


def queue_view(concert):
    return call("GET", f"/api/v1/admin/queues/{concert}", admin=True)


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [10_000, 100_000, 1_000_000]
    tag = str(int(time.time()))
    here = os.path.dirname(os.path.abspath(__file__))

    concert = call("POST", "/api/v1/admin/concerts", admin=True, body={
        "name": f"queue-scale-{tag}", "description": "bench",
        "dates": [{"startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400)),
                   "venue": f"scale-hall-{tag}", "seats": [{"grade": "R", "price": 1000, "count": 10}]}]})["concertId"]
    log(f"concert {concert}")

    # Real accounts for the measured fans, in one INSERT; access tokens minted by the operator endpoint.
    subprocess.run(["mariadb", "-ubooking", "-pbooking", "-h127.0.0.1", DB, "-e",
                    f"INSERT INTO users (username, balance) SELECT CONCAT('qscale-{tag}-', seq), 0 FROM seq_1_to_{JOINERS}"],
                   check=True)
    ids = [int(x) for x in subprocess.run(["mariadb", "-ubooking", "-pbooking", "-h127.0.0.1", DB, "-N", "-e",
                                           f"SELECT id FROM users WHERE username LIKE 'qscale-{tag}-%' ORDER BY id"],
                                          check=True, capture_output=True, text=True).stdout.split()]
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bearers = list(pool.map(mint, ids))
    log(f"{len(bearers)} access tokens minted in {time.time() - started:.1f}s")
    tokens_file = os.path.join(OUT, "tokens.txt")
    with open(tokens_file, "w") as f:
        f.write("\n".join(bearers) + "\n")

    # Warm-up on an empty queue (JIT, connection pools), then the sizes.
    call("PUT", f"/api/v1/admin/queues/{concert}/policy", admin=True,
         body={"admitPerTick": 0, "maxActive": 1_000_000, "waitingTimeoutSeconds": 86400})
    wrk(os.path.join(here, "join.lua"), {"CONCERT": str(concert), "TOKENS": tokens_file}, duration=os.environ.get("WARMUP", "12s"))

    machine = {"cores": os.cpu_count(), "redis": info("server").get("redis_version"), "joiners": JOINERS,
               "wrk": f"-t{THREADS} -c{CONNS} -d{DURATION}"}
    log(f"machine {machine}")
    rows = []
    for n in sizes:
        redis("FLUSHALL")  # the app restores the concert's policy from the database (NOPOLICY path)
        time.sleep(1.5)
        # Paused while join and status are measured, so the queue keeps its size; no idle drops.
        call("PUT", f"/api/v1/admin/queues/{concert}/policy", admin=True,
             body={"admitPerTick": 0, "maxActive": 1_000_000, "waitingTimeoutSeconds": 86400})
        time.sleep(1.5)
        mem0 = int(info("memory")["used_memory"])
        seed_s = seed(concert, n)
        mem1 = int(info("memory")["used_memory"])
        log(f"N={n}: seeded in {seed_s:.1f}s, used_memory {mem0} -> {mem1}")

        c0 = evalsha_stats()
        join = wrk(os.path.join(here, "join.lua"), {"CONCERT": str(concert), "TOKENS": tokens_file})
        c1 = evalsha_stats()
        join["redis_script_us"] = round((c1[1] - c0[1]) / max(1, c1[0] - c0[0]), 1)
        log(f"N={n}: join {join}")

        # Queue tokens of the measured fans (a re-join reports the live token), for status.
        def ticket(b):
            return call("POST", "/api/v1/queues/token", body={"concertId": concert}, headers={"Authorization": "Bearer " + b})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            tickets = list(pool.map(ticket, bearers[:2000]))
        positions = [t.get("position") or 0 for t in tickets]
        pairs_file = os.path.join(OUT, "pairs.txt")
        with open(pairs_file, "w") as f:
            f.write("\n".join(f"{b} {t['token']}" for b, t in zip(bearers, tickets)) + "\n")
        c0 = evalsha_stats()
        status = wrk(os.path.join(here, "status.lua"), {"PAIRS": pairs_file})
        c1 = evalsha_stats()
        status["redis_script_us"] = round((c1[1] - c0[1]) / max(1, c1[0] - c0[0]), 1)
        status["positions"] = [min(positions), max(positions)]
        log(f"N={n}: status {status}")

        # The admission pass while admitting: admitPerTick per tick, actives living 1 s (so each pass also expires).
        call("PUT", f"/api/v1/admin/queues/{concert}/policy", admin=True,
             body={"admitPerTick": ADMIT_PER_TICK, "maxActive": 1_000_000, "activeTtlSeconds": 1, "waitingTimeoutSeconds": 86400})
        time.sleep(1.2)
        s0, c0 = scrape(), evalsha_stats()
        w0 = queue_view(concert)["waiting"]
        time.sleep(TICK_WINDOW)
        s1, c1 = scrape(), evalsha_stats()
        w1 = queue_view(concert)["waiting"]
        call("PUT", f"/api/v1/admin/queues/{concert}/policy", admin=True,
             body={"admitPerTick": 0, "maxActive": 1_000_000, "waitingTimeoutSeconds": 86400})
        passes = s1["booking_queue_tick_seconds_count"] - s0["booking_queue_tick_seconds_count"]
        over = {le: s1["buckets"].get(le, 0) - s0["buckets"].get(le, 0) for le in s1["buckets"]}
        p99_bucket = next((le for le in sorted(over) if over[le] >= 0.99 * passes), None)
        tick = {"passes": int(passes),
                "mean_ms": round(1000 * (s1["booking_queue_tick_seconds_sum"] - s0["booking_queue_tick_seconds_sum"]) / max(1, passes), 2),
                # Micrometer's max decays over minutes and carries earlier sizes' passes: for reference only.
                "max_ms_rolling": round(1000 * s1["booking_queue_tick_seconds_max"], 2),
                "p99_le_ms": None if p99_bucket is None else (p99_bucket * 1000 if p99_bucket != float("inf") else "inf"),
                "admitted": int(s1["booking_queue_admissions_total"] - s0["booking_queue_admissions_total"]),
                "waiting_before": w0, "waiting_after": w1,
                "redis_script_us": round((c1[1] - c0[1]) / max(1, c1[0] - c0[0]), 1)}
        log(f"N={n}: tick {tick}")
        row = {"load_avg_1m": os.getloadavg()[0], "waiting": n, "seed_seconds": round(seed_s, 1), "used_memory_before": mem0, "used_memory_after": mem1,
               "bytes_per_fan": round((mem1 - mem0) / n, 1), "join": join, "status": status, "tick": tick, "machine": machine}
        print(json.dumps(row), flush=True)
        rows.append(row)

    print()
    print(f"Machine: {machine['cores']} cores, Redis {machine['redis']}; wrk {machine['wrk']}; {JOINERS} measured fans; "
          f"load average (1 min) at each size: {[r['load_avg_1m'] for r in rows]}.")
    print()
    print("| waiting | Redis bytes/fan | join p50 / p99 ms (rps) | status p50 / p99 ms (rps) | script us join / status | "
          "admission pass mean ms / p99 bucket ms (admitted/s) | Redis us per admit-script call |")
    print("|---:|---:|---|---|---|---|---:|")
    for r in rows:
        j, s, t = r["join"], r["status"], r["tick"]
        print(f"| {r['waiting']:,} | {r['bytes_per_fan']} | {j['p50_ms']} / {j['p99_ms']} ({j['rps']}) | "
              f"{s['p50_ms']} / {s['p99_ms']} ({s['rps']}) | {j['redis_script_us']} / {s['redis_script_us']} | "
              f"{t['mean_ms']} / <= {t['p99_le_ms']} ({round(t['admitted'] / TICK_WINDOW)}) | {t['redis_script_us']} |")


if __name__ == "__main__":
    main()
