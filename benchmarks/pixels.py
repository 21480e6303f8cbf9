"""The pixel targets of issue 3, measured through the real HTTP server, with baselines.

Makes (or reuses) its data and a fresh instance under ``--workdir`` (a temp dir by default):

- a 16384 x 16384, 3-channel uint16, tiled (512) pyramidal OME-TIFF per ``--pattern``
  (``noisy``: a ramp plus Gaussian noise; ``gradient``: the smooth ramp of
  ``pyomero.testing.images``; see ``pixel_data.py``), about 2.1 GB each, uncompressed;
- ``--thumb-images`` (50) 2048 x 2048 pyramidal OME-TIFFs of the same pattern: the images of
  the thumbnail series (their pixel store ends at 256 x 256 as the 16k image's does, so an
  uncached thumbnail does the same work as the big image's).

Then, in order:

(d) import, each in a fresh process (``pyomero.services.imports.import_files`` as root, what
    the server's import endpoint calls): ``--import-runs`` copies of each big file into
    OME-Zarr (MB/s of source bytes over the import call, and the process's wall clock), the
    thumbnail images copied in one call, and in-place registrations (``transfer="ln_s"``)
    one image per call: the first call of the process apart (it imports ome-types), then
    the median of the others. (e) the peak RSS (``VmHWM``) of each importing process, and,
    with ``--upload-runs``, of the server's process tree while ``pyomero import`` (the CLI)
    uploads and imports a big file through HTTP (psutil sampling every 20 ms).
(a) per ``--workers`` value, a ``pyomero serve`` process; per run: 512 x 512 tiles of
    ``render_image_region ... ?tile=L,col,row&c=1|0:65535$FF0000,2|...&m=c`` at random
    positions of level 0 and of ``--mid-level`` (never the same tile twice in a row), p50/p95
    over one keep-alive httpx connection, then tiles/s with ``--clients`` wrk connections
    cycling through random tiles of both levels (wrk from Debian's package), with the
    server's CPU time per tile. Targets: the OME-Zarr copy and the in-place OME-TIFF.
(f) the same tiles, same order, same run, from ``large_image_tiles.py`` (large_image with its
    tifffile source, in its own venv: ``--large-image-python``) reading the same OME-TIFF,
    with the same number of uvicorn workers; and, in process, each engine's time per tile.
(b) ``render_thumbnail`` (96 px) of the thumbnail images: uncached (``DIR/thumbnails``
    removed first), then cached; also the big copies' and the in-place images' uncached.
(c) ``get_thumbnails`` of the 50 thumbnail images: uncached (3 calls per run, the cache
    removed before each) and cached (10 calls per run).
    Baselines in every run: ``GET /api/v0/`` (the framework's floor) and
    ``GET /api/v0/m/images/<id>/`` (login and one image from the database), 100 each.

Prints progress and a JSON summary (the median over runs of every figure); ``--json FILE``
keeps every run. ``--profile SECONDS`` samples with py-spy: one more copy import, and the
server (last ``--workers`` value) during two more wrk tile runs on the OME-Zarr copy, once
over all active threads and once over the GIL holder only (raw stacks kept in the workdir).

    apt-get install wrk; pip install -r benchmarks/requirements.txt
    python -m venv /tmp/li-venv && /tmp/li-venv/bin/pip install -r benchmarks/requirements-large-image.txt
    python benchmarks/pixels.py --workdir /tmp/pxbench --workers 1 2 --runs 3 --json /tmp/pixels.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from api_latency import (  # noqa: E402
    Server,
    cpu_seconds,
    free_port,
    login,
    percentiles,
    process_tree,
    source_fingerprint,
)
from pixel_data import write_image  # noqa: E402

PASSWORD = "bench-root"
SIZE = 16384
LEVELS = 5  # pyramid levels of the big OME-TIFF below full size (16384 ... 512)
SMALL = 2048
CHANNELS = "1%7C0:65535%24FF0000,2%7C0:65535%2400FF00,3%7C0:65535%240000FF"  # 1|0:65535$FF0000,..
HERE = Path(__file__).resolve().parent


def log(message: str = "") -> None:
    print(message, flush=True)


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------- data


def make_data(work: Path, patterns: Sequence[str], thumbs: int) -> dict[str, Any]:
    src = work / "src"
    data: dict[str, Any] = {"big": {}, "small": {}}
    for pattern in patterns:
        path = src / f"big-{pattern}.ome.tif"
        if not path.exists():
            log(f"writing {path} ({SIZE}x{SIZE}x3 uint16, {LEVELS} pyramid levels) ...")
        started = time.perf_counter()
        existed = path.exists()
        write_image(path, pattern=pattern, size=SIZE, pyramid_levels=LEVELS)
        if not existed:
            log(f"  {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s")
        data["big"][pattern] = path
    pattern = patterns[0]
    small = []
    for i in range(thumbs):
        small.append(
            write_image(
                src / "small" / f"small-{pattern}-{i:02d}.ome.tif",
                pattern=pattern,
                size=SMALL,
                pyramid_levels=2,
            )  # fmt: skip
        )
    data["small"] = small
    return data


def make_instance(work: Path) -> Path:
    directory = work / "instance"
    if directory.exists():
        shutil.rmtree(directory)
    script = shutil.which("pyomero") or str(Path(sys.executable).parent / "pyomero")
    subprocess.run(
        [script, "init", str(directory), "--root-password", PASSWORD],
        check=True, capture_output=True,
    )  # fmt: skip
    return directory


# ---------------------------------------------------------------------------- (d) import


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    return 0


def import_worker(argv: Sequence[str]) -> None:
    """Run in a fresh process: import ``paths`` as root, print JSON timings and memory."""
    parser = argparse.ArgumentParser(prog="pixels.py _import")
    parser.add_argument("--instance", type=Path, required=True)
    parser.add_argument("--transfer", default="copy")
    parser.add_argument("--each", action="store_true", help="one import_files call per path")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from pyomero.services import accounts, imports
    from pyomero.services.instance import load_instance

    instance = load_instance(args.instance)
    ctx = accounts.login(instance, username="root", password=PASSWORD)
    ready = time.perf_counter()
    rss_before = _vm("VmRSS")
    ome_types_loaded = "ome_types" in sys.modules
    calls = []
    groups = [[p] for p in args.paths] if args.each else [list(args.paths)]
    for group in groups:
        size = sum(p.stat().st_size for p in group)
        t0 = time.perf_counter()
        created = imports.import_files(ctx, group, transfer=args.transfer)
        seconds = time.perf_counter() - t0
        calls.append(
            {
                "seconds": seconds,
                "bytes": size,
                "files": len(group),
                "ids": [c.id for c in created if c.kind == "Image"],
            }
        )
    print(
        json.dumps(
            {
                "startup_s": ready - started,
                "ome_types_loaded_before_first_call": ome_types_loaded,
                "calls": calls,
                "rss_before_kb": rss_before,
                "peak_rss_kb": _vm("VmHWM"),
                "wall_s": time.perf_counter() - started,
            }
        )
    )


def run_import(instance: Path, transfer: str, paths: Sequence[Path], each: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "_import", "--instance", str(instance)]
    cmd += ["--transfer", transfer] + (["--each"] if each else []) + [str(p) for p in paths]
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"import failed: {out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - started
    return result


def ome_types_import_cost() -> float:
    code = "import time; t = time.perf_counter(); import ome_types; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def import_phase(args: argparse.Namespace, instance: Path, data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"copy": {}, "ln_s": {}}
    targets: dict[str, Any] = {"copy": {}, "ln_s": {}}
    for pattern, path in data["big"].items():
        runs = []
        for run in range(args.import_runs):
            load = load_average()
            one = run_import(instance, "copy", [path], each=False)
            call = one["calls"][0]
            mbs = call["bytes"] / 1e6 / call["seconds"]
            log(
                f"  copy {path.name} #{run + 1}: {call['seconds']:.1f} s, {mbs:.0f} MB/s, "
                f"process {one['process_wall_s']:.1f} s, peak RSS {one['peak_rss_kb'] / 1024:.0f} MB "
                f"(load {load[0]:.1f})"
            )
            runs.append(
                {
                    "seconds": call["seconds"],
                    "mb_per_s": mbs,
                    "bytes": call["bytes"],
                    "process_wall_s": one["process_wall_s"],
                    "peak_rss_mb": one["peak_rss_kb"] / 1024,
                    "rss_before_mb": one["rss_before_kb"] / 1024,
                    "load": load,
                    "image_id": call["ids"][0],
                }  # fmt: skip
            )
        result["copy"][pattern] = {
            "runs": runs,
            "mb_per_s": median([r["mb_per_s"] for r in runs]),
            "seconds": median([r["seconds"] for r in runs]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }
        targets["copy"][pattern] = [r["image_id"] for r in runs]
    # the thumbnail images, copied in one call
    one = run_import(instance, "copy", data["small"], each=False)
    call = one["calls"][0]
    result["copy"]["thumbnail_images"] = {
        "files": call["files"], "seconds": call["seconds"], "bytes": call["bytes"],
        "mb_per_s": call["bytes"] / 1e6 / call["seconds"],
        "peak_rss_mb": one["peak_rss_kb"] / 1024,
    }  # fmt: skip
    targets["small_copy"] = call["ids"]
    log(
        f"  copy {call['files']} thumbnail images in one call: {call['seconds']:.1f} s, "
        f"{call['bytes'] / 1e6 / call['seconds']:.0f} MB/s"
    )
    # in place: the thumbnail images one per call, then the big files
    result["ome_types_import_s"] = median([ome_types_import_cost() for _ in range(3)])
    per_image, first = [], []
    small_inplace: list[int] = []
    for run in range(args.import_runs):
        one = run_import(instance, "ln_s", data["small"], each=True)
        ms = [c["seconds"] * 1000 for c in one["calls"]]
        first.append(ms[0])
        per_image.extend(ms[1:])
        if run == 0:
            small_inplace = [c["ids"][0] for c in one["calls"]]
        log(
            f"  ln_s {len(ms)} images, one per call (run {run + 1}): first {ms[0]:.0f} ms, "
            f"then p50 {median(ms[1:]):.1f} ms, p95 {percentiles(ms[1:])['p95']:.1f} ms; "
            f"peak RSS {one['peak_rss_kb'] / 1024:.0f} MB"
        )
    big_inplace = {}
    big_ms = []
    for pattern, path in data["big"].items():
        one = run_import(instance, "ln_s", [path, path], each=True)
        big_ms.append(one["calls"][1]["seconds"] * 1000)
        big_inplace[pattern] = one["calls"][0]["ids"][0]
    result["ln_s"] = {
        "per_image_ms": percentiles(per_image),
        "first_call_ms": median(first),
        "first_call_ms_runs": first,
        "big_16k_second_call_ms": median(big_ms),
    }
    targets["small_inplace"] = small_inplace
    targets["ln_s"] = big_inplace
    if args.profile and shutil.which("py-spy"):
        pattern, path = next(iter(data["big"].items()))
        raw = Path(args.workdir) / "pyomero-import.pyspy.txt"
        log(f"  profiling one more copy import of {path.name} with py-spy ...")
        cmd = [sys.executable, __file__, "_import", "--instance", str(instance), str(path)]
        subprocess.run(
            [shutil.which("py-spy"), "record", "--format", "raw", "--rate", "100", "--threads",
             "-o", str(raw), "--", *cmd],
            check=True, capture_output=True,
        )  # fmt: skip
        result["import_profile"] = summarize_profile(raw, args.profile_top)
    log(f"  ln_s 16k image (second call of a process): {median(big_ms):.1f} ms")
    log(f"  `import ome_types` in a fresh process: {result['ome_types_import_s'] * 1000:.0f} ms")
    result["targets"] = targets
    return result


# ---------------------------------------------------------------------------- servers


class LargeImageServer:
    """``large_image_tiles.py`` under uvicorn, in the large_image venv's Python."""

    def __init__(self, python: str, path: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, LI_PATH=str(path))
        cmd = [
            python, "-m", "uvicorn", "large_image_tiles:app", "--app-dir", str(HERE),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        self.log = tempfile.NamedTemporaryFile(prefix="li-bench-server-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                self.log.flush()
                raise RuntimeError(f"large_image server exited: {Path(self.log.name).read_text()}")
            try:
                response = httpx.get(self.url + "/", timeout=30.0)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("large_image server not ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------------------- tiles


def tile_sequence(rng: random.Random, levels: Sequence[tuple[int, int]], count: int) -> list:
    """``count`` random (level, col, row), never the same tile twice in a row.

    ``levels`` is [(level, tiles per side)]; levels alternate at random.
    """
    out: list[tuple[int, int, int]] = []
    while len(out) < count:
        level, n = rng.choice(levels)
        tile = (level, rng.randrange(n), rng.randrange(n))
        if out and out[-1] == tile:
            continue
        out.append(tile)
    return out


def pyomero_tile_path(iid: int) -> Callable[[tuple[int, int, int]], str]:
    def path(t: tuple[int, int, int]) -> str:
        return (
            f"/webgateway/render_image_region/{iid}/0/0/?tile={t[0]},{t[1]},{t[2]}&c={CHANNELS}&m=c"
        )

    return path


def li_tile_path(t: tuple[int, int, int]) -> str:
    return f"/tile/{t[0]}/{t[1]}/{t[2]}"


def tile_latency(
    client: httpx.Client, paths: Sequence[str], server_pid: int, warmup: int = 5
) -> dict[str, float]:
    samples, sizes = [], []
    cpu = 0.0
    for index, path in enumerate(paths):
        if index == warmup:
            cpu = cpu_seconds(server_pid)
        started = time.perf_counter()
        response = client.get(path)
        body = response.content
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or not body.startswith(b"\xff\xd8"):
            raise RuntimeError(f"GET {path}: {response.status_code} {body[:200]!r}")
        if index >= warmup:
            samples.append(elapsed * 1000)
            sizes.append(len(body))
    result = percentiles(samples)
    result["server_cpu_ms"] = 1000 * (cpu_seconds(server_pid) - cpu) / len(samples)
    result["bytes_mean"] = statistics.fmean(sizes)
    return result


_WRK_SCRIPT = """
local paths = {%s}
local i = 0
local cookie = "%s"
init = function(args)
  -- each wrk thread starts elsewhere in the list
  i = math.random(#paths)
end
request = function()
  i = i + 1
  local headers = {}
  if cookie ~= "" then headers["Cookie"] = "sessionid=" .. cookie end
  return wrk.format("GET", paths[(i %% #paths) + 1], headers)
end
"""


def wrk(
    url: str, paths: Sequence[str], session: str, clients: int, seconds: float, threads: int = 1
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), session))
    try:
        command = [
            "wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "60s",
            "--latency", "-s", script.name, url,
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not found:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    requests = int(found.group(1))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out) or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result: dict[str, float] = {"rps": rps, "requests": requests}
    for label, key in (("50%", "p50"), ("99%", "p99")):
        hit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if hit:
            result[key] = float(hit.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[hit.group(2)]
    return result


def tile_throughput(
    url: str, paths: Sequence[str], session: str, server_pid: int, args: argparse.Namespace
) -> dict[str, float]:
    wrk(url, paths, session, args.clients, 2)  # warm-up: every worker opens its source
    load = load_average()
    cpu = cpu_seconds(server_pid)
    started = time.perf_counter()
    result = wrk(url, paths, session, args.clients, args.seconds)
    wall = time.perf_counter() - started
    used = cpu_seconds(server_pid) - cpu
    result["server_cpu_ms"] = 1000 * used / max(1, result["requests"])
    result["server_cores_busy"] = used / wall
    result["load"] = load[0]
    return result


def in_process_pyomero(instance_dir: Path, image_id: int, tiles: Sequence[tuple[int, int, int]]):
    """Per tile, in this process, through the rendering service: read, render, encode (ms)."""
    from starlette.datastructures import QueryParams

    from pyomero.pixels import render
    from pyomero.services import accounts, rendering
    from pyomero.services.instance import load_instance
    from pyomero.wire import render_params as rp

    instance = load_instance(instance_dir)
    ctx = accounts.login(instance, username="root", password=PASSWORD)
    view = rendering.open_image(ctx, image_id)
    query = QueryParams(f"c={CHANNELS}&m=c")
    req = rp.apply_rendering_query(view.rdef, query, size_z=view.record.size_z)
    channels = render.needed_channels(req.rdef)
    stages: dict[str, list[float]] = collections.defaultdict(list)
    tw, th = view.tile_size
    for index, (level, col, row) in enumerate(tiles):
        t0 = time.perf_counter()
        view = rendering.open_image(ctx, image_id)
        t1 = time.perf_counter()
        rect = (col * tw, row * th, tw, th)
        planes = rendering.read_planes(view, channels, z=0, t=0, level=level, region=rect)
        t2 = time.perf_counter()
        rgb = render.render(planes, req.rdef, pixel_type=view.record.pixel_type)
        t3 = time.perf_counter()
        body = rendering.encode_image(rgb)
        t4 = time.perf_counter()
        if index < 3:
            continue
        for name, value in (
            ("open_image (auth + SQL)", t1 - t0), ("read 3 channels", t2 - t1),
            ("render", t3 - t2), ("jpeg encode", t4 - t3), ("total", t4 - t0),
        ):  # fmt: skip
            stages[name].append(value * 1000)
        stages["bytes"].append(len(body))
    # a cached 96 px thumbnail of the same image: the lookup, then the cached file
    rendering.thumbnail(instance, view, longest=96)
    for _ in range(30):
        t0 = time.perf_counter()
        view = rendering.open_image(ctx, image_id)
        t1 = time.perf_counter()
        rendering.thumbnail(instance, view, longest=96)
        t2 = time.perf_counter()
        stages["cached thumbnail: open_image"].append((t1 - t0) * 1000)
        stages["cached thumbnail: thumbnail()"].append((t2 - t1) * 1000)
    return {name: median(values) for name, values in stages.items()}


def in_process_large_image(python: str, path: Path, tiles: Sequence[tuple[int, int, int]]):
    code = f"""
import json, sys, time
sys.path.insert(0, {str(HERE)!r})
import large_image_tiles as lit
src = lit.open_source({str(path)!r})
tiles = {list(tiles)!r}
times = []
for i, (level, col, row) in enumerate(tiles):
    t = time.perf_counter()
    body = src.getTile(col, row, src.levels - 1 - level)
    if i >= 3:
        times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({{"total": times[len(times) // 2], "bytes": len(body)}}))
"""
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def same_tile_check(client: httpx.Client, li_url: str, iid: int) -> dict[str, Any]:
    """Decode one level-0 tile from pyomero and from large_image: do they show the same?"""
    import io

    import numpy as np
    from PIL import Image

    tile = (0, 7, 11)
    ours = client.get(pyomero_tile_path(iid)(tile)).content
    theirs = httpx.get(li_url + li_tile_path(tile), timeout=120.0).content
    a = np.asarray(Image.open(io.BytesIO(ours)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(theirs)).convert("RGB"), dtype=np.int16)
    return {
        "shape": [list(a.shape), list(b.shape)],
        "mean_rgb": [a.mean(axis=(0, 1)).round(2).tolist(), b.mean(axis=(0, 1)).round(2).tolist()],
        "mean_abs_diff": float(np.abs(a - b).mean()),
        "bytes": [len(ours), len(theirs)],
    }


# ---------------------------------------------------------------------------- thumbnails


def thumbnail_series(
    client: httpx.Client, instance_dir: Path, targets: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    thumbs = instance_dir / "thumbnails"
    small = list(targets["small_copy"])

    def timed(path: str) -> tuple[float, bytes]:
        started = time.perf_counter()
        response = client.get(path)
        body = response.content
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {body[:200]!r}")
        return elapsed, body

    def render_thumbs(ids: Sequence[int]) -> list[float]:
        out = []
        for iid in ids:
            ms, body = timed(f"/webgateway/render_thumbnail/{iid}/")
            if not body.startswith(b"\xff\xd8"):
                raise RuntimeError("thumbnail is not a JPEG")
            out.append(ms)
        return out

    result: dict[str, Any] = {}
    # baselines in the same run: the framework alone, and one authenticated image GET
    result["baseline_api_base"] = percentiles([timed("/api/v0/")[0] for _ in range(100)])
    result["baseline_api_image"] = percentiles(
        [timed(f"/api/v0/m/images/{small[i % len(small)]}/")[0] for i in range(100)]
    )
    shutil.rmtree(thumbs, ignore_errors=True)
    rng.shuffle(small)
    result["uncached"] = percentiles(render_thumbs(small))
    cached = []
    for _ in range(4):
        order = small[:]
        rng.shuffle(order)
        cached += render_thumbs(order)
    result["cached"] = percentiles(cached)
    shutil.rmtree(thumbs, ignore_errors=True)
    big = [i for ids in targets["copy"].values() for i in ids]
    result["uncached_16k_copies"] = percentiles(render_thumbs(big))
    result["uncached_in_place_tiff"] = percentiles(render_thumbs(targets["small_inplace"]))
    result["uncached_in_place_16k"] = percentiles(render_thumbs(list(targets["ln_s"].values())))
    query = "/webgateway/get_thumbnails/?" + "&".join(f"id={i}" for i in small[:50])
    uncached, cached_calls = [], []
    for _ in range(3):
        shutil.rmtree(thumbs, ignore_errors=True)
        ms, body = timed(query)
        found = json.loads(body)
        if sum(1 for v in found.values() if v) != min(50, len(small)):
            raise RuntimeError("get_thumbnails missed some images")
        uncached.append(ms)
    for _ in range(10):
        cached_calls.append(timed(query)[0])
    result["get_thumbnails_uncached"] = percentiles(uncached)
    result["get_thumbnails_cached"] = percentiles(cached_calls)
    result["get_thumbnails_ids"] = min(50, len(small))
    return result


# ---------------------------------------------------------------------------- profile


def profile_tiles(
    server: Server, session: str, paths: Sequence[str], args: argparse.Namespace, out_dir: Path
) -> dict[str, Any]:
    """py-spy on every server process during a wrk tile run, twice: all active threads (C calls
    that release the GIL, and waits to get it back, count on their Python line), then only the
    thread holding the GIL (``--gil``: Python's CPU time; C code without the GIL is missing)."""
    py_spy = shutil.which("py-spy")
    if not py_spy:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    result: dict[str, Any] = {}
    for label, extra in (("active threads", []), ("GIL holder (--gil)", ["--gil"])):
        raw = out_dir / f"pyomero-tiles{'-gil' if extra else ''}.pyspy.txt"
        duration = args.profile
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--format",
             "raw", "--duration", str(duration), "--rate", "200", "--nonblocking", "-o", str(raw),
             *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)
        load = wrk(server.url, paths, session, args.clients, duration - 2)
        spy.wait()
        summary = summarize_profile(raw, args.profile_top)
        summary["rps_while_sampled"] = load["rps"]
        result[label] = summary
    return result


def summarize_profile(raw: Path, top_n: int) -> dict[str, Any]:
    """Self and inclusive shares of py-spy's raw (collapsed) stacks, and shares by layer."""
    self_counts: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        stack = _PROCESS.sub("", stack)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if any(needle in frames[-1] for needle in _IDLE):
            idle += count
            continue
        total += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        layers[_layer(frames)] += count
    top = lambda c: [(f, round(100 * n / total, 1)) for f, n in c.most_common(top_n)]  # noqa: E731
    return {
        "raw": str(raw),
        "samples": total,
        "idle_samples_left_out": idle,
        "layers_percent": {k: round(100 * v / total, 1) for k, v in layers.most_common()},
        "top_self": top(self_counts),
        "top_inclusive": top(inclusive),
    }


_PROCESS = re.compile(r'^(process \d+:"[^"]*"(;|$))+')

#: Leaf frames of threads that wait (py-spy does not always see them as idle).
_IDLE = (
    "Condition.wait", "Event.wait", "Queue.get", "select (selectors.py", "_worker (concurrent/",
)  # fmt: skip

_LAYERS = (
    ("jpeg encode (simplejpeg)", ("encode.py", "simplejpeg")),
    ("render (lookup tables, compositing)", ("pixels/render.py",)),
    ("read pixels (files, blosc / tifffile / zarr)", (
        "zarr_store.py", "array_source.py", "tiff_source.py", "tifffile", "zarr/", "numcodecs",
        "imagecodecs", "blosc")),
    ("rendering settings and request parsing", ("wire/render_params.py", "model/rendering.py")),
    ("database: auth and image lookup", ("sqlalchemy", "sqlite3", "pyomero/store/")),
    ("pyomero services / web", ("pyomero/services/", "pyomero/web/")),
    ("starlette", ("starlette/",)),
    ("anyio thread pool / threading", ("anyio/", "threading.py", "concurrent/")),
    ("uvicorn / httptools / asyncio", ("uvicorn/", "httptools", "asyncio/", "uvloop")),
)  # fmt: skip


def _layer(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        for name, needles in _LAYERS:
            if any(n in frame for n in needles):
                return name
    return "other"


# ---------------------------------------------------------------------------- upload import


def upload_import(server: Server, path: Path) -> dict[str, Any]:
    """``pyomero import PATH -s URL`` (upload + import through HTTP), sampling server RSS."""
    import psutil

    def tree_rss() -> int:
        total = 0
        for pid in process_tree(server.process.pid):
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total

    before = tree_rss()
    peak = [before]
    per_process_peak: dict[int, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in process_tree(server.process.pid):
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                per_process_peak[pid] = max(per_process_peak.get(pid, 0), rss)
            peak[0] = max(peak[0], tree_rss())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    script = shutil.which("pyomero") or str(Path(sys.executable).parent / "pyomero")
    started = time.perf_counter()
    out = subprocess.run(
        [script, "import", str(path), "-s", server.url, "-u", "root", "-w", PASSWORD],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-1500:]}
    size = path.stat().st_size
    return {
        "wall_s": wall,
        "mb_per_s": size / 1e6 / wall,
        "output": out.stdout.strip()[-200:],
        "server_tree_rss_before_mb": before / 2**20,
        "server_tree_rss_peak_mb": peak[0] / 2**20,
        "largest_process_peak_mb": max(per_process_peak.values(), default=0) / 2**20,
    }


# ---------------------------------------------------------------------------- main


def serve_phase(
    args: argparse.Namespace, instance: Path, data: dict[str, Any], targets: dict[str, Any],
    workers: int,
) -> dict[str, Any]:  # fmt: skip
    patterns = list(data["big"])
    server = Server(instance, workers, None)
    li_servers: dict[str, LargeImageServer] = {}
    out: dict[str, Any] = {"workers": workers, "runs": []}
    try:
        server.wait_ready()
        if args.large_image_python:
            for pattern in patterns:
                li_servers[pattern] = LargeImageServer(
                    args.large_image_python, data["big"][pattern], workers
                )
        client = httpx.Client(base_url=server.url, timeout=120.0)
        session = login(client, "root", PASSWORD)
        sources: dict[str, tuple[str, int]] = {}
        for pattern in patterns:
            sources[f"pyomero zarr copy ({pattern})"] = (pattern, targets["copy"][pattern][0])
            sources[f"pyomero in-place tiff ({pattern})"] = (pattern, targets["ln_s"][pattern])
        for name, (_, iid) in sources.items():
            meta = client.get(f"/webgateway/imgData/{iid}/").json()
            out.setdefault("imgdata", {})[name] = {
                "tile_size": meta.get("tile_size"), "levels": meta.get("levels"),
            }  # fmt: skip
            if meta.get("tile_size", {}).get("width") != 512:
                raise RuntimeError(f"{name}: expected 512 px tiles, imgData says {meta}")
        for pattern, li in li_servers.items():
            out.setdefault("large_image_info", {})[pattern] = li.wait_ready()
            out.setdefault("same_tile_check", {})[pattern] = same_tile_check(
                client, li.url, targets["ln_s"][pattern]
            )
            log(f"  same tile from both servers ({pattern}): {out['same_tile_check'][pattern]}")
        mid = args.mid_level
        levels = [(0, SIZE // 512), (mid, (SIZE >> mid) // 512)]
        for run in range(args.runs):
            rng = random.Random(1000 * workers + run)
            load = load_average()
            log(f"  run {run + 1}/{args.runs} (load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
            one: dict[str, Any] = {"load_before": load, "tiles": {}}
            per_level = {lv: tile_sequence(rng, [(lv, n)], args.tiles + 5) for lv, n in levels}
            li_per_level = {lv: seq[: args.li_tiles + 5] for lv, seq in per_level.items()}
            mixed = tile_sequence(rng, levels, 3000)
            for pattern in patterns:
                entries = [
                    (f"pyomero zarr copy ({pattern})", targets["copy"][pattern][0]),
                    (f"pyomero in-place tiff ({pattern})", targets["ln_s"][pattern]),
                ]
                for name, iid in entries:
                    path = pyomero_tile_path(iid)
                    tput = tile_throughput(
                        server.url, [path(t) for t in mixed], session, server.process.pid, args
                    )
                    lat = {
                        f"level{lv}": tile_latency(
                            client, [path(t) for t in seq], server.process.pid
                        )
                        for lv, seq in per_level.items()
                    }
                    one["tiles"][name] = {"latency": lat, "throughput": tput}
                    log(_tile_line(name, lat, tput))
                if pattern in li_servers:
                    li = li_servers[pattern]
                    name = f"large_image tifffile ({pattern})"
                    pid = li.process.pid
                    tput = tile_throughput(li.url, [li_tile_path(t) for t in mixed], "", pid, args)
                    with httpx.Client(base_url=li.url, timeout=120.0) as li_client:
                        lat = {
                            f"level{lv}": tile_latency(
                                li_client, [li_tile_path(t) for t in seq], pid
                            )
                            for lv, seq in li_per_level.items()
                        }
                    one["tiles"][name] = {"latency": lat, "throughput": tput}
                    log(_tile_line(name, lat, tput))
            one["thumbnails"] = thumbnail_series(client, instance, targets, rng)
            th = one["thumbnails"]
            log(
                f"    thumbnails p50: uncached {th['uncached']['p50']:.2f} ms, cached "
                f"{th['cached']['p50']:.2f} ms (16k copies uncached "
                f"{th['uncached_16k_copies']['p50']:.2f}, in-place tiff uncached "
                f"{th['uncached_in_place_tiff']['p50']:.2f}); get_thumbnails x{th['get_thumbnails_ids']}: uncached "
                f"{th['get_thumbnails_uncached']['p50']:.1f} ms, cached "
                f"{th['get_thumbnails_cached']['p50']:.1f} ms; baselines: GET /api/v0/ "
                f"{th['baseline_api_base']['p50']:.2f} ms, GET /api/v0/m/images/<id>/ "
                f"{th['baseline_api_image']['p50']:.2f} ms"
            )
            one["load_after"] = load_average()
            out["runs"].append(one)
        if args.upload_runs and workers == args.workers[-1]:
            out["upload_import"] = []
            for _ in range(args.upload_runs):
                pattern = patterns[0]
                log(f"  pyomero import {data['big'][pattern].name} through the server (upload) ...")
                res = upload_import(server, data["big"][pattern])
                log(f"    {res}")
                out["upload_import"].append(res)
        if args.profile and workers == args.workers[-1]:
            pattern = patterns[0]
            rng = random.Random(99)
            paths = [pyomero_tile_path(targets["copy"][pattern][0])(t)
                     for t in tile_sequence(rng, levels, 3000)]  # fmt: skip
            log(f"  profiling the server with py-spy for {args.profile} s ...")
            out["profile"] = profile_tiles(server, session, paths, args, Path(args.workdir))
        client.close()
    finally:
        server.stop()
        for li in li_servers.values():
            li.stop()
    return out


def _tile_line(name: str, lat: dict[str, Any], tput: dict[str, Any]) -> str:
    parts = [
        f"{lv}: p50 {v['p50']:.1f} / p95 {v['p95']:.1f} ms ({v['server_cpu_ms']:.1f} ms CPU, "
        f"{v['bytes_mean'] / 1000:.0f} KB)"
        for lv, v in lat.items()
    ]
    return (
        f"    {name}: "
        + "; ".join(parts)
        + f"; {tput['rps']:.1f} tiles/s ({tput['server_cpu_ms']:.1f} ms CPU/tile, "
        f"{tput['server_cores_busy']:.2f} cores)"
    )


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for serve in result["serve"]:
        w = serve["workers"]
        runs = serve["runs"]
        names = list(runs[0]["tiles"])
        tiles: dict[str, Any] = {}
        for name in names:
            entry: dict[str, Any] = {}
            for lv in runs[0]["tiles"][name]["latency"]:
                for key in ("p50", "p95", "server_cpu_ms", "bytes_mean"):
                    entry[f"{lv}_{key}"] = median(
                        [r["tiles"][name]["latency"][lv][key] for r in runs]
                    )
            for key in ("rps", "server_cpu_ms", "server_cores_busy"):
                vals = [r["tiles"][name]["throughput"][key] for r in runs]
                entry[f"throughput_{key}"] = median(vals)
                if key == "rps":
                    entry["throughput_rps_runs"] = vals
            tiles[name] = entry
        for pattern in ("noisy", "gradient"):
            li = tiles.get(f"large_image tifffile ({pattern})")
            if not li:
                continue
            for kind in ("zarr copy", "in-place tiff"):
                ours = tiles.get(f"pyomero {kind} ({pattern})")
                if not ours:
                    continue
                ratios = {}
                for key in li:
                    if key.endswith("_p50") or key == "throughput_rps":
                        ratios[key] = ours[key] / li[key]
                tiles[f"ratio pyomero {kind} / large_image ({pattern})"] = ratios
        thumbs: dict[str, Any] = {}
        for key in runs[0]["thumbnails"]:
            if isinstance(runs[0]["thumbnails"][key], dict):
                thumbs[f"{key}_p50"] = median([r["thumbnails"][key]["p50"] for r in runs])
                thumbs[f"{key}_p95"] = median([r["thumbnails"][key]["p95"] for r in runs])
        loads = [x for r in runs for x in (r["load_before"][0], r["load_after"][0])]
        summary[f"workers={w}"] = {
            "tiles": tiles,
            "thumbnails": thumbs,
            "load_1min_range": [min(loads), max(loads)],
        }
        if "upload_import" in serve:
            summary[f"workers={w}"]["upload_import"] = serve["upload_import"]
        if "profile" in serve:
            summary[f"workers={w}"]["profile"] = serve["profile"]
    imp = result["import"]
    summary["import"] = {
        "copy_mb_per_s": {p: v["mb_per_s"] for p, v in imp["copy"].items()},
        "copy_seconds": {p: v["seconds"] for p, v in imp["copy"].items()},
        "copy_peak_rss_mb": {p: v["peak_rss_mb"] for p, v in imp["copy"].items()},
        "ln_s_per_image_ms_p50": imp["ln_s"]["per_image_ms"]["p50"],
        "ln_s_per_image_ms_p95": imp["ln_s"]["per_image_ms"]["p95"],
        "ln_s_first_call_ms": imp["ln_s"]["first_call_ms"],
        "ln_s_16k_ms": imp["ln_s"]["big_16k_second_call_ms"],
        "ome_types_import_ms": imp["ome_types_import_s"] * 1000,
    }
    summary["in_process"] = result.get("in_process")
    if "import_profile" in imp:
        summary["import_profile"] = imp["import_profile"]
    return summary


def warm_page_cache(instance: Path, data: dict[str, Any], targets: dict[str, Any]) -> int:
    """Read the files the tile series use once, so every engine reads from the page cache."""
    from pyomero.services import accounts
    from pyomero.services.instance import load_instance
    from pyomero.store import pixels as store

    files = list(data["big"].values())
    inst = load_instance(instance)
    ctx = accounts.login(inst, username="root", password=PASSWORD)
    with inst.db.read() as conn:
        for ids in targets["copy"].values():
            record = store.pixels_record(conn, ctx.actor, ids[0])
            if record is not None and record.path:
                files += [p for p in (instance / "pixels" / record.path).rglob("*") if p.is_file()]
    total = 0
    for path in files:
        with open(path, "rb") as f:
            while block := f.read(8 << 20):
                total += len(block)
    return total


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "mem_kb": int(mem), "kernel": platform.release(),
        "python": platform.python_version(),
    }  # fmt: skip


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("numpy", "tifffile", "imagecodecs", "numcodecs", "zarr", "simplejpeg",
                 "starlette", "uvicorn", "ome-types", "Pillow"):  # fmt: skip
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "-"
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_import":
        import_worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description="Issue 3's pixel targets through the real server (see the module doc).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--workdir", type=Path, help="data and instance (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep a temporary --workdir")
    parser.add_argument("--pattern", nargs="+", choices=("noisy", "gradient"), default=["noisy"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tiles", type=int, default=150, help="latency tiles per level per run")
    parser.add_argument("--li-tiles", type=int, default=40, help="same, for large_image")
    parser.add_argument("--mid-level", type=int, default=2, help="the middle level (4096 px)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk run")
    parser.add_argument("--thumb-images", type=int, default=50)
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--upload-runs", type=int, default=1, help="CLI upload imports (0: none)")
    parser.add_argument(
        "--large-image-python", default="/tmp/li-venv/bin/python",
        help="Python with large_image (requirements-large-image.txt); '' to skip the baseline",
    )  # fmt: skip
    parser.add_argument("--profile", type=int, default=0, help="py-spy seconds (0: no profile)")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    if args.large_image_python and not Path(args.large_image_python).exists():
        raise SystemExit(f"{args.large_image_python} not found; pass --large-image-python ''")
    temporary = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="pyomero-pixels-")) if temporary else args.workdir
    args.workdir = work
    work.mkdir(parents=True, exist_ok=True)
    os.environ["PYOMERO_IMPORT_ROOTS"] = str((work / "src").resolve())
    result: dict[str, Any] = {
        "sources_fingerprint": source_fingerprint(),
        "machine": machine(),
        "libraries": library_versions(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "load_start": load_average(),
    }
    log(f"sources {result['sources_fingerprint']}, workdir {work}, load {result['load_start']}")
    started = time.perf_counter()
    try:
        data = make_data(work, args.pattern, args.thumb_images)
        instance = make_instance(work)
        log("import (d, e):")
        result["import"] = imp = import_phase(args, instance, data)
        targets = imp["targets"]
        started_warm = time.perf_counter()
        warmed = warm_page_cache(instance, data, targets)
        log(
            f"read {warmed / 1e9:.1f} GB of tile sources into the page cache in "
            f"{time.perf_counter() - started_warm:.0f} s"
        )
        log("in process, per tile (median ms):")
        rng = random.Random(5)
        seq = tile_sequence(
            rng, [(0, SIZE // 512), (args.mid_level, (SIZE >> args.mid_level) // 512)], 60
        )
        inproc: dict[str, Any] = {}
        for pattern in data["big"]:
            for kind, iid in (("zarr copy", targets["copy"][pattern][0]),
                              ("in-place tiff", targets["ln_s"][pattern])):  # fmt: skip
                inproc[f"pyomero {kind} ({pattern})"] = in_process_pyomero(instance, iid, seq)
            if args.large_image_python:
                inproc[f"large_image ({pattern})"] = in_process_large_image(
                    args.large_image_python, data["big"][pattern], seq[:25]
                )
        for name, stages in inproc.items():
            log(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
        result["in_process"] = inproc
        result["serve"] = []
        for workers in args.workers:
            log(f"serve --workers {workers}:")
            result["serve"].append(serve_phase(args, instance, data, targets, workers))
    finally:
        result["elapsed_s"] = time.perf_counter() - started
        result["load_end"] = load_average()
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, default=str))
        if temporary and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(result)
    result["summary"] = summary
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    log(json.dumps(summary, indent=1, default=str))
    log(f"elapsed {result['elapsed_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
