"""Sample the real server under load with py-spy and say where its CPU time goes.

Starts ``pyomero serve`` (as ``api_latency.py`` does), logs in, puts ``--clients``
connections of load on one endpoint with wrk for ``--seconds``, and meanwhile records every
server process with ``py-spy record --subprocesses --gil --format raw`` (collapsed stacks of
the thread holding the GIL: Python CPU time; C code that releases the GIL, such as
SQLite's own query execution, is not in it). Prints the functions with the most samples
on top of the stack (self) and on the stack at all (inclusive), and groups the samples into
layers (uvicorn/asyncio, starlette, thread pool, SQLAlchemy, driver, pyomero store, marshal,
JSON). Keeps the raw file, which ``flamegraph.pl`` or speedscope can draw.

    pip install py-spy; apt-get install wrk
    python benchmarks/profile_server.py /tmp/pyomero-bench-sqlite --endpoint image
    python benchmarks/profile_server.py /tmp/pyomero-bench-sqlite --endpoint images
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from api_latency import API, Server, login, readable_targets, throughput_wrk  # noqa: E402

from pyomero.services.instance import load_instance  # noqa: E402

#: (layer, substring of a frame "function (file:line)"), first match from the top of the stack
LAYERS = (
    ("JSON encoding (json / orjson)", ("json/encoder.py", "json/__init__.py", "orjson")),
    ("marshal (model -> JSON dicts)", ("pyomero/wire/marshal.py",)),
    ("web handlers (json_api, api_view, responses)", ("pyomero/web/",)),
    ("DB driver (sqlite3 / psycopg)", ("sqlite3", "psycopg/", "psycopg_binary")),
    ("SQLAlchemy Core (compile, cache key, execute, rows)", ("sqlalchemy/",)),
    ("pyomero store (rows -> model)", ("pyomero/store/",)),
    ("pyomero services / model", ("pyomero/services/", "pyomero/model/")),
    ("starlette", ("starlette/",)),
    ("anyio thread pool / threading", ("anyio/", "threading.py", "concurrent/")),
    ("uvicorn / httptools / asyncio", ("uvicorn/", "httptools", "asyncio/", "uvloop")),
)


_PROCESS = re.compile(r'^(process \d+:"[^"]*"(;|$))+')


def stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    """(frames outermost first, samples) from py-spy's collapsed output, less process names."""
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in _PROCESS.sub("", stack).split(";") if not f.startswith("thread ")]
        if frames:
            yield frames, int(count_text)


def parse_raw(path: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """Self and inclusive sample counts per frame from py-spy's collapsed-stack output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in stacks(path):
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return own, inclusive, total


def layers(path: Path) -> collections.Counter[str]:
    """Samples per layer: the innermost frame that belongs to a known layer decides."""
    found: collections.Counter[str] = collections.Counter()
    for frames, count in stacks(path):
        layer = "other"
        for frame in reversed(frames):
            match = next((name for name, keys in LAYERS if any(k in frame for k in keys)), None)
            if match:
                layer = match
                break
        found[layer] += count
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--endpoint", choices=("image", "images", "base"), default="image")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="keep the raw py-spy file here")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every non-idle thread, not only the one holding the GIL (py-spy's idle "
        "detection may count threads waiting on a lock as busy)",
    )
    parser.add_argument("--analyze", type=Path, default=None, help="only summarise this raw file")
    args = parser.parse_args(argv)
    if args.analyze:
        report(args.analyze, args.top)
        return 0
    if not shutil.which("py-spy") or not shutil.which("wrk"):
        raise SystemExit("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)")

    info = json.loads((args.directory / "benchmark.json").read_text())
    overrides = {"database_url": args.database_url} if args.database_url else {}
    instance = load_instance(args.directory, **overrides)
    datasets, images = readable_targets(instance, info["user"], random.Random(3), 500)
    instance.close()
    paths = {
        "image": [f"{API}/m/images/{i}/" for i in images],
        "images": [f"{API}/m/images/?dataset={d}&normalize=true&childCount=true" for d in datasets],
        "base": [f"{API}/"],
    }[args.endpoint]
    server = Server(args.directory, args.workers, args.database_url)
    raw = args.out or Path(tempfile.mkstemp(prefix="pyomero-pyspy-", suffix=".txt")[1])
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url) as client:
            session = login(client, info["user"], info["password"])
        throughput_wrk(server.url, paths, session, args.clients, 3)  # warm up every worker
        spy = subprocess.Popen(
            [
                "py-spy", "record", "--pid", str(server.process.pid), "--subprocesses",
                "--format", "raw", "--rate", str(args.rate), "--duration", str(args.seconds),
                "--output", str(raw), "--nonblocking", *([] if args.all_threads else ["--gil"]),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        result = throughput_wrk(server.url, paths, session, args.clients, args.seconds)
        _, err = spy.communicate(timeout=args.seconds + 60)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err}")
    finally:
        server.stop()

    print(f"{info['database']}, {args.workers} worker(s), {args.clients} clients, "
          f"endpoint {args.endpoint}: {result['rps']:.0f} requests/s while sampled")  # fmt: skip
    report(raw, args.top)
    return 0


def report(raw: Path, top: int) -> None:
    own, inclusive, total = parse_raw(raw)
    print(f"{total} samples in {raw}")
    print("\nby layer (innermost known frame):")
    for name, count in layers(raw).most_common():
        print(f"  {100 * count / total:5.1f} %  {name}")
    print(f"\ntop {top} functions by self samples:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")
    print(f"\ntop {top} functions by inclusive samples:")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")


if __name__ == "__main__":
    sys.exit(main())
