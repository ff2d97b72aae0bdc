#!/usr/bin/env python3
"""Reads the statistics table of a Gatling 3.15 report (index.html: the only machine-readable figures,
there is no stats.json) and prints one JSON object per request row:

  {"name", "total", "ok", "ko", "rps", "min", "p50", "p75", "p95", "p99", "max", "mean", "std"}

plus the assertion results ({"assertion", "ok"}) and the error table ({"error", "count", "pct"}).

  extract_stats.py REPORT_DIR_OR_INDEX_HTML
"""
import html
import json
import os
import re
import sys

COLS = ["total", "ok", "ko", "ko_pct", "rps", "min", "p50", "p75", "p95", "p99", "max", "mean", "std"]


def num(text):
    text = text.strip().replace(",", "")
    if text in ("-", ""):
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def main(path):
    if os.path.isdir(path):
        path = os.path.join(path, "index.html")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    out = {"requests": [], "global": None, "assertions": [], "errors": []}

    # Global row lives in container_statistics_head, requests in container_statistics_body.
    def rows(table_id):
        start = page.find('id="%s"' % table_id)
        if start < 0:
            return []
        end = page.find("</table>", start)
        return re.findall(r"<tr[^>]*>(.*?)</tr>", page[start:end], re.S)

    def parse_row(row):
        name_m = re.search(r'class="ellipsed-name">(.*?)</span>', row, re.S)
        if name_m:
            name = html.unescape(name_m.group(1)).strip()
        else:
            first = re.search(r'<td class="total col-1">(.*?)</td>', row, re.S)
            name = re.sub(r"<[^>]+>", " ", first.group(1)).strip() if first else "?"
            name = html.unescape(re.sub(r"\s+", " ", name)).split(" 0")[0].strip()
        values = {}
        for col, cell in re.findall(r'<td class="value [^"]*col-(\d+)">(.*?)</td>', row, re.S):
            i = int(col) - 2
            if 0 <= i < len(COLS):
                values[COLS[i]] = num(re.sub(r"<[^>]+>", "", cell))
        values["name"] = name
        return values

    for row in rows("container_statistics_head"):
        if "col-2" in row:
            g = parse_row(row)
            g["name"] = "All Requests"
            out["global"] = g
    for row in rows("container_statistics_body"):
        if "col-2" in row:
            out["requests"].append(parse_row(row))

    for m in re.finditer(r'<td class="error-col-1 (ok|ko) total">\s*(.*?)\s*<span', page, re.S):
        out["assertions"].append({"assertion": html.unescape(m.group(2).strip()), "ok": m.group(1) == "ok"})

    start = page.find('id="container_errors"')
    if start >= 0:
        end = page.find("</table>", start)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page[start:end], re.S):
            row = re.sub(r'<span class="value" style="display:none">.*?</span>', "", row, flags=re.S)  # sort keys
            cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            if len(cells) >= 3:
                out["errors"].append({"error": re.sub(r"\s+", " ", cells[0]), "count": num(cells[1]), "pct": cells[2]})
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
