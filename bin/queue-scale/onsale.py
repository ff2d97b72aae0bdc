#!/usr/bin/env python3
"""The opening of a scheduled sale at growing cohort sizes (driven by bin/onsale-bench, which starts Redis and the app).

For each size N, on a private Redis emptied first:
  1. a concert with a sale whose pre-queue is open and whose opening is an hour away; its seed is drawn (GET sale)
     and read from the database (the bench needs it to write the cohort the way join.lua does);
  2. STREAMS real fans join through the API (PREQUEUE) and N filler fans are written straight into the cohort
     (cohort ZSET digest..user, seen, entry "id|digest"), pipelined; Redis memory per member = used_memory delta / N;
  3. the real fans' streams are opened (asyncio, one connection each) and wait in the countdown (event: prequeue);
  4. Redis logs every command from here on (SLOWLOG, threshold 0), and the operator brings the opening forward to a
     few seconds away (PUT /admin/concerts/{id}/sale);
  5. measured: when the cohort was frozen (the sale hash's "opened" time, Redis clock) against opensAt; the longest
     single Redis call from just before the opening until every stream has its place, and the longest admission
     step; the time from opensAt until each stream received its position (client clock = Redis clock here: same
     machine), p50/p99/max and how many never did.
Prints one JSON line per size and a Markdown table at the end.
"""
import asyncio
import concurrent.futures
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BASE, DB, REDIS_PORT, call, redis, resp  # noqa: E402  (the queue bench's helpers: same service, same Redis)

HOST, PORT = BASE.split("//")[1].split(":")
PORT = int(PORT)
STREAMS = int(os.environ.get("STREAMS", "2000"))
LEAD_S = float(os.environ.get("LEAD_SECS", "8"))
FILLER_BASE = 2_000_000_000  # filler fans' user ids: far above any real account (they never call the API)


def log(msg):
    print(f"[onsale-bench] {msg}", file=sys.stderr, flush=True)


def redis_ms():
    sec, usec = redis("TIME").split()
    return int(sec) * 1000 + int(usec) // 1000


def used_memory():
    return int(dict(l.split(":", 1) for l in redis("INFO", "memory").splitlines() if ":" in l)["used_memory"])


def sql(query):
    return subprocess.run(["mariadb", "-ubooking", "-pbooking", "-h127.0.0.1", DB, "-N", "-e", query],
                          check=True, capture_output=True, text=True).stdout


def fill(concert, seed, n):
    """N pre-queue members exactly as join.lua writes them."""
    key = lambda part: f"queue:{{concert:{concert}}}:{part}"
    now_ms = redis_ms()
    started = time.time()
    proc = subprocess.Popen(["redis-cli", "-p", REDIS_PORT, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for lo in range(0, n, 1000):
        cohort, seen, entry = ["ZADD", key("cohort")], ["ZADD", key("seen")], ["HSET", key("entry")]
        for i in range(lo, min(n, lo + 1000)):
            u = FILLER_BASE + i
            d = hmac.new(seed, str(u).encode(), hashlib.sha256).hexdigest()
            cohort += [0, d + str(u)]
            seen += [now_ms, u]
            entry += [u, f"{uuid.uuid4()}|{d}"]
        proc.stdin.write(resp(*cohort) + resp(*seen) + resp(*entry))
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait()
    if "errors: 0" not in out:
        raise SystemExit(f"filling failed: {out}")
    return time.time() - started


async def watch(token, opened, prequeued):
    """One stream: the time (ms, epoch) its first position arrives, or None."""
    for attempt in range(20):  # a busy service answers 503 with Retry-After: try again, as a fan's page does
        reader, writer = await asyncio.open_connection(HOST, PORT)
        writer.write(f"GET /api/v1/queues/stream?token={token} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        if b" 200 " in await reader.readline():
            break
        writer.close()
        await asyncio.sleep(1 + attempt)
    else:
        if not prequeued.done():
            prequeued.set_result(False)
        return None
    try:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        buf = b""
        while True:
            size_line = await reader.readline()
            if not size_line:
                return None
            size = int(size_line.strip() or b"0", 16)
            if size == 0:
                return None
            buf += (await reader.readexactly(size + 2))[:-2]
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                if b"event:prequeue" in event and not prequeued.done():
                    prequeued.set_result(True)
                if (b"event:position" in event or b"event:active" in event) and opened.done():
                    return int(time.time() * 1000)
    finally:
        writer.close()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else None


async def open_streams(tokens, concert, opens_at_holder):
    opened = asyncio.get_running_loop().create_future()
    prequeued = [asyncio.get_running_loop().create_future() for _ in tokens]
    tasks = []
    for i, t in enumerate(tokens):
        tasks.append(asyncio.create_task(watch(t, opened, prequeued[i])))
        if i % 100 == 99:
            await asyncio.sleep(0.5)  # in waves: the opening is the subject, not the stampede of stream opens
    counted = await asyncio.wait_for(asyncio.gather(*prequeued), 600)
    log(f"{sum(1 for c in counted if c)} of {len(tokens)} streams in the countdown")
    # Log every Redis call from now on, then bring the opening forward.
    redis("CONFIG", "SET", "slowlog-max-len", "1000000")
    redis("CONFIG", "SET", "slowlog-log-slower-than", "0")
    redis("SLOWLOG", "RESET")
    opens_at = redis_ms() + int(LEAD_S * 1000)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(opens_at / 1000)) + f".{opens_at % 1000:03d}Z"
    await asyncio.get_running_loop().run_in_executor(None, lambda: call(
        "PUT", f"/api/v1/admin/concerts/{concert}/sale", admin=True, body={"opensAt": iso}))
    opens_at_holder.append(opens_at)
    await asyncio.sleep(max(0, (opens_at - redis_ms()) / 1000))
    opened.set_result(True)
    done, pending = await asyncio.wait(tasks, timeout=60)
    for t in pending:
        t.cancel()
    return [t.result() for t in done if not t.cancelled() and t.exception() is None and t.result()]


def slowlog():
    """All logged calls: (duration us, command words)."""
    out = subprocess.run(["redis-cli", "-p", REDIS_PORT, "--json", "SLOWLOG", "GET", "-1"], capture_output=True, text=True)
    entries = []
    try:
        for e in json.loads(out.stdout):
            entries.append((int(e[2]), [str(a) for a in e[3]]))
    except (ValueError, IndexError):
        pass
    redis("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    return entries


def describe(words):
    if words and words[0].upper() == "EVALSHA" and len(words) > 3:
        n = int(words[2])
        keys = words[3:3 + n]
        args = words[3 + n:]
        kind = "admit" if args[:1] in (["tick"], ["admit"]) else ("status" if any(k.endswith(":sale") for k in keys) and len(keys) == 9 else "script")
        return f"{kind} script ({len(args)} args)"
    return " ".join(words[:2])


def run(n, tokens_users):
    redis("FLUSHALL")
    tag = str(int(time.time() * 1000))
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60 * 86400))
    hour = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    concert = call("POST", "/api/v1/admin/concerts", admin=True, body={
        "name": f"onsale-bench-{tag}", "dates": [{"startsAt": start, "venue": f"onsale-hall-{tag}",
                                                  "seats": [{"grade": "R", "price": 1000, "count": 1000}]}],
        "sale": {"prequeueOpensAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5)), "opensAt": hour}})["concertId"]
    call("PUT", f"/api/v1/admin/queues/{concert}/policy", admin=True,
         body={"admitPerTick": 500, "maxActive": 5000, "waitingTimeoutSeconds": 86400})
    sale = call("GET", f"/api/v1/concerts/{concert}/sale")
    seed = bytes.fromhex(sql(f"SELECT seed FROM concert_sale WHERE concert_id = {concert}").strip())
    log(f"N={n}: concert {concert}, state {sale['state']}, commitment {sale['commitment'][:12]}…")

    def join(bearer):
        return call("POST", "/api/v1/queues/token", body={"concertId": concert}, headers={"Authorization": "Bearer " + bearer})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tickets = list(pool.map(join, [b for _, b in tokens_users]))
    assert all(t["status"] == "PREQUEUE" for t in tickets), "the real fans must be in the pre-queue"
    mem0 = used_memory()
    fill_s = fill(concert, seed, n)
    per_member = (used_memory() - mem0) / n
    log(f"N={n}: cohort written in {fill_s:.1f}s, {per_member:.0f} B of Redis memory per member")

    holder = []
    got = asyncio.run(open_streams([t["token"] for t in tickets], concert, holder))
    opens_at = holder[0]
    sale_hash = dict(zip(*[iter(redis("HGETALL", f"queue:{{concert:{concert}}}:sale").split())] * 2))
    calls = slowlog()
    longest = max(calls, default=(0, []))
    admits = [d for d, w in calls if describe(w).startswith("admit")]
    delays = [t - opens_at for t in got]
    row = {
        "cohort": n, "streams": len(tickets), "memory_bytes_per_member": round(per_member),
        "frozen_after_opens_ms": int(sale_hash.get("opened", 0)) - opens_at, "cohort_size": int(sale_hash.get("size", -1)),
        "longest_redis_call_us": longest[0], "longest_redis_call": describe(longest[1]),
        "longest_admission_step_us": max(admits, default=None), "redis_calls_logged": len(calls),
        "streams_with_position": len(got), "to_position_ms": {"p50": pct(delays, 50), "p99": pct(delays, 99), "max": max(delays, default=None)},
        "load": open("/proc/loadavg").read().split()[:3],
    }
    print(json.dumps(row), flush=True)
    return row


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [10_000, 100_000, 1_000_000]
    tag = str(int(time.time()))
    sql(f"INSERT INTO users (username, balance) SELECT CONCAT('onsale-{tag}-', seq), 0 FROM seq_1_to_{STREAMS}")
    ids = [int(x) for x in sql(f"SELECT id FROM users WHERE username LIKE 'onsale-{tag}-%' ORDER BY id").split()]
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bearers = list(pool.map(lambda u: call("POST", f"/api/v1/admin/users/{u}/access-token", admin=True)["accessToken"], ids))
    log(f"{len(bearers)} access tokens minted in {time.time() - started:.1f}s")
    rows = [run(n, list(zip(ids, bearers))) for n in sizes]
    print("\n| cohort | streams | Redis B/member | cohort frozen after opensAt | longest Redis call | longest admission step "
          "| opensAt to position p50 / p99 / max (streams with one) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        p = r["to_position_ms"]
        print(f"| {r['cohort']:,} | {r['streams']:,} | {r['memory_bytes_per_member']} | {r['frozen_after_opens_ms']} ms "
              f"| {r['longest_redis_call_us'] / 1000:.1f} ms ({r['longest_redis_call']}) | "
              f"{(r['longest_admission_step_us'] or 0) / 1000:.1f} ms | {p['p50']} / {p['p99']} / {p['max']} ms "
              f"({r['streams_with_position']}) |")


if __name__ == "__main__":
    main()
