"""Key-value search latency over real HTTP (issue 4 item 9).

Builds an instance (``pyomero init``) with ``--images`` images in ``--groups`` read-annotate
groups (one user each, plus a private group whose pairs nobody else may see), each image
carrying ``--pairs`` key-value pairs: ``Gene Symbol`` drawn from ``--genes`` distinct values,
``Organism`` and filler keys. Then starts ``pyomero serve``, logs in as the first user and
measures p50/p95 of:

- ``exact``:    ``search/?key=Gene Symbol&value=<gene>`` (a random gene each time);
- ``contains``: ``search/?key=Gene Symbol&value=<4 letters of a gene>&operator=contains``;
- ``buckets``:  ``searchvaluesusingkey/?key=Gene Symbol``;

Small by default (20,000 images, 60,000 pairs). The issue's scale, 1 M images and 3 M
pairs with 20,000 genes::

    python benchmarks/search.py --images 1000000 --pairs 3 --genes 20000 --groups 4
    python benchmarks/search.py --images 1000000 ... --database-url postgresql://...
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

sys.path.insert(0, str(Path(__file__).parent))

from api_latency import Server, login, percentiles  # noqa: E402

from pyomero.model.permissions import GroupLevel  # noqa: E402
from pyomero.services import accounts  # noqa: E402
from pyomero.services.instance import init_instance  # noqa: E402
from pyomero.store import bulk  # noqa: E402
from pyomero.store.bulk import insert_map_annotations  # noqa: E402

R = "/searchengine/api/v1/resources/image"
PASSWORD = "bench-password"


def gene_names(count: int) -> list[str]:
    rng = random.Random(7)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(letters) for _ in range(4)) + str(rng.randint(1, 99)))
    return sorted(names)


def fill(directory: Path, args: argparse.Namespace) -> list[str]:
    started = time.perf_counter()
    instance = init_instance(directory, root_password=PASSWORD, database_url=args.database_url)
    genes = gene_names(args.genes)
    rng = random.Random(1)
    groups = [f"lab{g}" for g in range(args.groups)] + ["private"]
    for n, name in enumerate(groups):
        level = GroupLevel.PRIVATE if name == "private" else GroupLevel.READ_ANNOTATE
        accounts.add_group(instance, name=name, level=level)
        accounts.add_user(
            instance,
            username=f"user{n}",
            first_name="U",
            last_name=str(n),
            groups=[name],
            password=PASSWORD,
        )
    per_group = args.images // len(groups)
    chunk = 50_000
    with instance.db.read() as conn:
        from sqlalchemy import select

        from pyomero.store.schema import experimenter, experimentergroup

        gids = {
            n: i for n, i in conn.execute(select(experimentergroup.c.name, experimentergroup.c.id))
        }
        uids = {n: i for n, i in conn.execute(select(experimenter.c.omename, experimenter.c.id))}
    for n, name in enumerate(groups):
        owner, group = uids[f"user{n}"], gids[name]
        for start in range(0, per_group, chunk):
            count = min(chunk, per_group - start)
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
                insert_map_annotations(conn, **who, resource="image", annotations=rows)
        print(f"  filled {name}: {per_group} images", file=sys.stderr)
    instance.refresh_statistics()
    instance.close()
    print(f"fill: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return genes


def measure(client: httpx.Client, urls: list[tuple[str, dict[str, str]]]) -> dict[str, float]:
    for path, params in urls[:5]:
        client.get(path, params=params).raise_for_status()
    samples = []
    for path, params in urls:
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
        if "Error" in response.json():
            raise RuntimeError(response.text[:300])
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--dir", type=Path, default=None, help="instance directory (kept)")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="pyomero-search-")) / "instance"
    genes = fill(directory, args)
    server = Server(directory, args.workers, args.database_url)
    try:
        server.wait_ready()
        rng = random.Random(2)
        with httpx.Client(base_url=server.url, timeout=120) as client:
            login(client, "user0", PASSWORD)
            key = {"key": "Gene Symbol"}
            exact = [
                (f"{R}/search/", {**key, "value": rng.choice(genes)}) for _ in range(args.requests)
            ]
            contains = [
                (f"{R}/search/", {**key, "value": rng.choice(genes)[:4], "operator": "contains"})
                for _ in range(args.requests)
            ]
            buckets = [
                (f"{R}/searchvaluesusingkey/", key) for _ in range(max(20, args.requests // 10))
            ]
            result = {
                "images": args.images,
                "pairs": args.images * args.pairs,
                "genes": args.genes,
                "backend": "postgresql" if args.database_url else "sqlite",
                "exact": measure(client, exact),
                "contains": measure(client, contains),
                "buckets": measure(client, buckets),
            }
    finally:
        server.stop()
    print(json.dumps(result, indent=2))
    for name in ("exact", "contains", "buckets"):
        r = result[name]
        print(f"{name:9s} p50 {r['p50']:8.2f} ms  p95 {r['p95']:8.2f} ms  (n={r['n']})")


if __name__ == "__main__":
    main()
