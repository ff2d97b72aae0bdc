#!/usr/bin/env python3
"""Turns one bin/bench run directory into a Markdown section (stdout). Run metadata as JSON on stdin.

Per request: count, unexpected errors (Gatling KO), expected outcomes (409 SEAT_UNAVAILABLE and the like,
which the simulations accept and count), mean throughput, p50/p95/p99/max, and whether the simulation's
assertions held. In capacity mode (request names ending in " @R/s"): the achieved rate and p99 per level, the
capacity (highest achieved rate with p99 < 100 ms and no error), and its ratio to the trivial endpoint's.
"""
import glob
import json
import os
import re
import sys

CAPACITY_P99_MS = 100


def load_runs(run_dir):
    runs = []
    for path in sorted(glob.glob(os.path.join(run_dir, "*.json"))):
        base = os.path.basename(path)
        if base.endswith(".stats.json") or base.startswith("warmup-"):
            continue
        with open(path) as f:
            run = json.load(f)
        txt = os.path.join(run_dir, run["label"] + ".bench.txt")
        run["bench_lines"] = open(txt).read().splitlines() if os.path.exists(txt) else []
        runs.append(run)
    order = ["ceiling", "concerts", "concert", "dates", "seats", "balance", "charge", "token", "myres", "hold", "pay",
             "cancel", "sse", "journey", "availability"]
    runs.sort(key=lambda r: order.index(r["key"]) if r["key"] in order else 99)
    return runs


def expected_counts(run):
    out = {}
    for line in run["bench_lines"]:
        m = re.match(r"BENCH-EXPECTED (.+?) (\d{3} [A-Z_]+) = (\d+)", line)
        if m:
            out.setdefault(m.group(1), []).append("%s x %s" % (m.group(3), m.group(2)))
    return out


def fmt(v):
    return "-" if v is None else str(v)


def main():
    meta = json.load(sys.stdin)
    run_dir = sys.argv[1]
    runs = load_runs(run_dir)
    level_secs = None
    p = []
    title = "## Run %s%s" % (meta["stamp"], (" - " + meta["label"]) if meta.get("label") else "")
    p.append(title)
    p.append("")
    p.append("- command: `%s`" % meta["command"])
    p.append("- date: %s; commit %s on branch `%s`" % (meta["date"], meta["commit"], meta["branch"]))
    p.append("- data: scale `%s`: %s" % (meta["scale"], meta["data"]))
    p.append("- machine: %s" % meta["machine"])
    p.append("- load: %s; Gatling 3.15.1 on the same machine, keep-alive connections shared by the virtual users"
             % meta["profile"])
    if any(r["key"] in ("sse", "journey") for r in runs):
        p.append("- sse and journey use their own injection (not the profile above): sse opens `subscribers` streams "
                 "over `connectSecs` with admission paused, then admits `sseAdmitPerTick` per tick; journey starts "
                 "`fans` fans over `journeySecs` (defaults in the simulations; -D values in the command line)")
    if any(r["key"] == "availability" for r in runs):
        p.append("- availability uses its own open-model injection (not the profile above): readers at `rate` "
                 "requests/s (each virtual user one full GET, then `polls` since-polls `pollMs` apart) and holds at "
                 "`holdRate`/s on the same date, both for `duration` s (defaults in AvailabilitySimulation; -D values "
                 "in the command line)")
    p.append("- service: `java %s -jar ...` (prod profile, 127.0.0.1:8080)%s" % (meta["jvm"], ("; " + meta["db"]) if meta.get("db") else ""))
    p.append("")

    capacity = any(re.search(r" @\d+/s$", r["name"]) for run in runs for r in run.get("requests", []))
    if not capacity:
        p.append("| simulation | request | requests | unexpected errors | expected outcomes | mean rps | p50 ms | p95 ms "
                 "| p99 ms | max ms | p99 < %d ms | assertions |" % meta["p99"])
        p.append("|---|---|---:|---:|---|---:|---:|---:|---:|---:|:-:|:-:|")
        for run in runs:
            if run.get("report") is None:
                p.append("| %s | (no report: the simulation did not run, exit %s) | | | | | | | | | | |" % (run["label"], run["rc"]))
                continue
            exp = expected_counts(run)
            for r in run["requests"]:
                ok_all = all(a["ok"] for a in run["assertions"] if a["assertion"].startswith(r["name"] + ":"))
                has = any(a["assertion"].startswith(r["name"] + ":") for a in run["assertions"])
                p.append("| %s | `%s` | %s | %s | %s | %s | %s | %s | **%s** | %s | %s | %s |" % (
                    run["label"], r["name"], fmt(r["total"]), fmt(r["ko"]), ", ".join(exp.get(r["name"], [])) or "-",
                    fmt(r["rps"]), fmt(r["p50"]), fmt(r["p95"]), fmt(r["p99"]), fmt(r["max"]),
                    "yes" if (r["p99"] or 0) < meta["p99"] else "no",
                    ("pass" if ok_all else "FAIL") if has else "-"))
            if run["rc"] != 0 and all(a["ok"] for a in run["assertions"]):
                p.append("| %s | (exit %s: see the run log) | | | | | | | | | | |" % (run["label"], run["rc"]))
        p.append("")
    else:
        level_secs = int(re.search(r"(\d+) s each", meta["profile"]).group(1))
        p.append("Capacity: open model, one level after the other; achieved = requests of the level / %d s."
                 % level_secs)
        p.append("")
        p.append("| simulation | request | offered /s | achieved /s | errors | p50 ms | p95 ms | p99 ms | max ms |")
        p.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        caps = {}
        for run in runs:
            best = None
            for r in run.get("requests", []):
                m = re.match(r"(.*) @(\d+)/s$", r["name"])
                if not m:
                    continue
                achieved = round(r["total"] / level_secs)
                p.append("| %s | `%s` | %s | %s | %s | %s | %s | **%s** | %s |" % (
                    run["label"], m.group(1), m.group(2), achieved, r["ko"], r["p50"], r["p95"], r["p99"], r["max"]))
                if r["ko"] == 0 and r["p99"] is not None and r["p99"] < CAPACITY_P99_MS:
                    best = max(best or 0, achieved)
            caps[run["key"]] = (run["label"], best)
        p.append("")
        ceiling = caps.get("ceiling", (None, None))[1]
        p.append("| simulation | capacity at p99 < %d ms (req/s) | ratio to the trivial endpoint |" % CAPACITY_P99_MS)
        p.append("|---|---:|---:|")
        for key, (label, best) in caps.items():
            ratio = "%.0f%%" % (100.0 * best / ceiling) if best and ceiling else "-"
            p.append("| %s | %s | %s |" % (label, best if best else "below the lowest level", ratio))
        p.append("")

    cpu_rows = []
    for run in runs:
        for line in run["bench_lines"]:
            m = re.match(r"BENCH-CPU measured part: wall=([\d.]+) s, service=([\d.]+) CPU-s, mariadb=([\d.]+) CPU-s, redis=([\d.]+) CPU-s", line)
            if m:
                cpu_rows.append((run, [float(x) for x in m.groups()]))
    if cpu_rows:
        p.append("CPU used during the measured part of each simulation (set-up excluded; read from /proc; 2 cores = "
                 "2 CPU-s per second; Gatling and other engineers' work use the rest):")
        p.append("")
        p.append("| simulation | wall s | service CPU-s | MariaDB CPU-s | Redis CPU-s | service CPU ms per request | InnoDB buffer-pool misses (whole run) | load avg before / after |")
        p.append("|---|---:|---:|---:|---:|---:|---:|---|")
        for run, (wall, app, db, redis) in cpu_rows:
            n = sum(r["total"] or 0 for r in run.get("requests", []))
            c = run.get("cpu") or {}
            p.append("| %s | %.0f | %.1f | %.1f | %.1f | %s | %s | %s / %s |" % (run["label"], wall, app, db, redis,
                     "%.2f" % (1000.0 * app / n) if n else "-", c.get("pool_reads", "?"), c.get("load_before", "?"),
                     c.get("load_after", "?")))
        p.append("")

    sizes = [(run, m) for run in runs for line in run["bench_lines"]
             for m in [re.match(r"BENCH-BYTES (.+?): count=(\d+) body p50=(\d+) p95=(\d+) p99=(\d+) max=(\d+) mean=(\d+); "
                                r"wire p50=(\d+) p95=(\d+) p99=(\d+) max=(\d+) mean=(\d+); changes p50=(\d+) p95=(\d+) "
                                r"max=(\d+); content-encoded=(\d+); without content-length=(\d+)", line)] if m]
    if sizes:
        p.append("Sizes of the answers as received (body = Content-Length; wire = status line + headers + body, HTTP/1.1):")
        p.append("")
        p.append("| simulation | answer | count | body p50 B | body p99 B | body max B | wire p50 B | wire p99 B | wire max B "
                 "| changes p50 / p95 / max | content-encoded | without Content-Length |")
        p.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
        for run, m in sizes:
            g = m.groups()
            p.append("| %s | %s | %s | %s | %s | %s | %s | **%s** | %s | %s | %s | %s |" % (
                run["label"], g[0], g[1], g[2], g[4], g[5], g[7], g[9], g[10],
                "%s / %s / %s" % (g[12], g[13], g[14]), g[15], g[16]))
        p.append("")

    notes = []
    for run in runs:
        for line in run["bench_lines"]:
            if line.startswith("BENCH-") or re.match(r"PREP .*(ok, .* failed|passes:|unexpected)", line):
                notes.append("%s: %s" % (run["label"], line))
    failed = [(run["label"], a["assertion"]) for run in runs for a in run.get("assertions", []) if not a["ok"]]
    errors = [(run["label"], e) for run in runs for e in run.get("errors", [])]
    if failed:
        p.append("Assertions that failed:")
        p.append("")
        for label, a in failed:
            p.append("- %s: %s" % (label, a))
        p.append("")
    if errors:
        p.append("Errors reported by Gatling:")
        p.append("")
        for label, e in errors:
            p.append("- %s: %s x `%s`" % (label, e["count"], e["error"][:200]))
        p.append("")
    if notes:
        p.append("Client-side figures and set-up (BENCH-/PREP lines of the simulations):")
        p.append("")
        p.append("```")
        p.extend(notes)
        p.append("```")
        p.append("")
    p.append("<details><summary>Raw numbers (Gatling statistics table: count, ok, ko, mean rps, min, p50, p75, p95, "
             "p99, max, mean, std in ms)</summary>")
    p.append("")
    p.append("```")
    for run in runs:
        for r in run.get("requests", []):
            p.append("%s | %s | %s" % (run["label"], r["name"], " ".join(
                "%s=%s" % (k, r.get(k)) for k in ["total", "ok", "ko", "rps", "min", "p50", "p75", "p95", "p99", "max",
                                                   "mean", "std"])))
        if run.get("report"):
            p.append("%s | report %s | exit %s" % (run["label"], os.path.relpath(run["report"]), run["rc"]))
    p.append("```")
    p.append("</details>")
    print("\n".join(p))


if __name__ == "__main__":
    main()
