"""Latency and throughput of the JSON API against a filled instance, over real HTTP.

Starts ``pyomero serve DIR --workers N`` on a free port, logs in as the benchmark user
(``benchmark.json`` written by ``fill.py``) through ``/api/v0/token/`` and ``/api/v0/login/``,
and measures, with one keep-alive client and a warm-up before each series:

- ``images``:   ``GET /api/v0/m/images/?dataset=<id>&normalize=true&childCount=true``, a random
  dataset the user can read each time (200 images a page);
- ``projects``: ``GET /api/v0/m/projects/?childCount=true`` (default limit 200);
- ``image``:    ``GET /api/v0/m/images/<id>/``, a random readable image each time;
- ``base``:     ``GET /api/v0/`` (no login, no database): the framework's floor;

then requests per second with ``--clients`` concurrent connections for the single image
GET and for ``GET /api/v0/`` (wrk when installed, else httpx threads), with the server's
CPU time per request (user + system time of the server process tree, from /proc; on a
shared machine it is steadier than requests/s; PostgreSQL's own processes are not in it).
As a baseline it measures the database time alone of the 200-image page and of the single
GET: the exact SQL statements the services run (captured in-process, session lookup
included) replayed through the raw DB-API cursor.

Everything is repeated ``--runs`` times against the same server; the summary gives the
median of each figure over the runs. ``--json FILE`` keeps every run.

    python benchmarks/api_latency.py /tmp/pyomero-bench-sqlite --workers 2 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, select

from pyomero.services import accounts, objects
from pyomero.services.instance import Instance, load_instance
from pyomero.services.objects import ListQuery
from pyomero.store.accounts import load_actor
from pyomero.store.schema import dataset, datasetimagelink, experimenter
from pyomero.store.visibility import readable

API = "/api/v0"


def log(message: str = "") -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(directory: Path, port: int, workers: int) -> tuple[list[str], dict[str, str]]:
    """``pyomero serve`` when the CLI has it, else uvicorn with the app factory."""
    env = dict(os.environ, PYOMERO_DATA_DIR=str(directory))
    script = shutil.which("pyomero") or str(Path(sys.executable).parent / "pyomero")
    if Path(script).exists():
        probe = subprocess.run([script, "serve", "--help"], capture_output=True, text=True)
        if probe.returncode == 0:
            cmd = [script, "serve", str(directory), "--port", str(port), "--workers", str(workers)]
            return cmd, env
    cmd = [
        sys.executable, "-m", "uvicorn", "pyomero.web.app:app_factory", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return cmd, env


class Server:
    """A server subprocess in its own process group, stopped with SIGINT then SIGKILL."""

    def __init__(self, directory: Path, workers: int, database_url: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd, env = server_command(directory, self.port, workers)
        if database_url:
            env["PYOMERO_DATABASE_URL"] = database_url
        self.command = cmd
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="pyomero-bench-server-", suffix=".log"
        )
        self.process = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60.0) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.output()}")
            try:
                if httpx.get(self.url + "/api/", timeout=1.0).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def login(client: httpx.Client, username: str, password: str) -> str:
    token = client.get(f"{API}/token/").json()["data"]
    response = client.post(
        f"{API}/login/",
        data={"username": username, "password": password, "server": "1"},
        headers={"X-CSRFToken": token},
    )
    response.raise_for_status()
    session = client.cookies.get("sessionid")
    if not session:
        raise RuntimeError(f"login gave no session cookie: {response.text[:200]}")
    return session


# ---------------------------------------------------------------------------- targets


def readable_targets(
    instance: Instance, username: str, rng: random.Random, count: int
) -> tuple[list[int], list[int]]:
    """Random datasets and images ``username`` can read (the store's own visibility rule)."""
    with instance.db.read() as conn:
        user_id = conn.scalar(select(experimenter.c.id).where(experimenter.c.omename == username))
        if user_id is None:
            raise SystemExit(f"user {username} not found: was the instance made by fill.py?")
        actor = load_actor(conn, user_id, -1)
        ids = list(conn.scalars(select(dataset.c.id).where(readable(actor, dataset))))
        if not ids:
            raise SystemExit(f"{username} can read no dataset")
        datasets = [rng.choice(ids) for _ in range(count)]
        sample = sorted(set(rng.sample(ids, min(len(ids), 200))))
        links = list(
            conn.scalars(
                select(datasetimagelink.c.child).where(datasetimagelink.c.parent.in_(sample))
            )
        )
        images = [rng.choice(links) for _ in range(count)]
    return datasets, images


# ---------------------------------------------------------------------------- measuring


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pct(p: float) -> float:
        k = (len(ordered) - 1) * p / 100
        lo = int(k)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)

    return {
        "n": len(ordered),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }


def latency(
    client: httpx.Client,
    paths: Sequence[str],
    warmup: int,
    check: Callable[[Any], None],
    server_pid: int,
) -> dict[str, float]:
    """Sequential requests over one keep-alive connection; the first ``warmup`` are dropped.

    Also the server's mean CPU time per measured request (steadier than wall time when
    other programs compete for the cores).
    """
    first = client.get(paths[0])
    first.raise_for_status()
    check(first.json())
    samples = []
    cpu = 0.0
    for index, path in enumerate(paths):
        if index == warmup:
            cpu = cpu_seconds(server_pid)
        started = time.perf_counter()
        response = client.get(path)
        body = response.content
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {body[:200]!r}")
        if index >= warmup:
            samples.append(elapsed * 1000)
    result = percentiles(samples)
    result["server_cpu_ms"] = 1000 * (cpu_seconds(server_pid) - cpu) / len(samples)
    return result


_WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Cookie"] = "sessionid=%s"})
end
"""


def throughput_wrk(
    url: str, paths: Sequence[str], session: str, clients: int, seconds: float
) -> dict[str, float]:
    """wrk with one thread and ``clients`` connections, cycling through ``paths``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), session))
    try:
        command = [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            script.name,
        ]
        out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    result: dict[str, float] = {"rps": rps}
    for label, key in (("50%", "p50"), ("99%", "p99")):
        found = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if found:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
            result[key] = float(found.group(1)) * scale
    return result


def throughput_httpx(
    url: str, paths: Sequence[str], session: str, clients: int, seconds: float
) -> dict[str, float]:
    """``clients`` threads with one keep-alive httpx client each (used when wrk is missing)."""
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    failures: list[str] = []

    def worker(n: int) -> None:
        with httpx.Client(base_url=url, cookies={"sessionid": session}) as client:
            i = n
            while time.perf_counter() < stop:
                response = client.get(paths[i % len(paths)])
                if response.status_code != 200:
                    failures.append(f"{response.status_code}")
                    return
                counts[n] += 1
                i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"throughput requests failed: {failures[:5]}")
    return {"rps": sum(counts) / (time.perf_counter() - started)}


# ---------------------------------------------------------------------------- raw SQL


def capture_sql(instance: Instance, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements ``call`` sends to the driver, in order, less pyomero's own ``BEGIN``."""
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(instance.db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(instance.db.engine, "before_cursor_execute", record)
    # pyomero issues SQLite's BEGIN itself; the replay opens one transaction of its own
    return [(s, p) for s, p in captured if not s.lstrip().upper().startswith("BEGIN")]


def page_statements(instance: Instance, session: str, dataset_id: int) -> list[tuple[str, Any]]:
    """Session lookup + the 200-image page, as the list handler runs them."""

    def call() -> None:
        ctx = accounts.join_session(instance, session)
        query = ListQuery(
            offset=0, limit=instance.settings.api_limit, filters={"dataset": dataset_id}
        )
        page = objects.list_objects(ctx, "image", query=query, child_count=True)
        if len(page.items) != min(page.total, query.limit):
            raise RuntimeError("unexpected page size while capturing SQL")

    return capture_sql(instance, call)


def single_statements(instance: Instance, session: str, image_id: int) -> list[tuple[str, Any]]:
    """Session lookup + one image with its channels, as the single GET handler runs them."""

    def call() -> None:
        ctx = accounts.join_session(instance, session)
        objects.get_object(ctx, "image", image_id, child_count=False)

    return capture_sql(instance, call)


def _substitute(parameters: Any, old: int, new: int) -> Any:
    if isinstance(parameters, dict):
        return {k: new if v == old else v for k, v in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(new if v == old else v for v in parameters)
    return parameters


def raw_sql(
    instance: Instance,
    statements: list[tuple[str, Any]],
    captured_for: int,
    ids: Sequence[int],
    warmup: int,
) -> dict[str, float]:
    """Replay captured statements through the DB-API cursor, with another id each time.

    The id the statements were captured for is replaced by the next of ``ids`` (ids that
    also appear as another parameter value are skipped). Each repetition is one
    transaction and fetches every row: the database's and the driver's share of a request.
    """
    times = []
    others = {
        v
        for _, p in statements
        for v in (p.values() if isinstance(p, dict) else p or ())
        if v != captured_for
    }
    usable = [i for i in ids if i not in others] or [captured_for]
    raw = instance.db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        sqlite = instance.db.dialect == "sqlite"
        for index, object_id in enumerate(usable):
            started = time.perf_counter()
            cursor = driver.cursor()
            if sqlite:
                cursor.execute("BEGIN")
            for statement, parameters in statements:
                cursor.execute(statement, _substitute(parameters, captured_for, object_id))
                cursor.fetchall()
            if sqlite:
                cursor.execute("COMMIT")
            else:
                driver.commit()
            cursor.close()
            if index >= warmup:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        raw.close()
    return percentiles(times)


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its descendants so far."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def source_fingerprint() -> str:
    """A hash of the pyomero sources measured (the repo may change between runs)."""
    import hashlib

    import pyomero

    digest = hashlib.sha256()
    for path in sorted(Path(pyomero.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# ---------------------------------------------------------------------------- one run


def check_images(body: Any) -> None:
    # childCount has nothing to count on images (OMERO adds it to containers only)
    if len(body["data"]) != 200 or "experimenters" not in body:
        raise RuntimeError(f"expected 200 normalized images, got {len(body['data'])}")


def check_projects(body: Any) -> None:
    if not body["data"] or "omero:childCount" not in body["data"][0]:
        raise RuntimeError("expected projects with omero:childCount")


def check_image(body: Any) -> None:
    if body["data"]["@type"].rsplit("#", 1)[-1] != "Image":
        raise RuntimeError(f"expected an Image, got {body['data'].get('@type')}")


def check_base(body: Any) -> None:
    if "url:projects" not in body:
        raise RuntimeError("expected the API base links")


@dataclass
class Baseline:
    """Captured SQL of the two measured handlers, for the raw replay."""

    page: list[tuple[str, Any]]
    page_id: int
    single: list[tuple[str, Any]]
    single_id: int


def throughput(
    args: argparse.Namespace, server: Server, paths: Sequence[str], session: str
) -> dict[str, float]:
    """Requests/s with ``args.clients`` connections, and the server's CPU per request."""
    measure = throughput_wrk if args.load == "wrk" else throughput_httpx
    measure(server.url, paths, session, args.clients, max(2.0, args.seconds / 5))  # warm-up
    cpu = cpu_seconds(server.process.pid)
    started = time.perf_counter()
    result = measure(server.url, paths, session, args.clients, args.seconds)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(server.process.pid) - cpu
    result["server_cpu_ms_per_request"] = 1000 * cpu / (result["rps"] * wall)
    result["server_cores_busy"] = cpu / wall
    return result


def one_run(
    args: argparse.Namespace,
    server: Server,
    instance: Instance,
    session: str,
    rng: random.Random,
    baseline: Baseline,
) -> dict[str, Any]:
    n = args.requests + args.warmup
    datasets, images = readable_targets(instance, args.user, rng, n)
    image_list = [f"{API}/m/images/?dataset={d}&normalize=true&childCount=true" for d in datasets]
    single = [f"{API}/m/images/{i}/" for i in images]
    result: dict[str, Any] = {"loadavg_before": os.getloadavg()[0]}
    pid = server.process.pid
    with httpx.Client(base_url=server.url, cookies={"sessionid": session}, timeout=30) as client:
        result["images"] = latency(client, image_list, args.warmup, check_images, pid)
        projects = [f"{API}/m/projects/?childCount=true"] * n
        result["projects"] = latency(client, projects, args.warmup, check_projects, pid)
        result["image"] = latency(client, single, args.warmup, check_image, pid)
        result["base"] = latency(client, [f"{API}/"] * n, args.warmup, check_base, pid)
    result["sql_images"] = raw_sql(instance, baseline.page, baseline.page_id, datasets, args.warmup)
    result["sql_image"] = raw_sql(
        instance, baseline.single, baseline.single_id, images, args.warmup
    )
    result["image_rps"] = throughput(args, server, single[:500], session)
    result["base_rps"] = throughput(args, server, [f"{API}/"], session)
    result["loadavg_after"] = os.getloadavg()[0]
    return result


SERIES = (
    ("images", "GET /m/images/?dataset=&normalize&childCount (200 images)"),
    ("projects", "GET /m/projects/?childCount=true"),
    ("image", "GET /m/images/<id>/"),
    ("base", "GET /api/v0/ (no DB, no login)"),
    ("sql_images", "raw SQL of the 200-image page (session + page)"),
    ("sql_image", "raw SQL of the single image GET (session + image)"),
)
RATES = (("image_rps", "GET /m/images/<id>/"), ("base_rps", "GET /api/v0/"))


def print_run(result: dict[str, Any], clients: int) -> None:
    log(
        f"  1-minute load average before / after the run: "
        f"{result['loadavg_before']:.2f} / {result['loadavg_after']:.2f} (2 cores; shared machine)"
    )
    for key, label in SERIES:
        r = result[key]
        cpu = f"  server CPU {r['server_cpu_ms']:.2f} ms" if "server_cpu_ms" in r else ""
        log(
            f"  {label:<58} p50 {r['p50']:7.2f}  p95 {r['p95']:7.2f}  p99 {r['p99']:7.2f} ms"
            f"  (n={r['n']}){cpu}"
        )
    for key, label in RATES:
        r = result[key]
        extra = f", latency p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms" if "p50" in r else ""
        log(
            f"  {label:<24} {clients} clients: {r['rps']:7.0f} requests/s  (server CPU "
            f"{r['server_cpu_ms_per_request']:.2f} ms/request, {r['server_cores_busy']:.2f} "
            f"cores busy{extra})"
        )


def summarise(runs: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for key, _ in SERIES:
        fields = [k for k in ("p50", "p95", "p99", "mean", "server_cpu_ms") if k in runs[0][key]]
        summary[key] = {k: statistics.median(r[key][k] for r in runs) for k in fields}
    for key, _ in RATES:
        summary[key] = {
            k: statistics.median(r[key][k] for r in runs)
            for k in ("rps", "server_cpu_ms_per_request", "server_cores_busy")
        }
    log(f"median of {len(runs)} runs:")
    for key, label in SERIES:
        s = summary[key]
        cpu = f"  server CPU {s['server_cpu_ms']:.2f} ms" if "server_cpu_ms" in s else ""
        log(f"  {label:<58} p50 {s['p50']:7.2f}  p95 {s['p95']:7.2f}  p99 {s['p99']:7.2f} ms{cpu}")
    for key, label in RATES:
        s = summary[key]
        log(
            f"  {label:<24} {clients} clients: {s['rps']:7.0f} requests/s  "
            f"(server CPU {s['server_cpu_ms_per_request']:.2f} ms/request)"
        )
    images, sql = summary["images"]["p50"], summary["sql_images"]["p50"]
    log(f"  200-image page: HTTP p50 / raw SQL p50 = {images / sql:.1f}x; "
        f"HTTP p50 / GET /api/v0/ p50 = {images / summary['base']['p50']:.1f}x")  # fmt: skip
    rps = summary["image_rps"]["rps"]
    log(f"  target p50 <= 15 ms for the 200-image page: "
        f"{'MET' if images <= 15 else 'MISSED'} ({images:.2f} ms)")  # fmt: skip
    log(f"  target >= 1,000 requests/s single GET, {clients} clients: "
        f"{'MET' if rps >= 1000 else 'MISSED'} ({rps:.0f}/s)")  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="an instance filled by fill.py")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--database-url", default=None, help="override the instance's database")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of the whole suite")
    parser.add_argument("--requests", type=int, default=300, help="measured requests a series")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests first")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for requests/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of a requests/s run")
    parser.add_argument("--load", choices=("wrk", "httpx"), default=None, help="load generator")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    args = parser.parse_args(argv)
    if args.load is None:
        args.load = "wrk" if shutil.which("wrk") else "httpx"

    info = json.loads((args.directory / "benchmark.json").read_text())
    args.user, password = info["user"], info["password"]
    overrides = {"database_url": args.database_url} if args.database_url else {}
    instance = load_instance(args.directory, **overrides)
    fingerprint = source_fingerprint()
    log(f"instance {args.directory}: {instance.db.dialect}, {info['images']:,} images; "
        f"{args.workers} worker(s); load generator {args.load}; pyomero sources {fingerprint}")  # fmt: skip
    server = Server(args.directory, args.workers, args.database_url)
    try:
        log(f"server: {' '.join(server.command)}")
        log(f"server ready in {server.wait_ready():.1f} s")
        with httpx.Client(base_url=server.url) as client:
            session = login(client, args.user, password)
        rng = random.Random(args.seed)
        (page_id,), (single_id,) = readable_targets(instance, args.user, rng, 1)
        baseline = Baseline(
            page_statements(instance, session, page_id),
            page_id,
            single_statements(instance, session, single_id),
            single_id,
        )
        log(f"SQL statements (session lookup included): 200-image page {len(baseline.page)}, "
            f"single image {len(baseline.single)}")  # fmt: skip
        runs = []
        for number in range(1, args.runs + 1):
            log(f"run {number}/{args.runs}")
            result = one_run(args, server, instance, session, rng, baseline)
            print_run(result, args.clients)
            runs.append(result)
        summary = summarise(runs, args.clients)
        if args.json:
            args.json.write_text(
                json.dumps({"info": {k: v for k, v in info.items() if "password" not in k},
                            "sources": fingerprint, "args": {k: str(v) for k, v in vars(args).items()},
                            "runs": runs, "summary": summary}, indent=2) + "\n"
            )  # fmt: skip
    finally:
        server.stop()
        instance.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
