"""Key-value search in SQL (``store/search.py``), on SQLite and PostgreSQL.

Every operator, and/or combinations, case sensitivity, bookmark paging over more than one
page, buckets, and permission-awareness: a private group's objects and pairs never reach
another user's results, counts or buckets, checked against ``model.permissions.can_read``.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import column, func, select, table

from apidata import (
    add_datasets,
    add_images,
    add_plate,
    link_dataset_images,
    link_project_datasets,
    new_group,
    new_user,
)
from pyomero.model.commands import AnnotationSpec
from pyomero.model.permissions import Actor, GroupLevel, can_read
from pyomero.store import annotations as store_annotations
from pyomero.store import bulk, schema, writes
from pyomero.store.accounts import load_actor
from pyomero.store.bulk import insert_map_annotations
from pyomero.store.migrate import alembic_config
from pyomero.store.search import (
    PAGE_SIZE,
    Filter,
    Query,
    _counted_buckets,
    _readable_pairs,
    documents,
    keys,
    scanned_buckets,
    search,
    value_buckets,
    value_search,
)
from pyomero.store.search_containers import (
    container_buckets,
    container_images,
    random_hits,
    sub_containers,
)


def annotate(instance: Any, owner: int, group: int, resource: str, parent: int, pairs: list) -> int:
    """A Map annotation through the ordinary write path, linked to ``resource:parent``."""
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=owner, group_id=group)
        who = {"owner_id": owner, "group_id": group, "event_id": event}
        aid = writes.insert_annotation(conn, AnnotationSpec("Map", value=pairs), **who)
        writes.link_annotation(conn, resource, parent, aid, **who)
        return aid


@pytest.fixture
def lab(instance):
    """Group ``lab`` (read-annotate): alice's images with genes; bob's private group."""
    new_group(instance, "lab")
    new_group(instance, "secret", GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["lab"])
    bob = new_user(instance, "bob", ["secret"])
    gid = _group_id(instance, "lab")
    sid = _group_id(instance, "secret")
    images = add_images(instance, alice.id, gid, ["a", "b", "c", "d"])
    genes = [
        [("Gene Symbol", "ADE8"), ("Organism", "Saccharomyces cerevisiae")],
        [("Gene Symbol", "ade8"), ("Organism", "Homo sapiens")],
        [("Gene Symbol", "CDC42"), ("Phenotype", "round cells")],
        [("Organism", "Mus musculus")],
    ]
    for iid, pairs in zip(images, genes, strict=True):
        annotate(instance, alice.id, gid, "image", iid, pairs)
    hidden = add_images(instance, bob.id, sid, ["x"])
    annotate(instance, bob.id, sid, "image", hidden[0], [("Gene Symbol", "ADE8"), ("Secret", "s1")])
    return {
        "instance": instance,
        "alice": alice,
        "bob": bob,
        "gid": gid,
        "sid": sid,
        "images": images,
        "hidden": hidden,
    }


def _group_id(instance: Any, name: str) -> int:
    with instance.db.read() as conn:
        return conn.scalar(
            select(schema.experimentergroup.c.id).where(schema.experimentergroup.c.name == name)
        )


def actor(instance: Any, user: Any, group: int) -> Actor:
    with instance.db.read() as conn:
        return load_actor(conn, user.id, group)


def ids(instance: Any, who: Actor, query: Query, resource: str = "image", **kw: Any) -> list[int]:
    with instance.db.read() as conn:
        return [d.id for d in search(conn, who, resource, query, **kw).documents]


def one(operator: str, value: Any, name: str | None = "Gene Symbol", **kw: Any) -> Query:
    return Query((Filter(operator, value, name),), **kw)


def test_equals_ignores_case_and_finds_new_pairs_at_once(lab):
    inst, images = lab["instance"], lab["images"]
    alice = actor(inst, lab["alice"], lab["gid"])
    assert ids(inst, alice, one("equals", "ade8")) == images[:2]
    assert ids(inst, alice, one("equals", "ADE8")) == images[:2]
    assert ids(inst, alice, one("equals", "ade8", "gene symbol")) == images[:2]
    assert ids(inst, alice, one("equals", "ADE8", case_sensitive=True)) == images[:1]
    assert ids(inst, alice, one("equals", "ade8", "gene symbol", case_sensitive=True)) == []
    annotate(inst, lab["alice"].id, lab["gid"], "image", images[3], [("Gene Symbol", "Ade8")])
    assert ids(inst, alice, one("equals", "ade8")) == [*images[:2], images[3]]


def test_every_operator(lab):
    inst, im = lab["instance"], lab["images"]
    alice = actor(inst, lab["alice"], lab["gid"])
    assert ids(inst, alice, one("not_equals", "ade8")) == [im[2]]
    assert ids(inst, alice, one("contains", "de")) == im[:2]  # short needle: LIKE
    assert ids(inst, alice, one("contains", "DC4")) == [im[2]]  # trigram index
    assert ids(inst, alice, one("contains", "sapiens", None)) == [im[1]]
    assert ids(inst, alice, one("contains", "dc4", case_sensitive=True)) == []
    assert ids(inst, alice, one("not_contains", "ade")) == [im[2]]
    assert ids(inst, alice, one("in", ("ADE8", "cdc42"))) == im[:3]
    assert ids(inst, alice, one("in", "ade8,cdc42")) == im[:3]
    assert ids(inst, alice, one("not_in", ("cdc42",))) == im[:2]
    assert ids(inst, alice, one("gt", "b")) == [im[2]]
    assert ids(inst, alice, one("gte", "ade8")) == im[:3]
    assert ids(inst, alice, one("lt", "b")) == im[:2]
    assert ids(inst, alice, one("lte", "cdc42")) == im[:3]
    assert ids(inst, alice, one("contains", '"%_\\')) == []  # quoting and LIKE escapes


def test_and_or_filters(lab):
    inst, im = lab["instance"], lab["images"]
    alice = actor(inst, lab["alice"], lab["gid"])
    gene = Filter("equals", "ade8", "Gene Symbol")
    human = Filter("equals", "homo sapiens", "Organism")
    mouse = Filter("equals", "mus musculus", "Organism")
    cdc = Filter("equals", "cdc42", "Gene Symbol")
    assert ids(inst, alice, Query((gene, human))) == [im[1]]
    assert ids(inst, alice, Query((), ((human, mouse),))) == [im[1], im[3]]
    assert ids(inst, alice, Query((), ((gene, cdc), (human, mouse)))) == [im[1]]
    assert ids(inst, alice, Query((gene,), ((cdc, mouse),))) == []


def test_bookmark_pages_over_more_than_a_page(instance):
    new_group(instance, "big")
    user = new_user(instance, "carol", ["big"])
    gid = _group_id(instance, "big")
    image_ids = add_images(
        instance, user.id, gid, [f"i{n}" for n in range(2500)], with_pixels=False
    )
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=user.id, group_id=gid)
        insert_map_annotations(
            conn,
            owner_id=user.id,
            group_id=gid,
            event_id=event,
            resource="image",
            annotations=[(i, [("Gene Symbol", "TP53")]) for i in image_ids],
        )
    who = actor(instance, user, gid)
    seen: list[int] = []
    bookmark = None
    with instance.db.read() as conn:
        while True:
            page = search(conn, who, "image", one("equals", "tp53"), bookmark=bookmark)
            assert page.size == 2500
            got = [d.id for d in page.documents]
            if not got:
                break
            assert len(got) <= PAGE_SIZE and got == sorted(got)
            assert bookmark is None or got[0] > bookmark
            seen += got
            bookmark = got[-1]
    assert seen == image_ids


def test_private_pairs_and_objects_stay_hidden(lab):
    inst = lab["instance"]
    alice = actor(inst, lab["alice"], lab["gid"])
    bob = actor(inst, lab["bob"], lab["sid"])
    with inst.db.read() as conn:
        page = search(conn, alice, "image", one("equals", "ade8"))
        assert lab["hidden"][0] not in [d.id for d in page.documents]
        assert page.size == 2
        buckets, total = value_buckets(conn, alice, "image", "Gene Symbol")
        assert {(b.value, b.count) for b in buckets} == {("ade8", 2), ("cdc42", 1)}
        assert total == 3
        assert "Secret" not in keys(conn, alice, "image")
        assert value_search(conn, alice, "image", "s1")[0] == []
        # bob sees his own only
        assert [d.id for d in search(conn, bob, "image", one("equals", "ade8")).documents] == (
            lab["hidden"]
        )
        assert {b.value: b.count for b in value_buckets(conn, bob, "image", "gene symbol")[0]} == {
            "ade8": 1
        }
        # the policy in Python agrees with every row the SQL returned, and misses none
        everything = list(
            conn.execute(
                select(schema.image.c.id, schema.image.c.owner_id, schema.image.c.group_id)
            )
        )
        for who in (alice, bob):
            allowed = {
                r.id for r in everything if can_read(who, owner_id=r.owner_id, group_id=r.group_id)
            }
            found = {d.id for d in search(conn, who, "image", one("contains", "", None)).documents}
            assert found <= allowed
            assert found == allowed & {*lab["images"][:4], *lab["hidden"]}


def test_documents_carry_pairs_and_containers(lab):
    inst = lab["instance"]
    uid, gid = lab["alice"].id, lab["gid"]
    image_id = add_plate(inst, uid, gid, "P1").image_ids[0]
    alice = actor(inst, lab["alice"], gid)
    with inst.db.read() as conn:
        (doc,) = documents(conn, alice, "image", [lab["images"][0]])
        assert doc.key_values == [
            ("Gene Symbol", "ADE8", 0),
            ("Organism", "Saccharomyces cerevisiae", 1),
        ]
        (in_plate,) = documents(conn, alice, "image", [image_id])
        assert in_plate.containers["plate_name"] == "P1"
        assert in_plate.containers["well_id"] is not None


def test_images_match_through_their_screen(lab):
    inst = lab["instance"]
    uid, gid = lab["alice"].id, lab["gid"]
    with inst.db.write() as conn:
        (screen_id,) = bulk.insert_screens(
            conn, owner_id=uid, group_id=gid, screens=[{"name": "idr0001-screenA"}]
        )
    plate = add_plate(inst, uid, gid, "P1", screen_id=screen_id)
    annotate(inst, uid, gid, "screen", screen_id, [("Study Type", "RNAi")])
    alice = actor(inst, lab["alice"], gid)
    on_screen = Query((Filter("equals", "rnai", "Study Type", "screen"),))
    with inst.db.read() as conn:
        plate_images = list(
            conn.scalars(
                select(schema.wellsample.c.image)
                .join(schema.well, schema.well.c.id == schema.wellsample.c.well)
                .where(schema.well.c.plate == plate.plate_id)
            )
        )
    assert ids(inst, alice, on_screen) == sorted(plate_images)
    assert ids(inst, alice, on_screen, "screen") == [screen_id]
    study = Query((Filter("contains", "", None),), study="IDR0001-screenA")
    assert ids(inst, alice, study) == []  # the plate's images carry no pairs


def test_values_longer_than_an_index_entry_are_stored_and_found(lab):
    """A 10,000-character value: PostgreSQL refused it while the B-tree held whole values;
    the index holds a prefix now, and exact search still decides on the whole value."""
    inst, im = lab["instance"], lab["images"]
    uid, gid = lab["alice"].id, lab["gid"]
    alice = actor(inst, lab["alice"], gid)
    head = "".join(chr(ord("a") + n % 26) for n in range(300))
    long_value = head + "Needle-in-the-middle" + "x" * (10_000 - 300 - 20)
    assert len(long_value) == 10_000
    annotate(inst, uid, gid, "image", im[3], [("Protocol", long_value)])
    # same first 300 characters (more than the indexed prefix), different afterwards
    annotate(inst, uid, gid, "image", im[2], [("Protocol", head + "y" * 9_700)])
    assert ids(inst, alice, one("equals", long_value, "Protocol")) == [im[3]]
    assert ids(inst, alice, one("equals", long_value.upper(), "protocol")) == [im[3]]
    assert (
        ids(inst, alice, one("equals", long_value.upper(), "Protocol", case_sensitive=True)) == []
    )
    assert ids(inst, alice, one("equals", head, "Protocol")) == []
    assert ids(inst, alice, one("in", (long_value, "nothing"), "Protocol")) == [im[3]]
    assert ids(inst, alice, one("not_equals", long_value, "Protocol")) == [im[2]]
    assert ids(inst, alice, one("contains", "needle-in-the", "Protocol")) == [im[3]]
    assert ids(inst, alice, one("contains", "Needle-in", "Protocol", case_sensitive=True)) == [
        im[3]
    ]
    assert ids(inst, alice, one("contains", head[100:140], "Protocol")) == im[2:4]
    with inst.db.read() as conn:
        buckets, total = value_buckets(conn, alice, "image", "Protocol")
        (doc,) = documents(conn, alice, "image", [im[3]])
    assert total == 2 and sorted(len(b.value) for b in buckets) == [10_000, 10_000]
    assert ("Protocol", long_value, 0) in doc.key_values


def _buckets(inst: Any, who: Actor, key: str, resource: str = "image") -> tuple[Any, Any]:
    """(summed from the counts, or None when they cannot answer; counted over the pairs)."""
    with inst.db.read() as conn:
        counted = _counted_buckets(conn, who, resource, key)
        scanned = scanned_buckets(conn, who, resource, key)
    if counted is not None:
        counted = ({(b.key, b.value, b.count) for b in counted[0]}, counted[1])
    return counted, ({(b.key, b.value, b.count) for b in scanned[0]}, scanned[1])


def _assert_counts_exact(inst: Any, lab: dict, key: str = "Gene Symbol") -> None:
    for user, group in ((lab["alice"], lab["gid"]), (lab["bob"], lab["sid"])):
        counted, scanned = _buckets(inst, actor(inst, user, group), key)
        assert counted == scanned


def test_value_counts_stay_exact_through_writes_and_deletes(lab):
    """The trigger-kept counts answer ``searchvaluesusingkey`` and agree with the scan after
    every kind of write: add, replace, link, unlink, delete the annotation, the object."""
    inst, im = lab["instance"], lab["images"]
    uid, gid = lab["alice"].id, lab["gid"]
    alice = actor(inst, lab["alice"], gid)
    counted, _ = _buckets(inst, alice, "Gene Symbol")
    assert counted == ({("Gene Symbol", "ade8", 2), ("Gene Symbol", "cdc42", 1)}, 3)
    _assert_counts_exact(inst, lab)
    # bob's private pair is counted, but only for bob
    bob = actor(inst, lab["bob"], lab["sid"])
    assert _buckets(inst, bob, "Gene Symbol")[0] == ({("Gene Symbol", "ade8", 1)}, 1)
    assert _buckets(inst, alice, "Secret")[0] == (set(), 0)
    (extra,) = add_images(inst, uid, gid, ["e"])
    # visible at once after a save
    aid = annotate(inst, uid, gid, "image", im[3], [("Gene Symbol", "TP53")])
    assert _buckets(inst, alice, "gene symbol")[0] == (
        {("Gene Symbol", "ade8", 2), ("Gene Symbol", "cdc42", 1), ("Gene Symbol", "tp53", 1)},
        4,
    )
    _assert_counts_exact(inst, lab)
    with inst.db.write() as conn:  # replace the pairs (the annotate_map path)
        event = bulk.new_event(conn, owner_id=uid, group_id=gid)
        store_annotations.replace_map_values(conn, aid, [("Gene Symbol", "BRCA1")], event_id=event)
    assert ("Gene Symbol", "brca1", 1) in _buckets(inst, alice, "Gene Symbol")[0][0]
    _assert_counts_exact(inst, lab)
    with inst.db.write() as conn:  # link the same annotation to a second image
        event = bulk.new_event(conn, owner_id=uid, group_id=gid)
        link_id = writes.link_annotation(
            conn, "image", extra, aid, owner_id=uid, group_id=gid, event_id=event
        )
    assert ("Gene Symbol", "brca1", 2) in _buckets(inst, alice, "Gene Symbol")[0][0]
    _assert_counts_exact(inst, lab)
    with inst.db.write() as conn:  # unlink it again
        store_annotations.delete_link(conn, "image", link_id)
    assert ("Gene Symbol", "brca1", 1) in _buckets(inst, alice, "Gene Symbol")[0][0]
    _assert_counts_exact(inst, lab)
    with inst.db.write() as conn:  # delete the annotation: its pairs and link cascade
        store_annotations.delete_annotation(conn, aid)
    assert _buckets(inst, alice, "Gene Symbol")[0] == (
        {("Gene Symbol", "ade8", 2), ("Gene Symbol", "cdc42", 1)},
        3,
    )
    _assert_counts_exact(inst, lab)
    with inst.db.write() as conn:  # delete an image: its links cascade
        writes.delete_object(conn, "image", im[0])
    assert _buckets(inst, alice, "Gene Symbol")[0] == (
        {("Gene Symbol", "ade8", 1), ("Gene Symbol", "cdc42", 1)},
        2,
    )
    _assert_counts_exact(inst, lab)
    # and the count rows left are exactly the triples left
    with inst.db.read() as conn:
        counted = conn.scalar(
            select(func.sum(column("objects"))).select_from(table(schema.MAPVALUE_COUNT))
        )
        pairs = conn.scalar(
            select(func.count())
            .select_from(schema.annotation_mapvalue)
            .join(
                schema.annotation_links["image"],
                schema.annotation_links["image"].c.child
                == schema.annotation_mapvalue.c.annotation_id,
            )
        )
    assert counted == pairs


def test_several_values_of_a_key_stay_counted(lab):
    """An object holding a key with two values counts once in each bucket, and the total is
    the sum of the buckets (the IDR's): the counts answer, and agree with the scan."""
    inst, im = lab["instance"], lab["images"]
    uid, gid = lab["alice"].id, lab["gid"]
    alice = actor(inst, lab["alice"], gid)
    annotate(inst, uid, gid, "image", im[2], [("Gene Symbol", "ECT2"), ("Gene Symbol", "ade8")])
    counted, scanned = _buckets(inst, alice, "Gene Symbol")
    assert counted is not None and counted == scanned
    assert scanned == (
        {("Gene Symbol", "ade8", 3), ("Gene Symbol", "cdc42", 1), ("Gene Symbol", "ect2", 1)},
        5,
    )


def test_repeated_pairs_and_long_values_fall_back_to_the_scan(lab):
    """An object holding the same key and value twice, or a value too long to count: the
    counts step aside and the scan answers, still exact."""
    inst, im = lab["instance"], lab["images"]
    uid, gid = lab["alice"].id, lab["gid"]
    alice = actor(inst, lab["alice"], gid)
    annotate(inst, uid, gid, "image", im[0], [("Gene Symbol", "ade8")])  # im[0] had ADE8
    counted, scanned = _buckets(inst, alice, "Gene Symbol")
    assert counted is None
    assert scanned == ({("Gene Symbol", "ade8", 2), ("Gene Symbol", "cdc42", 1)}, 3)
    with inst.db.read() as conn:
        buckets, total = value_buckets(conn, alice, "image", "Gene Symbol")
    assert total == 3 and {(b.value, b.count) for b in buckets} == {("ade8", 2), ("cdc42", 1)}
    annotate(inst, uid, gid, "image", im[1], [("Note", "n" * (schema.MAPVALUE_COUNT_LIMIT + 1))])
    annotate(inst, uid, gid, "image", im[2], [("Note", "short")])
    counted, scanned = _buckets(inst, alice, "Note")
    assert counted is None and scanned[1] == 2


def test_value_counts_of_data_written_before_the_migration(lab):
    """Migration 0005 counts the pairs already there, and marks keys held twice."""
    inst, im = lab["instance"], lab["images"]
    uid, gid = lab["alice"].id, lab["gid"]
    alice = actor(inst, lab["alice"], gid)
    annotate(inst, uid, gid, "image", im[3], [("Organism", "mus MUSCULUS")])  # im[3] had it
    before = {key: _buckets(inst, alice, key) for key in ("Gene Symbol", "Organism")}
    assert before["Organism"][0] is None  # the same pair twice: the scan answers
    config = alembic_config(inst.db)
    command.downgrade(config, "0004")
    command.upgrade(config, "head")
    for key, (counted, scanned) in before.items():
        assert _buckets(inst, alice, key) == (counted, scanned)
    _assert_counts_exact(inst, lab)


def test_bulk_loaded_pairs_are_indexed_and_counted(lab):
    """``bulk.load_map_annotations`` (the benchmark's loader) goes through the same triggers:
    its pairs are found by exact and substring search and counted per value."""
    inst = lab["instance"]
    uid, gid = lab["alice"].id, lab["gid"]
    new = add_images(inst, uid, gid, [f"n{i}" for i in range(30)], with_pixels=False)
    with inst.db.write() as conn:
        event = bulk.new_event(conn, owner_id=uid, group_id=gid)
        made = bulk.load_map_annotations(
            conn, owner_id=uid, group_id=gid, event_id=event, resource="image",
            annotations=[(i, [("Screen Gene", f"GENE{n % 3}"), ("Cell", "HeLa")])
                         for n, i in enumerate(new)],
        )  # fmt: skip
    assert made == 30
    alice = actor(inst, lab["alice"], gid)
    assert ids(inst, alice, one("equals", "gene1", "Screen Gene")) == new[1::3]
    assert ids(inst, alice, one("contains", "ENE2", "Screen Gene")) == new[2::3]
    counted, scanned = _buckets(inst, alice, "screen gene")
    assert counted == scanned == ({("Screen Gene", f"gene{n}", 10) for n in range(3)}, 30)


# -- random hits and containers ---------------------------------------------------------------

STUDY = "idr0001-example/experimentA"
SCREEN = "idr0002-example/screenA"
SECRET = "idr0001-example/secret"


def build_studies(instance: Any) -> dict[str, Any]:
    """alice (``lab``): project STUDY with datasets D1 (3 images, ADE8) and D2 (2, CDC42),
    one loose image, screen SCREEN with a 1x2 plate (ADE8); bob (private ``secret``):
    project SECRET holding one image with ADE8 and a Secret pair."""
    new_group(instance, "lab")
    new_group(instance, "secret", GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["lab"])
    bob = new_user(instance, "bob", ["secret"])
    gid, sid = _group_id(instance, "lab"), _group_id(instance, "secret")
    uid = alice.id
    images = add_images(instance, uid, gid, [f"s{n}" for n in range(6)], with_pixels=False)
    with instance.db.write() as conn:
        (project_id,) = bulk.insert_projects(
            conn, owner_id=uid, group_id=gid, projects=[{"name": STUDY}]
        )
        (screen_id,) = bulk.insert_screens(
            conn, owner_id=uid, group_id=gid, screens=[{"name": SCREEN}]
        )
        (secret_id,) = bulk.insert_projects(
            conn, owner_id=bob.id, group_id=sid, projects=[{"name": SECRET}]
        )
    d1, d2 = add_datasets(instance, uid, gid, ["D1", "D2"])
    link_project_datasets(instance, uid, gid, [(project_id, d1), (project_id, d2)])
    link_dataset_images(instance, uid, gid, [(d1, i) for i in images[:3]])
    link_dataset_images(instance, uid, gid, [(d2, i) for i in images[3:5]])
    plate = add_plate(instance, uid, gid, "PL1", columns=2, screen_id=screen_id)
    for n, iid in enumerate(images[:5]):
        gene = "ADE8" if n < 3 else "CDC42"
        organism = "Mus musculus" if n == 0 else "Homo sapiens"
        annotate(instance, uid, gid, "image", iid, [("Gene Symbol", gene), ("Organism", organism)])
    for iid in plate.image_ids:
        annotate(instance, uid, gid, "image", iid, [("Gene Symbol", "ADE8")])
    annotate(instance, uid, gid, "project", project_id, [("Study Type", "imaging")])
    (hidden,) = add_images(instance, bob.id, sid, ["h"], with_pixels=False)
    (sd,) = add_datasets(instance, bob.id, sid, ["SD"])
    link_project_datasets(instance, bob.id, sid, [(secret_id, sd)])
    link_dataset_images(instance, bob.id, sid, [(sd, hidden)])
    annotate(instance, bob.id, sid, "image", hidden, [("Gene Symbol", "ADE8"), ("Secret", "s1")])
    return {
        "alice": actor(instance, alice, gid),
        "bob": actor(instance, bob, sid),
        "images": images,
        "plate_images": plate.image_ids,
        "project": project_id,
        "screen": screen_id,
        "secret": secret_id,
        "datasets": (d1, d2),
        "plate": plate.plate_id,
        "hidden": hidden,
    }


@pytest.fixture
def studies(instance):
    return {"instance": instance, **build_studies(instance)}


def test_random_hits_draw_from_readable_hits(studies):
    inst, alice = studies["instance"], studies["alice"]
    ade8 = one("equals", "ade8")
    readable_hits = {*studies["images"][:3], *studies["plate_images"]}
    with inst.db.read() as conn:
        page = random_hits(conn, alice, "image", ade8, 3)
        assert page.size == 5 and len(page.documents) == 3
        assert {d.id for d in page.documents} <= readable_hits
        assert all(("Gene Symbol", "ADE8", 0) in d.key_values for d in page.documents)
        everything = random_hits(conn, alice, "image", ade8, 100)
        assert {d.id for d in everything.documents} == readable_hits  # not bob's
        assert random_hits(conn, alice, "image", one("equals", "zzz"), 3).documents == []


def test_container_images_count_readable_images_only(studies):
    inst, alice, bob = studies["instance"], studies["alice"], studies["bob"]
    with inst.db.read() as conn:
        found = container_images(conn, alice)
        assert [(c.type, c.name, c.images) for c in found] == [
            ("project", STUDY, 5),
            ("screen", SCREEN, 2),
        ]
        assert [c.name for c in container_images(conn, alice, container_type="screen")] == [SCREEN]
        assert [c.name for c in container_images(conn, alice, needle="EXPERIMENTa")] == [STUDY]
        assert [(c.name, c.images) for c in container_images(conn, bob)] == [(SECRET, 1)]


def test_container_keys_and_values(studies):
    inst, alice, bob = studies["instance"], studies["alice"], studies["bob"]
    with inst.db.read() as conn:
        (study,) = container_buckets(conn, alice, "image", "idr0001-example")  # not SECRET
        assert (study.container.name, study.container.type) == (STUDY, "project")
        assert [(b.key, b.count) for b in study.buckets] == [
            ("Gene Symbol", 5),
            ("Organism", 5),
        ]
        (values,) = container_buckets(conn, alice, "image", "experimentA", key="gene symbol")
        assert [(b.key, b.value, b.count) for b in values.buckets] == [
            ("gene symbol", "ADE8", 3),
            ("gene symbol", "CDC42", 2),
        ]
        screens = container_buckets(conn, alice, "image", "idr0002", key="Gene Symbol")
        assert [(s.container.type, [(b.value, b.count) for b in s.buckets]) for s in screens] == [
            ("screen", [("ADE8", 2)])
        ]
        human = Query((Filter("equals", "homo sapiens", "Organism"),))
        (filtered,) = container_buckets(conn, alice, "image", STUDY, key="Gene Symbol", query=human)
        assert [(b.value, b.count) for b in filtered.buckets] == [("ADE8", 2), ("CDC42", 2)]
        (itself,) = container_buckets(conn, alice, "project", STUDY)
        assert [(b.key, b.count) for b in itself.buckets] == [("Study Type", 1)]
        assert container_buckets(conn, alice, "plate", STUDY) == []  # a project holds no plates
        assert container_buckets(conn, alice, "image", "nothing") == []
        (secret,) = container_buckets(conn, bob, "image", "idr0001-example")
        assert secret.container.name == SECRET
        assert {b.key for b in secret.buckets} == {"Gene Symbol", "Secret"}


def test_sub_containers(studies):
    inst, alice, bob = studies["instance"], studies["alice"], studies["bob"]
    d1, d2 = studies["datasets"]
    with inst.db.read() as conn:
        container, subs = sub_containers(conn, alice, STUDY.upper())
        assert container.id == studies["project"]
        assert [(s.id, s.name, s.type, s.images) for s in subs] == [
            (d1, "D1", "dataset", 3),
            (d2, "D2", "dataset", 2),
        ]
        _, cdc = sub_containers(conn, alice, STUDY, query=one("equals", "cdc42"))
        assert [(s.name, s.images) for s in cdc] == [("D2", 2)]
        screen, plates = sub_containers(conn, alice, "screenA")
        assert screen.type == "screen"
        assert [(s.name, s.type, s.images) for s in plates] == [("PL1", "plate", 2)]
        assert sub_containers(conn, alice, "secret") is None  # bob's project stays hidden
        _, bobs = sub_containers(conn, bob, "secret")
        assert [(s.name, s.images) for s in bobs] == [("SD", 1)]


def test_keys_come_from_the_counts_and_long_values(lab):
    """``keys``: read from the count table, plus keys whose values are too long for it, as
    the readable pairs themselves would give them; case kept, private keys hidden."""
    inst = lab["instance"]
    alice = actor(inst, lab["alice"], lab["gid"])
    bob = actor(inst, lab["bob"], lab["sid"])
    annotate(inst, lab["alice"].id, lab["gid"], "image", lab["images"][3],
             [("Long Only", "x" * 300), ("organism", "Mus musculus")])  # fmt: skip
    annotate(
        inst, lab["bob"].id, lab["sid"], "image", lab["hidden"][0], [("Hidden Long", "y" * 300)]
    )
    with inst.db.read() as conn:
        for who in (alice, bob):
            joined, where, _link = _readable_pairs(who, "image")
            scanned = sorted(
                set(
                    conn.scalars(
                        select(schema.annotation_mapvalue.c.name).select_from(joined).where(*where)
                    )
                )
            )
            assert keys(conn, who, "image") == scanned
        assert "Long Only" in keys(conn, alice, "image") and "organism" in keys(
            conn, alice, "image"
        )
        assert "Hidden Long" not in keys(conn, alice, "image")
        assert keys(conn, bob, "image") == ["Gene Symbol", "Hidden Long", "Secret"]
