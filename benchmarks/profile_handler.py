"""Where the time of one JSON API request goes, in process, without HTTP.

Runs the real handler the server runs in its thread pool (``web.api_view._run`` with the
route's handler and a Starlette ``Request`` built from an ASGI scope) for the 200-image
page (``/m/images/?dataset=&normalize=true&childCount=true``) and the single image GET,
and times it stage by stage with the same functions the handler calls:

1. ``auth``:    ``accounts.join_session`` (session row + actor, two SQL queries);
2. ``service``: ``objects.list_objects`` / ``get_object`` (SQL and rows -> model objects);
3. ``encode``:  ``json_api._encode_page`` + ``marshal.normalize`` (model -> JSON dicts);
4. ``dumps``:   ``web.responses.dumps`` (dicts -> bytes);
5. ``handler``: the whole ``_run`` (all of the above plus parsing and the Response).

Then profiles ``_run`` with cProfile (``--profile cprofile``, default) or pyinstrument
(``--profile pyinstrument``) and prints the top functions.

    python benchmarks/profile_handler.py /tmp/pyomero-bench-sqlite --repeat 200
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request

from pyomero.services import accounts, objects
from pyomero.services.instance import load_instance
from pyomero.services.objects import ListQuery
from pyomero.web import json_api
from pyomero.web.api_view import ApiCall, _run
from pyomero.web.app import create_app
from pyomero.web.responses import dumps
from pyomero.wire import marshal

sys.path.insert(0, str(Path(__file__).parent))
from api_latency import readable_targets  # noqa: E402


def request_for(
    app: Any, path: str, query: str, session: str, path_params: dict[str, Any]
) -> Request:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 4080),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:4080"), (b"cookie", f"sessionid={session}".encode())],
        "app": app,
        "path_params": path_params,
    }
    return Request(scope)


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 10) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "mean": statistics.fmean(samples),
        "p95": samples[int(len(samples) * 0.95)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--profile", choices=("cprofile", "pyinstrument", "none"), default="cprofile"
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    info = json.loads((args.directory / "benchmark.json").read_text())
    overrides = {"database_url": args.database_url} if args.database_url else {}
    instance = load_instance(args.directory, **overrides)
    app = create_app(instance)
    ctx = accounts.login(instance, username=info["user"], password=info["password"])
    session = ctx.session_uuid
    rng = random.Random(args.seed)
    datasets, images = readable_targets(instance, info["user"], rng, args.repeat + 20)
    ds_iter, im_iter = iter(datasets * 10), iter(images * 10)

    list_route = next(r for r in json_api.LIST_ROUTES if r.path == "images/")
    list_handler = json_api._list_handler(list_route)
    single_handler = json_api._single_handler("image")

    def list_call() -> ApiCall:
        query = f"dataset={next(ds_iter)}&normalize=true&childCount=true"
        request = request_for(app, "/api/v0/m/images/", query, session, {})
        return ApiCall(request=request, instance=instance, body=b"", form={})

    def single_call() -> ApiCall:
        image_id = str(next(im_iter))
        request = request_for(
            app, f"/api/v0/m/images/{image_id}/", "", session, {"object_id": image_id}
        )
        return ApiCall(request=request, instance=instance, body=b"", form={})

    # one full page, kept for the encode and dumps stages
    page = objects.list_objects(
        ctx, "image", query=ListQuery(limit=200, filters={"dataset": datasets[0]}), child_count=True
    )
    probe = list_call()
    probe.ctx = ctx

    def encode_list() -> list[dict[str, Any]]:
        data = json_api._encode_page(probe, "image", page, json_api.LIST_URLS["image"])
        marshal.normalize(data)
        return data

    encoded = encode_list()
    experimenters, groups = marshal.normalize(
        json_api._encode_page(probe, "image", page, json_api.LIST_URLS["image"])
    )
    body = {"experimenters": experimenters, "experimenterGroups": groups, "data": encoded,
            "meta": {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": page.total}}  # fmt: skip
    raw = dumps(body)
    import orjson

    print(f"{instance.db.dialect}, {info['images']:,} images; {args.repeat} repetitions; ms")
    print(f"200-image page body: {len(raw):,} bytes, ASCII-only after orjson: "
          f"{orjson.dumps(body).isascii()}")  # fmt: skip
    stages = {
        "list auth (join_session)": lambda: accounts.join_session(instance, session),
        "list service (list_objects)": lambda: objects.list_objects(
            ctx,
            "image",
            query=ListQuery(limit=200, filters={"dataset": next(ds_iter)}),
            child_count=True,
        ),
        "list encode (_encode_page + normalize)": encode_list,
        "list dumps (responses.dumps)": lambda: dumps(body),
        "list   orjson.dumps alone": lambda: orjson.dumps(body),
        "list handler (_run, all of it)": lambda: _run(list_handler, list_call(), True, True),
        "single service (get_object)": lambda: objects.get_object(ctx, "image", next(im_iter)),
        "single handler (_run, all of it)": lambda: _run(single_handler, single_call(), True, True),
    }
    for name, fn in stages.items():
        r = timed(fn, args.repeat)
        print(f"  {name:<42} p50 {r['p50']:7.3f}  mean {r['mean']:7.3f}  p95 {r['p95']:7.3f}")

    for label, handler, make in (
        ("200-image page", list_handler, list_call),
        ("single image", single_handler, single_call),
    ):
        calls = [make() for _ in range(args.repeat)]
        print(f"\n=== profile of _run for the {label}, {args.repeat} calls ===")
        if args.profile == "cprofile":
            profiler = cProfile.Profile()
            profiler.enable()
            for call in calls:
                _run(handler, call, True, True)
            profiler.disable()
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
                text = out.getvalue()
                print(f"--- sorted by {order} ---")
                print(text[text.find("   ncalls") :].rstrip())
        elif args.profile == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            for call in calls:
                _run(handler, call, True, True)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    instance.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
