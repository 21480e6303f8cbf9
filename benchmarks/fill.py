"""Fill a pyomero instance with the benchmark hierarchy: 1 M images by default.

The shape is the one of DESIGN.md's performance targets: ``--images`` images (each with
Pixels and 1-3 Channels) in ``--datasets`` datasets (``images / datasets`` images each)
under ``datasets / --datasets-per-project`` projects. Content is owned by 10 users in 4
groups, one of each permission level, so that the visibility predicate has real work to do:

=============  ==============  =================================================
group          level           members (first group = default group)
=============  ==============  =================================================
annotate-lab   read-annotate   user01 (owner) .. user04
readonly-lab   read-only       user05, user06, and user01
readwrite-lab  read-write      user07, user08, and user01
private-lab    private         user09, user10, and user01
=============  ==============  =================================================

Projects go round-robin to (owner, group) pairs, one per user in the user's default group,
so each owner holds a tenth of the images. ``user01`` (the benchmark user of
``api_latency.py``) reads 80 % of them: everything except the private group's other members'
data.

Rows go in through ``pyomero.store.bulk`` (executemany on SQLite, COPY on PostgreSQL), one
write transaction per ``--batch`` images. The script writes ``DIR/benchmark.json`` with the
user, password and counts for ``api_latency.py``.

    python benchmarks/fill.py /tmp/pyomero-bench-sqlite
    python benchmarks/fill.py /tmp/pyomero-bench-pg \\
        --database-url postgresql://postgres@127.0.0.1:5432/pyomero_bench --reset
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts
from pyomero.services.instance import Instance, init_instance
from pyomero.store import bulk

PASSWORD = "bench-password"
ROOT_PASSWORD = "root-password"
BENCH_USER = "user01"

#: (group name, level)
GROUPS = (
    ("annotate-lab", GroupLevel.READ_ANNOTATE),
    ("readonly-lab", GroupLevel.READ_ONLY),
    ("readwrite-lab", GroupLevel.READ_WRITE),
    ("private-lab", GroupLevel.PRIVATE),
)
#: (username, groups; the first is the default group and the group of the user's data)
USERS = (
    ("user01", ["annotate-lab", "readonly-lab", "readwrite-lab", "private-lab"]),
    ("user02", ["annotate-lab"]),
    ("user03", ["annotate-lab"]),
    ("user04", ["annotate-lab"]),
    ("user05", ["readonly-lab"]),
    ("user06", ["readonly-lab"]),
    ("user07", ["readwrite-lab"]),
    ("user08", ["readwrite-lab"]),
    ("user09", ["private-lab"]),
    ("user10", ["private-lab"]),
)
GROUP_OWNER = {"annotate-lab": "user01"}

#: Channel templates: name, (r, g, b), emission, excitation (nm).
_CHANNELS = (
    ("DAPI", (0, 0, 255), 461.0, 358.0),
    ("GFP", (0, 255, 0), 509.0, 488.0),
    ("mCherry", (255, 0, 0), 610.0, 587.0),
)
_CHANNEL_SPECS: list[bulk.ChannelSpec] = [
    {
        "name": name,
        "red": r,
        "green": g,
        "blue": b,
        "alpha": 255,
        "emissionwave": emission,
        "excitationwave": excitation,
        "fluor": name,
    }
    for name, (r, g, b), emission, excitation in _CHANNELS
]


@dataclass(frozen=True)
class Owner:
    user_id: int
    group_id: int
    username: str
    group: str


def log(message: str) -> None:
    print(message, flush=True)


def reset_postgres(url: str) -> None:
    """Drop and re-create the database named by ``url`` (connecting to ``postgres``)."""
    base, name = url.rsplit("/", 1)
    admin_url = base.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def create_accounts(instance: Instance) -> list[Owner]:
    """The 4 groups and 10 users; returns one data owner per user (in the default group)."""
    group_ids = {}
    for name, level in GROUPS:
        group_ids[name] = accounts.add_group(instance, name=name, level=level).id
    owners = []
    for number, (username, groups) in enumerate(USERS, start=1):
        user = accounts.add_user(
            instance,
            username=username,
            first_name=f"First{number:02d}",
            last_name=f"Last{number:02d}",
            groups=groups,
            password=PASSWORD,
            email=f"{username}@example.org",
        )
        owners.append(Owner(user.id, group_ids[groups[0]], username, groups[0]))
    for group, username in GROUP_OWNER.items():
        accounts.add_to_group(instance, group=group, usernames=[username], owner=True)
    return owners


def image_specs(
    rng: random.Random, dataset_number: int, count: int, day0: datetime
) -> Iterator[bulk.ImageSpec]:
    """``count`` images of one dataset, 1-3 channels each, varied sizes."""
    for index in range(count):
        channels = rng.randint(1, 3)
        pixels: bulk.PixelsSpec = {
            "sizex": rng.choice((512, 1024, 2048)),
            "sizey": rng.choice((512, 1024, 2048)),
            "sizez": rng.choice((1, 1, 5, 10)),
            "sizet": 1,
            "pixelstype": rng.choice(("uint8", "uint16", "uint16")),
            "dimensionorder": "XYZCT",
            "physicalsizex": 0.1625,
            "physicalsizey": 0.1625,
        }
        yield {
            "name": f"sample_{dataset_number:05d}_{index:04d}.ome.tiff",
            "acquisition_date": day0 + timedelta(minutes=dataset_number * 7 + index),
            "format": "OME-TIFF",
            "pixels": pixels,
            "channels": _CHANNEL_SPECS[:channels],
        }


def fill_project(
    conn: Any,
    owner: Owner,
    rng: random.Random,
    *,
    project_number: int,
    first_dataset: int,
    datasets: int,
    images_per_dataset: int,
) -> int:
    """One project with its datasets and images, in the caller's transaction."""
    event_id = bulk.new_event(conn, owner_id=owner.user_id, group_id=owner.group_id)
    who = {"owner_id": owner.user_id, "group_id": owner.group_id, "event_id": event_id}
    (project_id,) = bulk.insert_projects(
        conn, **who, projects=[{"name": f"Project {project_number:04d} ({owner.username})"}]
    )
    numbers = range(first_dataset, first_dataset + datasets)
    dataset_ids = bulk.insert_datasets(
        conn, **who, datasets=[{"name": f"Dataset {n:05d}"} for n in numbers]
    )
    bulk.link_project_datasets(conn, **who, links=[(project_id, d) for d in dataset_ids])
    day0 = datetime(2024, 1, 1, 9, 0)
    # one call for the whole project: fewer, larger executemany / COPY batches
    specs = (spec for n in numbers for spec in image_specs(rng, n, images_per_dataset, day0))
    image_ids = bulk.insert_images(conn, **who, images=specs)
    owners = (d for d in dataset_ids for _ in range(images_per_dataset))
    bulk.link_dataset_images(conn, **who, links=list(zip(owners, image_ids, strict=True)))
    return len(image_ids)


def analyze(instance: Instance) -> float:
    """Refresh planner statistics (SQLite ANALYZE / PostgreSQL VACUUM ANALYZE)."""
    started = time.perf_counter()
    engine = instance.db.engine
    if instance.db.dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with instance.db.write() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="instance directory to create")
    parser.add_argument("--images", type=int, default=1_000_000, help="images in all")
    parser.add_argument("--datasets", type=int, default=5_000, help="datasets in all")
    parser.add_argument("--datasets-per-project", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="postgresql://... (default SQLite)")
    parser.add_argument("--batch", type=int, default=20_000, help="images per transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reset",
        action="store_true",
        help="delete DIRECTORY and (PostgreSQL) drop and re-create the database first",
    )
    parser.add_argument(
        "--no-analyze", action="store_true", help="skip ANALYZE at the end (planner statistics)"
    )
    args = parser.parse_args(argv)
    if args.images % args.datasets:
        parser.error("--images must be a multiple of --datasets")
    per_dataset = args.images // args.datasets
    projects = -(-args.datasets // args.datasets_per_project)

    if args.reset:
        shutil.rmtree(args.directory, ignore_errors=True)
        if args.database_url:
            reset_postgres(args.database_url)
    started = time.perf_counter()
    instance = init_instance(
        args.directory, root_password=ROOT_PASSWORD, database_url=args.database_url
    )
    try:
        owners = create_accounts(instance)
        log(
            f"instance {args.directory} on {instance.db.dialect}: {args.images:,} images in "
            f"{args.datasets:,} datasets ({per_dataset} each) under {projects:,} projects, "
            f"{len(owners)} owners in {len(GROUPS)} groups"
        )
        rng = random.Random(args.seed)
        fill_started = time.perf_counter()
        done = 0
        dataset_number = 0
        project_number = 0
        while dataset_number < args.datasets:
            batch = 0
            with instance.db.write() as conn:
                while dataset_number < args.datasets and (batch == 0 or batch < args.batch):
                    count = min(args.datasets_per_project, args.datasets - dataset_number)
                    batch += fill_project(
                        conn,
                        owners[project_number % len(owners)],
                        rng,
                        project_number=project_number + 1,
                        first_dataset=dataset_number + 1,
                        datasets=count,
                        images_per_dataset=per_dataset,
                    )
                    dataset_number += count
                    project_number += 1
            done += batch
            elapsed = time.perf_counter() - fill_started
            log(
                f"  {done:>10,} / {args.images:,} images  {project_number:>5} projects  "
                f"{elapsed:7.1f} s  {done / elapsed:8,.0f} images/s"
            )
        fill_seconds = time.perf_counter() - fill_started
        analyze_seconds = 0.0 if args.no_analyze else analyze(instance)
        total = time.perf_counter() - started
        log(
            f"filled {done:,} images in {fill_seconds:.1f} s "
            f"({done / fill_seconds:,.0f} images/s); analyze {analyze_seconds:.1f} s; "
            f"total with init and accounts {total:.1f} s"
        )
        info = {
            "database": instance.db.dialect,
            "database_url": args.database_url,
            "images": done,
            "datasets": args.datasets,
            "projects": project_number,
            "user": BENCH_USER,
            "password": PASSWORD,
            "root_password": ROOT_PASSWORD,
            "fill_seconds": round(fill_seconds, 1),
            "analyze_seconds": round(analyze_seconds, 1),
            "analyzed": not args.no_analyze,
        }
        (args.directory / "benchmark.json").write_text(json.dumps(info, indent=2) + "\n")
    finally:
        instance.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
