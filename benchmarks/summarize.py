"""Medians over several ``api_latency.py --json`` files, as a Markdown table.

Every run of every file counts once; the table gives the median over all of them, and the
lowest and highest run median, so that the spread of a noisy machine stays visible.

    python benchmarks/summarize.py sqlite-1.json sqlite-2.json sqlite-3.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROWS = (
    ("images", "p50", "200-image page, normalize + childCount: p50 (ms)"),
    ("images", "p95", "200-image page: p95 (ms)"),
    ("images", "p99", "200-image page: p99 (ms)"),
    ("images", "server_cpu_ms", "200-image page: server CPU per request (ms)"),
    ("sql_images", "p50", "200-image page: raw SQL replay p50 (ms)"),
    ("projects", "p50", "project list, childCount: p50 (ms)"),
    ("projects", "p95", "project list: p95 (ms)"),
    ("projects", "p99", "project list: p99 (ms)"),
    ("image", "p50", "single image GET: p50 (ms)"),
    ("image", "p95", "single image GET: p95 (ms)"),
    ("image", "p99", "single image GET: p99 (ms)"),
    ("image", "server_cpu_ms", "single image GET: server CPU per request, 1 client (ms)"),
    ("sql_image", "p50", "single image GET: raw SQL replay p50 (ms)"),
    ("base", "p50", "GET /api/v0/ (no DB): p50 (ms)"),
    ("image_rps", "rps", "single image GET, 8 clients: requests/s"),
    ("image_rps", "server_cpu_ms_per_request", "single image GET, 8 clients: server CPU (ms)"),
    ("image_rps", "server_cores_busy", "single image GET, 8 clients: server cores busy"),
    ("base_rps", "rps", "GET /api/v0/, 8 clients: requests/s"),
    ("base_rps", "server_cpu_ms_per_request", "GET /api/v0/, 8 clients: server CPU (ms)"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    sources = set()
    for path in args.files:
        data = json.loads(path.read_text())
        runs.extend(data["runs"])
        sources.add(data.get("sources", "?"))
    loads = [r["loadavg_before"] for r in runs] + [r["loadavg_after"] for r in runs]
    print(f"{len(runs)} runs from {len(args.files)} files; pyomero sources {', '.join(sorted(sources))}; "
          f"1-minute load average {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    print()
    print("| measurement | median | lowest run | highest run |")
    print("|---|---:|---:|---:|")
    for key, field, label in ROWS:
        values = [r[key][field] for r in runs if key in r and field in r[key]]
        if not values:
            continue
        digits = 0 if field == "rps" else 2
        cells = [f"{v:,.{digits}f}" for v in (statistics.median(values), min(values), max(values))]
        print(f"| {label} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
