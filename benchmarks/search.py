"""Annotations, tables and key-value search at scale, over real HTTP (issue 4 item 9).

Builds an instance (``pyomero init``) with ``--images`` images spread over ``--groups``
read-annotate groups and one private group, one user each; ``user0`` is also a member of every
read-annotate group, so it reads all but the private group's images (the IDR public user's
view). Each image carries one Map annotation of ``--pairs`` pairs: ``Gene Symbol`` drawn from
``--genes`` distinct values, ``Organism`` and filler keys. A Screen of 250 plates
(16 x 25 wells, one image each) gets a ``--table-rows``-row bulk-annotation table populated
from a CSV through ``services.tables.populate`` (the ``metadata populate`` code path).

Then starts ``pyomero serve`` and, logged in as ``user0``, measures p50/p95 of:

- ``exact``:       ``search/?key=Gene Symbol&value=<gene>`` (a random gene each time);
- ``contains``:    ``search/?key=Gene Symbol&value=<4 letters of a gene>&operator=contains``;
- ``buckets``:     ``searchvaluesusingkey/?key=Gene Symbol`` (``--genes`` distinct values);
- ``annotations``: ``/webclient/api/annotations/?type=map&image=<random readable image>``;
- ``table``:       ``/webgateway/table/<file id>/query/?query=Well-<random well>``;
- ``table_object``: ``/webgateway/table/Screen.plateLinks.child.wells/<well>/query/?query=Well-<well>``.

The issue's scale, on SQLite then PostgreSQL; ``--reuse`` measures an instance filled before
(its ``bench.json`` says what it holds) without filling it again::

    python benchmarks/search.py --images 1000000 --pairs 3 --genes 20000 --groups 4 \\
        --dir /tmp/bench-search-sqlite
    python benchmarks/search.py --dir /tmp/bench-search-sqlite --reuse
    python benchmarks/search.py --images 1000000 --pairs 3 --genes 20000 --groups 4 \\
        --dir /tmp/bench-search-pg \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pyomero_bench_search
    python benchmarks/search.py --dir /tmp/bench-search-pg --reuse \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pyomero_bench_search

The PostgreSQL database must exist and be empty (``createdb``); the instance directory must
not exist unless ``--reuse``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))

from api_latency import Server, login, percentiles  # noqa: E402

from pyomero.model.permissions import GroupLevel  # noqa: E402
from pyomero.services import accounts, tables  # noqa: E402
from pyomero.services.instance import init_instance, load_instance  # noqa: E402
from pyomero.store import bulk, schema  # noqa: E402
from pyomero.store.schema import experimenter, experimentergroup  # noqa: E402

R = "/searchengine/api/v1/resources/image"
PASSWORD = "bench-password"
META = "bench.json"
PLATES, PLATE_ROWS, PLATE_COLUMNS = 250, 16, 25
CHUNK = 50_000
SCREEN = "bench screen"


def gene_names(count: int) -> list[str]:
    rng = random.Random(7)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(letters) for _ in range(4)) + str(rng.randint(1, 99)))
    return sorted(names)


def _accounts(instance: Any, groups: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    for name in groups:
        level = GroupLevel.PRIVATE if name == "private" else GroupLevel.READ_ANNOTATE
        accounts.add_group(instance, name=name, level=level)
    labs = [g for g in groups if g != "private"]
    for n, name in enumerate(groups):
        member_of = labs if n == 0 else [name]
        accounts.add_user(
            instance,
            username=f"user{n}",
            first_name="U",
            last_name=str(n),
            groups=member_of,
            password=PASSWORD,
        )
    with instance.db.read() as conn:
        gids = dict(conn.execute(select(experimentergroup.c.name, experimentergroup.c.id)).all())
        uids = dict(conn.execute(select(experimenter.c.omename, experimenter.c.id)).all())
    return gids, uids


def _images(instance: Any, args: argparse.Namespace, genes: list[str], groups: list[str],
            gids: dict[str, int], uids: dict[str, int]) -> dict[str, list[int]]:  # fmt: skip
    """The annotated images, per group: (first id, last id) ranges (ids are consecutive)."""
    rng = random.Random(1)
    per_group = args.images // len(groups)
    ranges: dict[str, list[int]] = {}
    for n, name in enumerate(groups):
        owner, group = uids[f"user{n}"], gids[name]
        first = last = 0
        for start in range(0, per_group, CHUNK):
            count = min(CHUNK, per_group - start)
            with instance.db.write() as conn:
                event = bulk.new_event(conn, owner_id=owner, group_id=group)
                who: dict[str, Any] = {"owner_id": owner, "group_id": group, "event_id": event}
                ids = bulk.insert_images(
                    conn, **who, images=[{"name": f"{name}-{start + i}"} for i in range(count)]
                )
                rows = []
                for iid in ids:
                    pairs = [("Gene Symbol", rng.choice(genes)), ("Organism", "Homo sapiens")]
                    pairs += [
                        (f"Key {k}", f"value {rng.randint(0, 999)}") for k in range(args.pairs - 2)
                    ]
                    rows.append((iid, pairs[: args.pairs]))
                bulk.load_map_annotations(conn, **who, resource="image", annotations=rows)
            first = first or ids[0]
            last = ids[-1]
        ranges[name] = [first, last]
        print(f"  filled {name}: {per_group} images", file=sys.stderr)
    return ranges


def _table(instance: Any, rows: int, gid: int, uid: int) -> dict[str, Any]:
    """A Screen of plates with one image per well, and a bulk-annotation table of ``rows``
    rows (one per well) populated from a CSV as ``pyomero metadata populate`` does."""
    per_plate = PLATE_ROWS * PLATE_COLUMNS
    plates = -(-rows // per_plate)
    wells: list[int] = []
    lines = ["# header plate,well,s,l,d", "Plate,Well,Gene Symbol,Count,Score"]
    with instance.db.write() as conn:
        who = {"owner_id": uid, "group_id": gid}
        screen = conn.scalar(select(schema.screen.c.id).where(schema.screen.c.name == SCREEN))
        if screen is None:
            (screen,) = bulk.insert_screens(conn, **who, screens=[{"name": SCREEN}])
            for p in range(plates):
                bulk.insert_plate(
                    conn, **who, name=f"P{p}", rows=PLATE_ROWS, columns=PLATE_COLUMNS,
                    acquisitions=0, screen_id=screen,
                )  # fmt: skip
        link, well = schema.screenplatelink, schema.well
        plate_wells = conn.execute(
            select(schema.plate.c.name, well.c.id, well.c.row, well.c.column)
            .join(link, link.c.child == schema.plate.c.id)
            .join(well, well.c.plate == schema.plate.c.id)
            .where(link.c.parent == screen)
            .order_by(well.c.id)
        ).all()
    for plate_name, wid, row, column in plate_wells[:rows]:
        name = f"{bulk.row_name(row)}{column + 1}"
        n = len(wells)
        lines.append(f"{plate_name},{name},G{n % 997},{n},{(row * column) / 7:.3f}")
        wells.append(wid)
    ctx = accounts.login(instance, username="user0", password=PASSWORD)
    made = tables.populate(
        ctx, target="Screen", target_id=screen, content=("\n".join(lines) + "\n").encode()
    )
    return {"screen": screen, "file": made.original_file, "wells": [wells[0], wells[-1]],
            "rows": made.rows}  # fmt: skip


def _ranges(instance: Any, groups: list[str], gids: dict[str, int]) -> dict[str, list[int]]:
    """The annotated images' id range per group, read back (``--resume``)."""
    link = schema.annotation_links["image"]
    with instance.db.read() as conn:
        found = conn.execute(
            select(schema.image.c.group_id, func.min(link.c.parent), func.max(link.c.parent))
            .join(link, link.c.parent == schema.image.c.id)
            .group_by(schema.image.c.group_id)
        ).all()
    by_group = {g: [lo, hi] for g, lo, hi in found}
    return {name: by_group[gids[name]] for name in groups}


def fill(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    groups = [f"lab{g}" for g in range(args.groups)] + ["private"]
    if args.resume:  # the images are in, the table is not: an interrupted fill
        instance = load_instance(directory)
        with instance.db.read() as conn:
            gids = dict(
                conn.execute(select(experimentergroup.c.name, experimentergroup.c.id)).all()
            )
            uids = dict(conn.execute(select(experimenter.c.omename, experimenter.c.id)).all())
        ranges = _ranges(instance, groups, gids)
    else:
        instance = init_instance(directory, root_password=PASSWORD, database_url=args.database_url)
        gids, uids = _accounts(instance, groups)
        ranges = _images(instance, args, gene_names(args.genes), groups, gids, uids)
    images_done = time.perf_counter()
    table = _table(instance, args.table_rows, gids["lab0"], uids["user0"])
    table_done = time.perf_counter()
    instance.refresh_statistics()
    if args.database_url:
        # refresh_statistics leaves PostgreSQL to autovacuum, which had not analysed the
        # freshly loaded tables minutes later; without statistics the planner takes the
        # 250-plate screen for 7 rows and a document's container lookup for 0.7 s
        with instance.db.write() as conn:
            conn.exec_driver_sql("ANALYZE")
    instance.close()
    meta = {
        "images": args.images,
        "pairs": args.images // len(groups) * len(groups) * args.pairs,
        "genes": args.genes,
        "groups": len(groups),
        "readable": {g: r for g, r in ranges.items() if g != "private"},
        "table": table,
        "fill_seconds": {
            "images_and_pairs": round(images_done - started, 1),
            "table": round(table_done - images_done, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    (directory / META).write_text(json.dumps(meta, indent=2))
    print(f"fill: {meta['fill_seconds']}", file=sys.stderr)
    return meta


def measure(client: httpx.Client, urls: list[tuple[str, dict[str, str]]],
            error_key: str = "Error") -> dict[str, float]:  # fmt: skip
    for path, params in urls[:5]:
        client.get(path, params=params).raise_for_status()
    samples = []
    for path, params in urls:
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
        body = response.json()
        if isinstance(body, dict) and error_key in body:
            raise RuntimeError(f"{path}: {response.text[:300]}")
    return percentiles(samples)


def workload(meta: dict[str, Any], requests: int) -> dict[str, list[tuple[str, dict[str, str]]]]:
    rng = random.Random(2)
    genes = gene_names(meta["genes"])
    key = {"key": "Gene Symbol"}
    ranges = list(meta["readable"].values())
    table = meta["table"]

    def image() -> str:
        first, last = rng.choice(ranges)
        return str(rng.randint(first, last))

    def well() -> int:
        return rng.randint(*table["wells"])

    wells = [well() for _ in range(requests)]
    object_table = "/webgateway/table/Screen.plateLinks.child.wells"
    return {
        "exact": [(f"{R}/search/", {**key, "value": rng.choice(genes)}) for _ in range(requests)],
        "contains": [
            (f"{R}/search/", {**key, "value": rng.choice(genes)[:4], "operator": "contains"})
            for _ in range(requests)
        ],
        "buckets": [(f"{R}/searchvaluesusingkey/", key) for _ in range(max(20, requests // 10))],
        "annotations": [
            ("/webclient/api/annotations/", {"type": "map", "image": image()})
            for _ in range(requests)
        ],
        "table": [
            (f"/webgateway/table/{table['file']}/query/", {"query": f"Well-{w}"}) for w in wells
        ],
        "table_object": [(f"{object_table}/{w}/query/", {"query": f"Well-{w}"}) for w in wells],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--groups", type=int, default=4, help="read-annotate groups")
    parser.add_argument("--table-rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--dir", type=Path, default=None, help="instance directory (kept)")
    parser.add_argument("--reuse", action="store_true", help="measure --dir without filling")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted fill")
    parser.add_argument("--only", default=None, help="comma-separated families to measure")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="pyomero-search-")) / "instance"
    if args.reuse:
        if args.dir is None:
            parser.error("--reuse needs --dir")
        meta = json.loads((directory / META).read_text())
        # open once here: a pending migration runs now, not inside a worker's start
        started = time.perf_counter()
        load_instance(directory).close()
        print(f"open (and migrate): {time.perf_counter() - started:.1f} s", file=sys.stderr)
    else:
        meta = fill(directory, args)
    server = Server(directory, args.workers, args.database_url)
    families = workload(meta, args.requests)
    if args.only:
        families = {k: v for k, v in families.items() if k in args.only.split(",")}
    result: dict[str, Any] = {
        "backend": "postgresql" if args.database_url else "sqlite",
        "workers": args.workers,
        **{k: meta[k] for k in ("images", "pairs", "genes", "groups", "fill_seconds")},
        "table_rows": meta["table"]["rows"],
    }
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=300) as client:
            login(client, "user0", PASSWORD)
            for name, urls in families.items():
                error_key = "error" if name.startswith("table") else "Error"
                result[name] = measure(client, urls, error_key)
    finally:
        server.stop()
    print(json.dumps(result, indent=2))
    for name in families:
        r = result[name]
        print(f"{name:12s} p50 {r['p50']:9.2f} ms  p95 {r['p95']:9.2f} ms  (n={r['n']})")


if __name__ == "__main__":
    main()
