"""Annotations written and read as OMERO.web's clients do (spec webgateway-idr.md 3.2, 4.6,
assertions 74-79, 85, 86), with OMERO's permission rules per group level."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from apidata import (
    ROOT_PASSWORD,
    add_images,
    add_plate,
    add_tag,
    link_tag,
    login,
    make_lab,
    row_count,
    sqlite_only,
)
from pyomero.errors import ValidationError
from pyomero.model.permissions import GroupLevel
from pyomero.services.accounts import join_session
from pyomero.store import annotations as store
from pyomero.store import schema

W = "/webclient"
MAP = f"{W}/annotate_map/"
PANEL = f"{W}/api/annotations/"
ITEM_KEYS = {"id", "ns", "name", "description", "owner", "date", "permissions", "link", "class"}


def _map(api: Any, status: int = 200, **form: Any) -> Any:
    response = api.post(MAP, data=form)
    assert response.status_code == status, response.text
    return response.json()


def _files(instance: Any) -> list[Path]:
    root = Path(instance.settings.data_dir) / "files" / "annotations"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@sqlite_only
def test_map_annotation_round_trip(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    plate = add_plate(instance, lab.uid, lab.gid, "P1")
    from apidata import _bulk
    from pyomero.store import bulk

    (screen,) = _bulk(instance, bulk.insert_screens, lab.uid, lab.gid, screens=[{"name": "S"}])
    pairs = [["Gene", "abc"], ["Gene", "def"], ["Organism", "human"]]
    body = _map(lab.api, mapAnnotation=json.dumps(pairs), screen=str(screen), ns="test/ns")
    (ann_id,) = body["annId"]

    got = lab.api.get(PANEL, params={"type": "map", "screen": screen})
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    data = got.json()
    assert set(data) == {"annotations", "experimenters"}  # 74
    (item,) = data["annotations"]
    assert set(item) >= ITEM_KEYS  # 75
    assert item["class"] == "MapAnnotationI" and item["values"] == pairs  # order, duplicates
    assert item["id"] == ann_id and item["ns"] == "test/ns"
    assert item["link"]["parent"] == {"id": screen, "class": "ScreenI", "name": "S"}
    assert datetime.fromisoformat(item["date"]).utcoffset() is not None
    assert item["permissions"] == {
        "canDelete": True,
        "canAnnotate": True,
        "canLink": True,
        "canEdit": True,
    }
    (person,) = data["experimenters"]  # 76
    assert person == {
        "id": lab.uid,
        "omeName": "user1",
        "firstName": "User1",
        "lastName": "Tester",
    }
    assert plate  # plates are annotatable too: see test_paging_and_parents

    # replace the pairs of the existing annotation
    _map(lab.api, mapAnnotation=json.dumps([["k", "v"]]), annId=str(ann_id))
    item = lab.api.get(PANEL, params={"type": "map", "screen": screen}).json()["annotations"][0]
    assert item["values"] == [["k", "v"]] and item["id"] == ann_id

    # an empty list with annId deletes it (OMERO.web answers annId null)
    assert _map(lab.api, mapAnnotation="[]", annId=str(ann_id)) == {"annId": None}
    assert row_count(instance, schema.annotation, id=ann_id) == 0


@sqlite_only
def test_client_namespace_makes_one_annotation_per_object(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    a, b = add_images(instance, lab.uid, lab.gid, ["a", "b"], with_pixels=False)
    body = _map(lab.api, mapAnnotation='[["k", "v"]]', image=[str(a), str(b)])
    assert len(body["annId"]) == 2
    body = _map(lab.api, mapAnnotation='[["k", "v"]]', image=[str(a), str(b)], ns="shared")
    assert len(body["annId"]) == 1
    items = lab.api.get(PANEL, params={"type": "map", "image": [a, b], "ns": "shared"}).json()
    assert [i["link"]["parent"]["id"] for i in items["annotations"]] == [a, b]


@sqlite_only
@pytest.mark.parametrize(
    "raw",
    ["not json", '{"k": "v"}', '[["only-one"]]', '[["k", 1]]'],
)
def test_malformed_map_is_400_and_writes_nothing(instance: Any, make_client: Any, raw: str) -> None:
    lab = make_lab(instance, make_client)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    before = row_count(instance, schema.annotation)
    body = _map(lab.api, 400, mapAnnotation=raw, image=str(image))
    assert "mapAnnotation" in body["message"]
    assert row_count(instance, schema.annotation) == before


@sqlite_only
def test_csrf_and_login_required(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    bare = lab.api.client.post(MAP, data={"mapAnnotation": "[]", "image": str(image)})
    assert bare.status_code == 403 and "CSRF" in bare.text
    anonymous = make_client().client
    response = anonymous.get(PANEL, params={"image": image}, follow_redirects=False)
    assert response.status_code == 302 and "/webclient/login/" in response.headers["location"]


@sqlite_only
def test_panel_parameters(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    assert lab.api.get(PANEL).json() == {"annotations": [], "experimenters": []}  # 78
    for bad in ({"image": "x"}, {"image": "1", "page": "a"}, {"image": "1", "limit": "1.5"}):
        response = lab.api.get(PANEL, params=bad)
        assert response.status_code == 400 and response.text == "Invalid parameter value"


@sqlite_only
def test_paging_and_parents(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    for i in range(5):
        _map(lab.api, mapAnnotation=json.dumps([["n", str(i)]]), image=str(image), ns=f"ns{i}")
    first = lab.api.get(PANEL, params={"image": image, "limit": 2, "page": 1}).json()
    third = lab.api.get(PANEL, params={"image": image, "limit": 2, "page": 3}).json()
    assert [a["ns"] for a in first["annotations"]] == ["ns0", "ns1"]
    assert [a["ns"] for a in third["annotations"]] == ["ns4"]

    data = lab.api.get(PANEL, params={"type": "map", "image": image, "parents": "true"}).json()
    assert set(data) == {"annotations", "parents", "experimenters"}  # 79
    assert set(data["parents"]) == {"annotations", "lineage"}
    assert data["parents"]["lineage"] == {f"image-{image}": []}

    plate = add_plate(instance, lab.uid, lab.gid, "P")
    well = plate.well_ids[0]
    _map(lab.api, mapAnnotation='[["w", "1"]]', well=str(well))
    (item,) = lab.api.get(PANEL, params={"well": well}).json()["annotations"]
    assert item["link"]["parent"] == {"id": well, "class": "WellI", "name": "A1"}


@sqlite_only
def test_comment_tags_rating_remove_delete(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    comment = lab.api.post(f"{W}/annotate_comment/", data={"comment": "hi", "image": image})
    assert comment.json() == {"annId": comment.json()["annId"], "added_by": lab.uid}

    tag = add_tag(instance, lab.uid, lab.gid, "existing")
    form = {
        "tags": str(tag),
        "image": str(image),
        "newtags-TOTAL_FORMS": "1",
        "newtags-INITIAL_FORMS": "0",
        "newtags-0-tag": "fresh",
        "newtags-0-description": "new one",
    }
    tagged = lab.api.post(f"{W}/annotate_tags/", data=form).json()
    assert tagged["added"] == [tag] and tagged["removed"] == [] and len(tagged["new"]) == 1
    tags = lab.api.get(PANEL, params={"type": "tag", "image": image}).json()["annotations"]
    assert sorted(t["textValue"] for t in tags) == ["existing", "fresh"]
    # posting the set without the existing tag unlinks it (the caller's own link)
    form["tags"], form["newtags-TOTAL_FORMS"] = str(tagged["new"][0]), "0"
    again = lab.api.post(f"{W}/annotate_tags/", data=form).json()
    assert again["removed"] == [tag]
    assert row_count(instance, schema.annotation, id=tag) == 1  # the tag itself stays

    rated = lab.api.post(f"{W}/annotate_rating/", data={"rating": "4", "image": image})
    assert rated.json() == {"success": True}
    lab.api.post(f"{W}/annotate_rating/", data={"rating": "5", "image": image})
    (rating,) = lab.api.get(PANEL, params={"type": "rating", "image": image}).json()["annotations"]
    assert rating["longValue"] == 5 and rating["ns"] == store.RATING_NS

    ann = comment.json()["annId"]
    removed = lab.api.post(f"{W}/action/remove/comment/{ann}/", data={"parent": f"image-{image}"})
    assert removed.json() == {"bad": "false"}
    assert (
        lab.api.get(PANEL, params={"type": "comment", "image": image}).json()["annotations"] == []
    )
    deleted = lab.api.post(f"{W}/action/delete/comment/{ann}/", data={})
    assert deleted.json() == {"bad": "false"}
    assert row_count(instance, schema.annotation, id=ann) == 0


TAGSET_NS = "openmicroscopy.org/omero/insight/tagset"


def _tagset(instance: Any, owner: int, group: int, text: str) -> int:
    """A TagAnnotation with OMERO.insight's tag set namespace."""
    tid = add_tag(instance, owner, group, text)
    with instance.db.write() as conn:
        conn.execute(
            update(schema.annotation).where(schema.annotation.c.id == tid).values(ns=TAGSET_NS)
        )
    return tid


def _new_tag_form(image: int, tagset: int | str) -> dict[str, str]:
    return {
        "image": str(image),
        "newtags-TOTAL_FORMS": "1",
        "newtags-INITIAL_FORMS": "0",
        "newtags-0-tag": "fresh",
        "newtags-0-description": "",
        "newtags-0-tagset": str(tagset),
    }


@sqlite_only
def test_new_tag_goes_into_its_tagset(instance: Any, make_client: Any) -> None:
    """``newtags-N-tagset``: the new tag is linked into the set (an AnnotationAnnotationLink
    with the caller's details, in the objects' group) and on the objects; a member of a
    read-annotate group may put it into another member's set."""
    lab = make_lab(instance, make_client, users=2)
    tagset = _tagset(instance, lab.uid, lab.gid, "set")
    other = lab.users[1].id
    (image,) = add_images(instance, other, lab.gid, ["a"], with_pixels=False)

    response = lab.apis[1].post(f"{W}/annotate_tags/", data=_new_tag_form(image, tagset))
    assert response.status_code == 200, response.text
    (tag,) = response.json()["new"]
    link = schema.annotationannotationlink
    with instance.db.read() as conn:
        (row,) = conn.execute(select(link)).all()
        tag_row = conn.execute(select(schema.annotation).where(schema.annotation.c.id == tag)).one()
    assert (row.parent, row.child, row.owner_id, row.group_id) == (tagset, tag, other, lab.gid)
    assert row.creation_event_id == tag_row.creation_event_id  # one transaction, one event
    assert tag_row.ns is None and tag_row.textvalue == "fresh"

    in_set = lab.api.get(f"{W}/api/tags/", params={"id": tagset}).json()["tags"]
    assert [(t["id"], t["value"], t["ownerId"]) for t in in_set] == [(tag, "fresh", other)]
    (listed,) = [t for t in lab.api.get(f"{W}/api/tags/").json()["tags"] if t["id"] == tagset]
    assert listed["set"] is True and listed["childCount"] == 1
    tagged = lab.api.get(f"{W}/api/tags/", params={"id": tag}).json()["images"]
    assert [i["id"] for i in tagged] == [image]
    orphans = lab.api.get(f"{W}/api/tags/", params={"orphaned": "true"}).json()["tags"]
    assert [t["id"] for t in orphans] == [tagset]  # the new tag is in a set

    # action/remove with parent=tagset-N takes it out of the set again, keeping the tag
    removed = lab.apis[1].post(f"{W}/action/remove/tag/{tag}/", data={"parent": f"tagset-{tagset}"})
    assert removed.json() == {"bad": "false"}
    assert lab.api.get(f"{W}/api/tags/", params={"id": tagset}).json()["tags"] == []
    assert [
        i["id"] for i in lab.api.get(f"{W}/api/tags/", params={"id": tag}).json()["images"]
    ] == [image]


@sqlite_only
def test_new_tag_in_tagset_refused(instance: Any, make_client: Any) -> None:
    """A set that is missing, unreadable, not a set, or that the caller may not annotate
    (another member's, in a read-only group) refuses the whole form: no tag, no link."""
    lab = make_lab(instance, make_client, users=2, level=GroupLevel.READ_ONLY)
    theirs = _tagset(instance, lab.uid, lab.gid, "their set")
    plain = add_tag(instance, lab.users[1].id, lab.gid, "plain tag")
    (image,) = add_images(instance, lab.users[1].id, lab.gid, ["mine"], with_pixels=False)
    api = lab.apis[1]
    before = row_count(instance, schema.annotation)
    for tagset, status, message in (
        (theirs, 403, f"Cannot annotate TagAnnotation:{theirs}: not permitted"),
        (plain, 400, f"TagAnnotation {plain} is not a tag set"),
        (999999, 404, "TagAnnotation 999999 not found"),
        ("x", 400, None),
    ):
        response = api.post(f"{W}/annotate_tags/", data=_new_tag_form(image, tagset))
        assert response.status_code == status, (tagset, response.text)
        assert message is None or message in response.text, response.text
    assert row_count(instance, schema.annotation) == before
    assert row_count(instance, schema.annotationannotationlink) == 0
    assert row_count(instance, schema.annotation_links["image"]) == 0
    # the set's owner may, on their own image
    (own,) = add_images(instance, lab.uid, lab.gid, ["own"], with_pixels=False)
    ok = lab.api.post(f"{W}/annotate_tags/", data=_new_tag_form(own, theirs))
    assert ok.status_code == 200, ok.text
    assert row_count(instance, schema.annotationannotationlink) == 1


@sqlite_only
def test_file_upload_and_download(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    payload = b"a,b\n1,2\n"
    response = lab.api.post(
        f"{W}/annotate_file/",
        data={"image": str(image)},
        files={"annotation_file": ("my data.csv", payload, "text/csv")},
    )
    assert response.status_code == 200, response.text
    (ann,) = response.json()["fileIds"]
    (item,) = lab.api.get(PANEL, params={"type": "file", "image": image}).json()["annotations"]
    assert item["class"] == "FileAnnotationI"  # 77
    assert set(item["file"]) == {"id", "name", "size", "path", "mimetype"}
    assert item["file"]["size"] == len(payload) and item["file"]["mimetype"] == "text/csv"
    assert item["permissions"]["canDownload"] is True

    got = lab.api.get(f"{W}/annotation/{ann}/")  # 85
    assert got.status_code == 200 and got.content == payload
    assert got.headers["content-type"] == "application/force-download"
    assert got.headers["content-disposition"] == "attachment; filename=my_data.csv"
    assert int(got.headers["content-length"]) == item["file"]["size"]
    assert lab.api.get(f"{W}/annotation/999999/").status_code == 404  # 86

    assert lab.api.post(f"{W}/action/delete/file/{ann}/", data={}).json() == {"bad": "false"}
    assert _files(instance) == []


@sqlite_only
def test_refused_upload_leaves_no_file(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client, users=2, level=GroupLevel.READ_ONLY)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    response = lab.apis[1].post(
        f"{W}/annotate_file/",
        data={"image": str(image)},
        files={"annotation_file": ("x.txt", b"data", "text/plain")},
    )
    assert response.status_code == 403
    assert _files(instance) == [] and row_count(instance, schema.originalfile) == 0


def _try_annotate(api: Any, image: int) -> int:
    return api.post(MAP, data={"mapAnnotation": '[["k", "v"]]', "image": str(image)}).status_code


@sqlite_only
@pytest.mark.parametrize(
    ("level", "member", "owner_of_group", "admin"),
    [
        (GroupLevel.PRIVATE, 404, 403, 403),  # graph-critical: no annotating others' data
        (GroupLevel.READ_ONLY, 403, 200, 200),
        (GroupLevel.READ_ANNOTATE, 200, 200, 200),
        (GroupLevel.READ_WRITE, 200, 200, 200),
    ],
)
def test_who_may_annotate(
    instance: Any,
    make_client: Any,
    level: GroupLevel,
    member: int,
    owner_of_group: int,
    admin: int,
) -> None:
    lab = make_lab(instance, make_client, users=3, level=level)
    from pyomero.services import accounts

    accounts.add_to_group(instance, group=lab.group.name, usernames=["user3"], owner=True)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    before = row_count(instance, schema.annotation)
    leader = login(make_client, "user3")
    root = login(make_client, "root", ROOT_PASSWORD)
    assert _try_annotate(lab.apis[1], image) == member
    assert _try_annotate(leader, image) == owner_of_group
    assert _try_annotate(root, image) == admin
    expected = sum(s == 200 for s in (member, owner_of_group, admin))
    assert row_count(instance, schema.annotation) == before + expected
    assert _try_annotate(lab.api, image) == 200  # the owner always may


@sqlite_only
@pytest.mark.parametrize(
    ("level", "status"), [(GroupLevel.READ_ANNOTATE, 403), (GroupLevel.READ_WRITE, 200)]
)
def test_who_may_edit_and_delete(
    instance: Any, make_client: Any, level: GroupLevel, status: int
) -> None:
    lab = make_lab(instance, make_client, users=2, level=level)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    (ann,) = _map(lab.api, mapAnnotation='[["k", "v"]]', image=str(image))["annId"]
    other = lab.apis[1]
    edit = other.post(MAP, data={"mapAnnotation": '[["x", "y"]]', "annId": str(ann)})
    assert edit.status_code == status
    item = other.get(PANEL, params={"image": image}).json()["annotations"][0]
    assert item["permissions"]["canEdit"] is (status == 200)
    assert item["values"] == ([["x", "y"]] if status == 200 else [["k", "v"]])
    deleted = other.post(f"{W}/action/delete/map/{ann}/", data={})
    assert deleted.status_code == status
    assert row_count(instance, schema.annotation, id=ann) == (0 if status == 200 else 1)


@sqlite_only
def test_json_api_annotations(instance: Any, make_client: Any) -> None:
    lab = make_lab(instance, make_client)
    (image,) = add_images(instance, lab.uid, lab.gid, ["a"], with_pixels=False)
    (ann,) = _map(lab.api, mapAnnotation='[["k", "v"], ["k", "w"]]', image=str(image))["annId"]
    tag = add_tag(instance, lab.uid, lab.gid, "t")
    link_tag(instance, lab.uid, lab.gid, "image", image, tag)

    listed = lab.api.get("/api/v0/m/annotations/", params={"image": image}).json()
    assert listed["meta"]["totalCount"] == 2
    types = [a["@type"].rsplit("#", 1)[1] for a in listed["data"]]
    assert types == ["MapAnnotation", "TagAnnotation"]
    maps = lab.api.get("/api/v0/m/annotations/", params={"type": "map"}).json()["data"]
    assert [m["Value"] for m in maps] == [[["k", "v"], ["k", "w"]]]

    single = lab.api.get(f"/api/v0/m/annotations/{tag}/").json()["data"]
    assert single["Value"] == "t" and single["@id"] == tag
    assert lab.api.get("/api/v0/m/annotations/999999/").status_code == 404
    assert lab.api.delete(f"/api/v0/m/annotations/{ann}/").status_code == 200
    assert lab.api.get(f"/api/v0/m/annotations/{ann}/").status_code == 404


def test_store_lists_links_in_order(instance: Any) -> None:
    """Store level, on both backends: pairs keep their order, readable rows only."""
    from apidata import new_group, new_user

    group = new_group(instance, "g", GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["g"])
    bob = new_user(instance, "bob", ["g"])
    (image,) = add_images(instance, alice.id, group.id, ["a"], with_pixels=False)
    tag = add_tag(instance, alice.id, group.id, "mine")
    link_tag(instance, alice.id, group.id, "image", image, tag)
    from pyomero.services import accounts

    a_ctx = accounts.login(instance, username="alice", password="user-password")
    b_ctx = join_session(
        instance, accounts.login(instance, username="bob", password="user-password").session_uuid
    )
    with instance.db.read() as conn:
        rows = store.list_links(conn, a_ctx.actor, {"image": [image]})
        assert [r.annotation.text_value for r in rows] == ["mine"]
        assert store.list_links(conn, b_ctx.actor, {"image": [image]}) == []
        assert bob.id != alice.id


def test_store_links_from_tagsets_count(instance: Any) -> None:
    """Store level, on both backends: an annotation held only by a tag set is linked, so an
    object delete keeps it; holding tags does not link the set itself; deleting the set
    removes its links and keeps its tags."""
    from apidata import new_group, new_user
    from pyomero.store import bulk, writes

    group = new_group(instance, "g", GroupLevel.READ_ANNOTATE)
    alice = new_user(instance, "alice", ["g"])
    owner, gid = alice.id, group.id
    tagset = _tagset(instance, owner, gid, "set")
    tag, loose = add_tag(instance, owner, gid, "in set"), add_tag(instance, owner, gid, "loose")
    kept = add_tag(instance, owner, gid, "in set too", kind="Comment")
    gone = add_tag(instance, owner, gid, "orphan", kind="Comment")
    (image,) = add_images(instance, owner, gid, ["a"], with_pixels=False)
    for aid in (tag, kept, gone):
        link_tag(instance, owner, gid, "image", image, aid)
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=owner, group_id=gid)
        details = {"owner_id": owner, "group_id": gid, "event_id": event}
        for child in (tag, kept):
            writes.link_annotation(conn, "annotation", tagset, child, **details)
        with pytest.raises(ValidationError, match="annotationannotationlink"):
            writes.link_annotation(conn, "annotation", tagset, tag, **details)
    with instance.db.read() as conn:
        assert store.is_linked(conn, tag) and store.is_linked(conn, kept)
        assert not store.is_linked(conn, loose)
        assert not store.is_linked(conn, tagset)  # a set's links to its tags do not count

    with instance.db.write() as conn:
        writes.delete_object(conn, "image", image)
    assert row_count(instance, schema.annotation, id=gone) == 0  # orphaned: deleted
    assert row_count(instance, schema.annotation, id=kept) == 1  # still in the set
    with instance.db.read() as conn:
        assert store.is_linked(conn, tag) and store.is_linked(conn, kept)

    with instance.db.write() as conn:
        assert store.delete_annotation(conn, tagset) is None
    assert row_count(instance, schema.annotationannotationlink) == 0
    assert row_count(instance, schema.annotation, id=tag) == 1
    assert row_count(instance, schema.annotation, id=kept) == 1
    with instance.db.read() as conn:
        assert not store.is_linked(conn, tag)
