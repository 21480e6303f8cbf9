"""The webclient tree API (spec webgateway-idr.md 3.2, 4.7; assertions 80-84, 87, 90).

Expected JSON is written out from the spec, not computed by the encoder under test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, update

from apidata import (
    _bulk,
    add_datasets,
    add_empty_well,
    add_images,
    add_plate,
    add_rois,
    add_run,
    annotation_count,
    fast_passwords,  # noqa: F401 - autouse
    link_dataset_images,
    link_project_datasets,
    link_tag,
    login,
    make_lab,
    new_group,
    new_user,
    row_count,
    sqlite_only,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services import tree as service
from pyomero.services.accounts import login as service_login
from pyomero.store import bulk, schema
from pyomero.store import tags as store
from pyomero.store.tree import Scope, containers, images, orphan_count

W = "/webclient/api"
OWNER_CSS = "canEdit canAnnotate canLink canDelete canChgrp isOwned"
JSON = "application/json"
TAGSET_NS = "openmicroscopy.org/omero/insight/tagset"
INVALID = "Invalid parameter value"


def get(api: Any, url: str, status: int = 200) -> Any:
    response = api.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON, response.headers
    return response.json()


def bad(api: Any, url: str, status: int, message: str) -> None:
    response = api.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == message


def projects(instance: Any, owner: int, group: int, names: list[str]) -> list[int]:
    return _bulk(
        instance, bulk.insert_projects, owner, group, projects=[{"name": n} for n in names]
    )


def screens(instance: Any, owner: int, group: int, names: list[str]) -> list[int]:
    return _bulk(instance, bulk.insert_screens, owner, group, screens=[{"name": n} for n in names])


@sqlite_only
def test_containers_datasets_images(instance, make_client):
    """83. The top of the tree, a project's datasets, a dataset's images; every key."""
    lab = make_lab(instance, make_client, level=GroupLevel.READ_ONLY)
    uid, gid = lab.uid, lab.gid
    (p1,) = projects(instance, uid, gid, ["proj"])
    d1, d2, d3 = add_datasets(instance, uid, gid, ["in project", "b orphan", "A orphan"])
    link_project_datasets(instance, uid, gid, [(p1, d1)])
    i1, i2, i3 = add_images(instance, uid, gid, ["img b", "img a", "lonely"])
    link_dataset_images(instance, uid, gid, [(d1, i1), (d1, i2)])
    (s1,) = screens(instance, uid, gid, ["screen"])
    pl1 = add_plate(instance, uid, gid, "in screen", screen_id=s1).plate_id
    pl2 = add_plate(instance, uid, gid, "orphan plate", acquisitions=2).plate_id

    top = get(lab.api, f"{W}/containers/")
    assert top == {
        "projects": [
            {"id": p1, "name": "proj", "ownerId": uid, "childCount": 1, "permsCss": OWNER_CSS}
        ],
        "datasets": [
            {"id": d3, "name": "A orphan", "ownerId": uid, "childCount": 0, "permsCss": OWNER_CSS},
            {"id": d2, "name": "b orphan", "ownerId": uid, "childCount": 0, "permsCss": OWNER_CSS},
        ],
        "screens": [
            {"id": s1, "name": "screen", "ownerId": uid, "childCount": 1, "permsCss": OWNER_CSS}
        ],
        "plates": [
            {
                "id": pl2,
                "name": "orphan plate",
                "ownerId": uid,
                "childCount": 2,
                "permsCss": OWNER_CSS,
            }
        ],
        # i3 only: i1, i2 are in a dataset, the plates' images are in wells
        "orphaned": {"id": -1, "childCount": 1, "name": "Orphaned Images"},
    }
    assert get(lab.api, f"{W}/containers/?id={uid}")["orphaned"]["id"] == uid
    assert get(lab.api, f"{W}/datasets/?id={p1}") == {
        "datasets": [
            {
                "id": d1,
                "name": "in project",
                "ownerId": uid,
                "childCount": 2,
                "permsCss": OWNER_CSS,
            }
        ]
    }
    expected_images = [
        {"id": i, "archived": False, "name": n, "ownerId": uid, "permsCss": OWNER_CSS}
        for i, n in ((i2, "img a"), (i1, "img b"))
    ]
    assert get(lab.api, f"{W}/images/?id={d1}") == {"images": expected_images}
    orphans = get(lab.api, f"{W}/images/?orphaned=true")["images"]
    assert [i["id"] for i in orphans] == [i3]
    assert [p["id"] for p in get(lab.api, f"{W}/plates/")["plates"]] == [pl1, pl2]


@sqlite_only
def test_images_options_and_paging(instance, make_client):
    """84. ``sizeXYZ``, ``date``, ``thumbVersion``; ``?limit=1&page=2`` is the 2nd image."""
    lab = make_lab(instance, make_client)
    uid, gid = lab.uid, lab.gid
    (did,) = add_datasets(instance, uid, gid, ["d"])
    acquired = datetime(2020, 7, 1, 12, 30, 15)
    names = ["b", "C", "a", "B"]  # lower(name), id: a, b, B, C
    specs = [
        {
            "name": n,
            "pixels": {"sizex": 64, "sizey": 48, "sizez": 3, "sizet": 2},
            **({"acquisition_date": acquired} if n == "a" else {}),
        }
        for n in names
    ]
    ids = _bulk(instance, bulk.insert_images, uid, gid, images=specs)
    link_dataset_images(instance, uid, gid, [(did, i) for i in ids])
    by_name = dict(zip(names, ids, strict=True))
    order = [by_name[n] for n in ("a", "b", "B", "C")]

    plain = get(lab.api, f"{W}/images/?id={did}")["images"]
    assert [i["id"] for i in plain] == order
    assert all("sizeX" not in i and "date" not in i for i in plain)
    sized = get(lab.api, f"{W}/images/?id={did}&sizeXYZ=true")["images"]
    assert {(i["sizeX"], i["sizeY"], i["sizeZ"], i["sizeT"]) for i in sized} == {(64, 48, 3, 2)}
    for n in range(1, 5):
        page = get(lab.api, f"{W}/images/?id={did}&limit=1&page={n}")["images"]
        assert [i["id"] for i in page] == [order[n - 1]]
    assert get(lab.api, f"{W}/images/?id={did}&limit=1&page=5")["images"] == []
    assert len(get(lab.api, f"{W}/images/?id={did}&limit=1&page=0")["images"]) == 4

    dated = {i["id"]: i for i in get(lab.api, f"{W}/images/?id={did}&date=true")["images"]}
    # 2020-07-01 12:30:15 UTC is 13:30:15 in London (summer time)
    assert dated[by_name["a"]]["acqDate"] == "2020-07-01T13:30:15+01:00"
    assert "acqDate" not in dated[by_name["b"]]
    assert all(datetime.fromisoformat(i["date"]).tzinfo is not None for i in dated.values())
    versions = get(lab.api, f"{W}/images/?id={did}&thumbVersion=true")["images"]
    assert all("thumbVersion" not in i for i in versions)  # nobody saved settings yet


@sqlite_only
def test_plates_and_runs(instance, make_client):
    """80-82. Plates of a screen by (lower(name), id); childCount == number of runs."""
    lab = make_lab(instance, make_client)
    uid, gid = lab.uid, lab.gid
    (sid,) = screens(instance, uid, gid, ["screen"])
    made = {}
    for name, runs in (("plate_b", 2), ("Plate_A", 1), ("plate_a", 0)):
        made[name] = add_plate(instance, uid, gid, name, screen_id=sid, acquisitions=runs)
    unnamed = add_run(instance, uid, gid, made["plate_a"].plate_id, "x")
    plates = get(lab.api, f"{W}/plates/?id={sid}")["plates"]
    assert [p["name"] for p in plates] == ["Plate_A", "plate_a", "plate_b"]
    assert set(plates[0]) == {"id", "name", "ownerId", "childCount", "permsCss"}
    for plate in plates:
        runs = get(lab.api, f"{W}/plate_acquisitions/?id={plate['id']}")["acquisitions"]
        assert plate["childCount"] == len(runs)
        assert [r["id"] for r in runs] == sorted(r["id"] for r in runs)
        for run in runs:
            assert set(run) == {"id", "name", "ownerId", "permsCss"}
    named = get(lab.api, f"{W}/plate_acquisitions/?id={made['plate_a'].plate_id}")
    assert named["acquisitions"][0]["id"] == unnamed
    runs = get(lab.api, f"{W}/plate_acquisitions/?id={made['plate_b'].plate_id}&limit=1&page=2")
    assert [r["id"] for r in runs["acquisitions"]] == made["plate_b"].acquisition_ids[1:]

    bad(lab.api, f"{W}/plates/?id=abc", 400, "Invalid parameter value")
    bad(lab.api, f"{W}/plate_acquisitions/", 400, "id (plate) must be specified")
    bad(lab.api, f"{W}/images/?page=x", 400, "Invalid parameter value")
    bad(lab.api, f"{W}/containers/?group=", 400, "Invalid parameter value")


@sqlite_only
def test_permissions_and_group_filter(instance, make_client):
    """A private group's objects are invisible to others; ``group``; non-member 403."""
    lab = make_lab(instance, make_client, level=GroupLevel.PRIVATE, users=2)
    other = new_group(instance, "other", GroupLevel.READ_ANNOTATE)
    new_user(instance, "stranger", ["other"])
    stranger = login(make_client, "stranger")
    (mine,) = projects(instance, lab.users[0].id, lab.gid, ["mine"])
    (theirs,) = projects(instance, lab.users[1].id, lab.gid, ["theirs"])
    (elsewhere,) = projects(instance, lab.users[1].id, other.id, ["elsewhere"])
    (ds,) = add_datasets(instance, lab.users[1].id, lab.gid, ["private ds"])
    link_project_datasets(instance, lab.users[1].id, lab.gid, [(mine, ds)])

    def project_ids(api: Any, query: str = "") -> list[int]:
        return [p["id"] for p in get(api, f"{W}/containers/{query}")["projects"]]

    assert project_ids(lab.apis[0]) == [mine]  # private: only one's own
    # one's own objects are readable in any group (here one the owner is not a member of)
    assert project_ids(lab.apis[1]) == [elsewhere, theirs]
    assert project_ids(stranger) == [elsewhere]  # nothing of the private group
    # the other member's dataset is linked under my project but I cannot read it
    assert get(lab.apis[0], f"{W}/containers/")["projects"][0]["childCount"] == 0
    assert get(lab.apis[0], f"{W}/datasets/?id={mine}") == {"datasets": []}
    assert project_ids(lab.apis[1], f"?group={lab.gid}") == [theirs]
    bad(lab.apis[0], f"{W}/containers/?group={other.id}", 403, f"Not a member of Group: {other.id}")
    bad(lab.apis[0], f"{W}/images/?group={other.id}", 403, f"Not a member of Group: {other.id}")

    # a read-annotate member sees a colleague's project with the actions the policy allows
    colleague = new_user(instance, "colleague", ["other"])
    (shown,) = projects(instance, colleague.id, other.id, ["shown"])
    listed = get(stranger, f"{W}/containers/?group={other.id}")["projects"]
    assert {p["id"]: p["permsCss"] for p in listed} == {
        shown: "canAnnotate",
        elsewhere: "canAnnotate",
    }


@sqlite_only
def test_groups_experimenters_keepalive(instance, make_client):
    """``api/groups/``, ``api/experimenters/<id>/`` (-1 = All members), ``keepalive_ping/``."""
    lab = make_lab(instance, make_client, name="Lab")
    new_group(instance, "another")
    new_user(instance, "outsider", ["another"])
    groups = get(lab.api, f"{W}/groups/")["groups"]
    assert [g["name"] for g in groups] == sorted((g["name"] for g in groups), key=str.lower)
    assert "user" not in [g["name"] for g in groups]
    assert {"id": lab.gid, "name": "Lab", "perm": "rwra--"} in groups
    mine = get(lab.api, f"{W}/groups/?member={lab.uid}")["groups"]
    assert [g["id"] for g in mine] == [lab.gid]
    assert get(lab.api, f"{W}/groups/?limit=1&page=2")["groups"] == groups[1:2]
    bad(lab.api, f"{W}/groups/?member=me", 400, "Invalid parameter value")

    assert get(lab.api, f"{W}/experimenters/{lab.uid}/") == {
        "experimenter": {
            "id": lab.uid,
            "omeName": "user1",
            "firstName": "User1",
            "lastName": "Tester",
        }
    }
    assert get(lab.api, f"{W}/experimenters/-1/")["experimenter"]["id"] == -1
    outsider = [g for g in groups if g["name"] == "another"]
    assert outsider
    assert lab.api.get(f"{W}/experimenters/999999/").status_code == 404

    ping = lab.api.get("/webclient/keepalive_ping/")
    assert ping.status_code == 200
    assert ping.headers["content-type"].startswith("text/plain")
    assert ping.text == "OK"


@sqlite_only
def test_paths_and_parent_links(instance, make_client):
    lab = make_lab(instance, make_client)
    uid, gid = lab.uid, lab.gid
    (pid,) = projects(instance, uid, gid, ["p"])
    (did,) = add_datasets(instance, uid, gid, ["d"])
    (pdl,) = link_project_datasets(instance, uid, gid, [(pid, did)])
    linked, orphan = add_images(instance, uid, gid, ["linked", "orphan"])
    (dil,) = link_dataset_images(instance, uid, gid, [(did, linked)])
    (sid,) = screens(instance, uid, gid, ["s"])
    plate = add_plate(instance, uid, gid, "pl", screen_id=sid)

    def paths(query: str) -> list[list[dict[str, Any]]]:
        return get(lab.api, f"{W}/paths_to_object/?{query}")["paths"]

    def typed(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
        return [{"type": t, "id": i} for t, i in pairs]

    e = ("experimenter", uid)
    assert paths(f"image={linked}") == [
        typed(e, ("project", pid), ("dataset", did), ("image", linked))
    ]
    assert paths(f"image={orphan}") == [typed(e, ("orphaned", uid), ("image", orphan))]
    assert paths(f"dataset={did}") == [typed(e, ("project", pid), ("dataset", did))]
    assert paths(f"project={pid}") == [typed(e, ("project", pid))]
    run = plate.acquisition_ids[0]
    well_image = plate.image_ids[0]
    assert paths(f"image={well_image}") == [
        typed(
            e,
            ("screen", sid),
            ("plate", plate.plate_id),
            ("acquisition", run),
            ("well", plate.well_ids[0]),
            ("image", well_image),
        )
    ]
    assert paths(f"run={run}") == [
        typed(e, ("screen", sid), ("plate", plate.plate_id), ("acquisition", run))
    ]
    assert paths(f"image={linked}&dataset=999") == []
    assert paths("") == []
    bad(lab.api, f"{W}/paths_to_object/?image=x", 400, "Invalid parameter value")

    links = get(lab.api, f"{W}/parent_links/?image={linked},{orphan}&dataset={did}")
    assert links == {
        "data": [
            {
                "id": dil,
                "parent": {"type": "dataset", "id": did},
                "child": {"type": "image", "id": linked},
            },
            {
                "id": pdl,
                "parent": {"type": "project", "id": pid},
                "child": {"type": "dataset", "id": did},
            },
        ]
    }
    assert len(get(lab.api, f"{W}/parent_links/?plate={plate.plate_id}")["data"]) == 1


@sqlite_only
def test_anonymous_and_pages(instance, make_client, client):
    """2.2: anonymous browser -> login page, AJAX -> 403; 87: the pages are HTML."""
    response = client.get(f"{W}/containers/", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"].startswith("/webclient/login/?url=")
    ajax = client.get(f"{W}/containers/", headers={"X-Requested-With": "XMLHttpRequest"})
    assert ajax.status_code == 403
    assert client.get("/webclient/?show=image-1", follow_redirects=False).status_code == 302

    lab = make_lab(instance, make_client)
    (iid,) = add_images(instance, lab.uid, lab.gid, ["<My image>"])
    for url in (f"/webclient/?show=image-{iid}", f"/webclient/img_detail/{iid}/"):
        page = lab.api.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "&lt;My image&gt;" in page.text
        assert f'src="/webgateway/render_image/{iid}/"' in page.text
        assert f"/webclient/api/annotations/?type=map&amp;image={iid}" in page.text or (
            f"/webclient/api/annotations/?type=map&image={iid}" in page.text
        )
    assert lab.api.get("/webclient/img_detail/999999/").status_code == 404
    assert lab.api.get("/webclient/?show=image-999999").status_code == 200
    assert lab.api.get("/webclient/?experimenter=-1").status_code == 200


# ---------------------------------------------------------------------------- store level


def test_store_orphans_and_visibility(instance):
    """The SQL on both backends: orphan counts and pages respect visibility and owners."""
    group = new_group(instance, "g", GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["g"])
    bob = new_user(instance, "bob", ["g"])
    add_images(instance, alice.id, group.id, ["a1", "a2"])
    add_images(instance, bob.id, group.id, ["b1"])
    projects(instance, bob.id, group.id, ["bob's"])
    ctx = service_login(instance, username="alice", password="user-password")
    with instance.db.read() as conn:
        scope = Scope(ctx.actor)
        assert orphan_count(conn, scope) == 2
        assert containers(conn, "project", scope) == []
        assert [r.name for r in images(conn, Scope(ctx.actor, limit=1, offset=1))] == ["a2"]
        assert orphan_count(conn, Scope(ctx.actor, owner=bob.id)) == 0
    found = service.containers(ctx, group=group.id, experimenter_id=-1, offset=0, limit=None)
    assert found.orphaned_count == 2 and found.projects == []


# ---------------------------------------------------------------------------- tags


def new_tag(
    instance: Any,
    owner: int,
    group: int,
    text: str,
    *,
    tagset: bool = False,
    description: str | None = None,
) -> int:
    """A TagAnnotation (a tag set with OMERO.insight's namespace when ``tagset``)."""
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=owner, group_id=group)
        values = {
            "discriminator": "Tag",
            "textvalue": text,
            "description": description,
            "ns": TAGSET_NS if tagset else None,
            "owner_id": owner,
            "group_id": group,
            "creation_event_id": event,
            "update_event_id": event,
        }
        return conn.execute(insert(schema.annotation).values(**values)).inserted_primary_key[0]


def put_in_set(instance: Any, owner: int, group: int, tagset: int, tags: list[int]) -> None:
    """AnnotationAnnotationLinks from a tag set to its tags."""
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=owner, group_id=group)
        details = {
            "owner_id": owner,
            "group_id": group,
            "creation_event_id": event,
            "update_event_id": event,
        }
        rows = [{"parent": tagset, "child": t, **details} for t in tags]
        conn.execute(insert(schema.annotationannotationlink), rows)


def tag_json(
    tid: int,
    value: str,
    owner: int,
    css: str = OWNER_CSS,
    *,
    is_set: bool = False,
    count: int = 0,
    description: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"id": tid, "value": value}
    if description is not None:
        data["description"] = description
    data.update(ownerId=owner, permsCss=css, set=is_set, childCount=count)
    return data


def no_tagged(tags: list[dict[str, Any]]) -> dict[str, Any]:
    lists = ("projects", "datasets", "images", "screens", "plates", "acquisitions", "wells")
    return {**{k: [] for k in lists}, "tags": tags}


def tag_ids(api: Any, query: str = "") -> list[int]:
    return [t["id"] for t in get(api, f"{W}/tags/{query}")["tags"]]


@sqlite_only
def test_tags_list_sets_counts_and_params(instance, make_client):
    """``api/tags/``: tags and tag sets by id with every key; a set counts its tags, a tag
    the images it is on; ``orphaned``, ``experimenter_id``, paging; ``id`` of a set."""
    lab = make_lab(instance, make_client, users=2)
    uid, gid, other = lab.uid, lab.gid, lab.users[1].id
    t1 = new_tag(instance, uid, gid, "b tag", description="about b")
    ts = new_tag(instance, uid, gid, "set", tagset=True)
    t2 = new_tag(instance, uid, gid, "in set")
    t3 = new_tag(instance, other, gid, "theirs", description="")
    put_in_set(instance, uid, gid, ts, [t2, t3])
    i1, i2, i3 = add_images(instance, uid, gid, ["x", "y", "z"])
    for iid in (i1, i2):
        link_tag(instance, uid, gid, "image", iid, t1)
    (pid,) = projects(instance, uid, gid, ["p"])
    link_tag(instance, uid, gid, "project", pid, t1)  # OMERO counts images only
    link_tag(instance, uid, gid, "image", i3, t2)

    tagged_t1 = tag_json(t1, "b tag", uid, count=2, description="about b")
    the_set = tag_json(ts, "set", uid, is_set=True, count=2)
    in_set = tag_json(t2, "in set", uid, count=1)
    theirs = tag_json(t3, "theirs", other, "canAnnotate")  # empty description: no key
    assert get(lab.api, f"{W}/tags/") == {"tags": [tagged_t1, the_set, in_set, theirs]}
    assert tag_ids(lab.api, "?orphaned=true") == [t1, ts]
    assert tag_ids(lab.api, f"?experimenter_id={other}") == [t3]
    assert tag_ids(lab.api, "?limit=2&page=2") == [t2, t3]
    assert tag_ids(lab.api, "?limit=2&page=3") == []
    assert tag_ids(lab.api, "?limit=1&page=0") == [t1, ts, t2, t3]

    assert get(lab.api, f"{W}/tags/?id={ts}") == no_tagged([in_set, theirs])
    assert get(lab.api, f"{W}/tags/?id={ts}&experimenter_id={other}") == no_tagged([theirs])
    assert get(lab.api, f"{W}/tags/?id={ts}&limit=1&page=2") == no_tagged([theirs])
    assert get(lab.api, f"{W}/tags/?id=999999") == no_tagged([])
    assert get(lab.api, f"{W}/tags/?id={t2}")["tags"] == []  # a plain tag holds no tags

    for query in ("id=x", "page=x", "limit=1.5", "experimenter_id=me", "group=", "id="):
        bad(lab.api, f"{W}/tags/?{query}", 400, INVALID)


@sqlite_only
def test_tagged_objects_every_type(instance, make_client):
    """``api/tags/?id=<tag>``: projects, datasets, images, screens, plates, runs and wells
    the tag is on, in OMERO's marshalling and order; wells are ``<plate> - <row><col>``."""
    lab = make_lab(instance, make_client)
    uid, gid = lab.uid, lab.gid
    tag = new_tag(instance, uid, gid, "hit")
    (pid,) = projects(instance, uid, gid, ["Proj"])
    d1, d2 = add_datasets(instance, uid, gid, ["b ds", "A ds"])
    i1, i2, untagged = add_images(instance, uid, gid, ["img B", "img a", "untagged"])
    (sid,) = screens(instance, uid, gid, ["Scr"])
    plate = add_plate(instance, uid, gid, "pl", screen_id=sid)
    b3 = add_empty_well(instance, uid, gid, plate.plate_id, 1, 2)
    run = plate.acquisition_ids[0]
    targets = [("project", pid), ("dataset", d1), ("dataset", d2), ("image", i1)]
    targets += [("image", i2), ("screen", sid), ("plate", plate.plate_id)]
    targets += [("plateacquisition", run), ("well", b3), ("well", plate.well_ids[0])]
    for kind, oid in targets:
        link_tag(instance, uid, gid, kind, oid, tag)

    def node(oid: int, name: str, count: int) -> dict[str, Any]:
        return {"id": oid, "name": name, "ownerId": uid, "childCount": count, "permsCss": OWNER_CSS}

    def image(oid: int, name: str) -> dict[str, Any]:
        return {"id": oid, "archived": False, "name": name, "ownerId": uid, "permsCss": OWNER_CSS}

    def well(oid: int, name: str) -> dict[str, Any]:
        return {
            "id": oid,
            "ownerId": uid,
            "plateId": plate.plate_id,
            "permsCss": OWNER_CSS,
            "name": name,
        }

    runs = get(lab.api, f"{W}/plate_acquisitions/?id={plate.plate_id}")["acquisitions"]
    found = get(lab.api, f"{W}/tags/?id={tag}")
    assert found == {
        "projects": [node(pid, "Proj", 0)],
        "datasets": [node(d2, "A ds", 0), node(d1, "b ds", 0)],
        "images": [image(i2, "img a"), image(i1, "img B")],
        "screens": [node(sid, "Scr", 1)],
        "plates": [node(plate.plate_id, "pl", 1)],  # a plate counts its runs
        "acquisitions": runs,
        "wells": [well(plate.well_ids[0], "pl - A1"), well(b3, "pl - B3")],
        "tags": [],
    }
    assert runs[0]["id"] == run and untagged not in [i["id"] for i in found["images"]]
    sized = get(lab.api, f"{W}/tags/?id={tag}&sizeXYZ=true&date=true")["images"]
    assert [(i["sizeX"], i["sizeY"]) for i in sized] == [(64, 48), (64, 48)]
    assert all(datetime.fromisoformat(i["date"]).tzinfo is not None for i in sized)
    assert len(get(lab.api, f"{W}/tags/?id={tag}&limit=1")["wells"]) == 1
    assert [t["childCount"] for t in get(lab.api, f"{W}/tags/")["tags"]] == [2]


@sqlite_only
def test_tags_permissions(instance, make_client):
    """Tags of a private group are invisible to others; a tag's count and its tagged lists
    only show images the caller may read; ``group`` of another group is 403."""
    priv = new_group(instance, "priv", GroupLevel.PRIVATE)
    shared = new_group(instance, "shared", GroupLevel.READ_ANNOTATE)
    alice = new_user(instance, "alice", ["priv", "shared"])
    bob = new_user(instance, "bob", ["priv", "shared"])
    new_user(instance, "carol", ["shared"])
    apis = {n: login(make_client, n) for n in ("alice", "bob", "carol")}
    secret = new_tag(instance, alice.id, priv.id, "secret")
    public = new_tag(instance, alice.id, shared.id, "public")
    (private_image,) = add_images(instance, alice.id, priv.id, ["alice's private image"])
    (shared_image,) = add_images(instance, bob.id, shared.id, ["bob's shared image"])
    link_tag(instance, alice.id, priv.id, "image", private_image, public)
    link_tag(instance, bob.id, shared.id, "image", shared_image, public)

    assert tag_ids(apis["alice"]) == [secret, public]
    assert tag_ids(apis["bob"]) == [public]  # a private group: only one's own
    assert tag_ids(apis["carol"]) == [public]
    counts = {n: get(api, f"{W}/tags/")["tags"][-1]["childCount"] for n, api in apis.items()}
    assert counts == {"alice": 2, "bob": 1, "carol": 1}
    images_of = {
        n: [i["id"] for i in get(api, f"{W}/tags/?id={public}")["images"]]
        for n, api in apis.items()
    }
    assert images_of == {
        "alice": [private_image, shared_image],
        "bob": [shared_image],
        "carol": [shared_image],
    }
    assert get(apis["bob"], f"{W}/tags/?id={secret}") == no_tagged([])
    assert tag_ids(apis["alice"], f"?group={shared.id}") == [public]
    bad(apis["carol"], f"{W}/tags/?group={priv.id}", 403, f"Not a member of Group: {priv.id}")
    public_css = get(apis["carol"], f"{W}/tags/")["tags"][0]["permsCss"]
    assert public_css == "canAnnotate"


@sqlite_only
def test_delete_tags(instance, make_client):
    """``DELETE api/tags/?id=``: OMERO.web deletes the tags with their links, all or none;
    the tags of a deleted set stay. CSRF applies; others' tags are refused."""
    lab = make_lab(instance, make_client, users=2)
    uid, gid, other = lab.uid, lab.gid, lab.users[1].id
    ts = new_tag(instance, uid, gid, "set", tagset=True)
    t1, t2 = new_tag(instance, uid, gid, "one"), new_tag(instance, uid, gid, "two")
    theirs = new_tag(instance, other, gid, "theirs")
    put_in_set(instance, uid, gid, ts, [t1, t2])
    (iid,) = add_images(instance, uid, gid, ["img"])
    link_tag(instance, uid, gid, "image", iid, t1)

    refused = lab.api.client.delete(f"{W}/tags/?id={t1}")
    assert refused.status_code == 403 and refused.text.startswith("CSRF Failed")
    response = lab.api.delete(f"{W}/tags/?id={theirs},{t1}")
    assert response.status_code == 403, response.text
    assert response.text == f"Cannot delete TagAnnotation:{theirs}: not permitted"
    assert tag_ids(lab.api) == [ts, t1, t2, theirs]  # nothing went
    assert lab.api.delete(f"{W}/tags/?id=999999").status_code == 404
    assert lab.api.delete(f"{W}/tags/?id=x").status_code == 400

    response = lab.api.delete(f"{W}/tags/?id={ts}&id={t1}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    assert response.json() == ""
    assert tag_ids(lab.api) == [t2, theirs]
    assert tag_ids(lab.api, "?orphaned=true") == [t2, theirs]
    assert annotation_count(instance, "image", iid) == 0
    assert row_count(instance, schema.annotationannotationlink) == 0
    assert lab.api.delete(f"{W}/tags/").status_code == 200  # no ids: nothing to do


@sqlite_only
def test_paths_to_tags_rois_and_shapes(instance, make_client):
    """``paths_to_object`` with ``tag``/``tagset`` (OMERO's ``paths_to_tag``) and with
    ``roi``/``shape``, which follow the image and are appended to its paths."""
    lab = make_lab(instance, make_client, users=2)
    uid, gid, other = lab.uid, lab.gid, lab.users[1].id
    ts = new_tag(instance, other, gid, "set", tagset=True)
    t1, lone = new_tag(instance, uid, gid, "in set"), new_tag(instance, uid, gid, "lone")
    put_in_set(instance, other, gid, ts, [t1])

    def paths(query: str) -> list[list[tuple[str, int]]]:
        found = get(lab.api, f"{W}/paths_to_object/?{query}")["paths"]
        return [[(n["type"], n["id"]) for n in path] for path in found]

    assert paths(f"tag={t1}") == [[("experimenter", other), ("tagset", ts), ("tag", t1)]]
    assert paths(f"tag={t1}&tagset={ts}") == paths(f"tag={t1}")
    assert paths(f"tag={t1}&experimenter={uid}") == []
    assert paths(f"tag={lone}") == [[("experimenter", uid), ("tag", lone)]]
    assert paths(f"tag={lone}&tagset={ts}") == [[("experimenter", uid), ("tag", lone)]]
    assert paths(f"tagset={ts}") == [[("experimenter", other), ("tagset", ts)]]
    assert paths("tag=999999") == []
    bad(lab.api, f"{W}/paths_to_object/?tag=x", 400, INVALID)

    (did,) = add_datasets(instance, uid, gid, ["d"])
    (iid,) = add_images(instance, uid, gid, ["i"])
    link_dataset_images(instance, uid, gid, [(did, iid)])
    (roi,) = add_rois(
        instance, uid, gid, iid, [{"name": "R", "shapes": [{"kind": "Point", "x": 1, "y": 2}]}]
    )
    image_path = [("experimenter", uid), ("dataset", did), ("image", iid)]
    assert paths(f"roi={roi.id}") == [[*image_path, ("roi", roi.id)]]
    shape = roi.shape_ids[0]
    assert paths(f"shape={shape}") == [[*image_path, ("roi", roi.id), ("shape", shape)]]
    assert paths("roi=999999") == [] and paths("shape=999999") == []
    bad(lab.api, f"{W}/paths_to_object/?shape=s", 400, INVALID)


@sqlite_only
def test_show_every_type(instance, make_client):
    """``/webclient/?show=<type>-<id>``: a 200 HTML page naming the object for each type;
    a missing or unreadable one says so (OMERO.web also answers 200); with several items
    the first that can be read is shown."""
    lab = make_lab(instance, make_client, users=2, level=GroupLevel.PRIVATE)
    uid, gid, other = lab.uid, lab.gid, lab.users[1].id
    (pid,) = projects(instance, uid, gid, ["<Proj>"])
    (did,) = add_datasets(instance, uid, gid, ["Data set"])
    (iid,) = add_images(instance, uid, gid, ["The image"])
    (sid,) = screens(instance, uid, gid, ["Scr"])
    plate = add_plate(instance, uid, gid, "Plate 7", screen_id=sid)
    tag = new_tag(instance, uid, gid, "my tag")
    tagset = new_tag(instance, uid, gid, "my set", tagset=True)
    (roi,) = add_rois(
        instance, uid, gid, iid, [{"name": "Nucleus", "shapes": [{"kind": "Point", "x": 1}]}]
    )
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=uid, group_id=gid)
        details = {"owner_id": uid, "group_id": gid}
        details |= {"creation_event_id": event, "update_event_id": event}
        fileset = conn.execute(
            insert(schema.fileset).values(templateprefix="user1/x/", **details)
        ).inserted_primary_key[0]
        conn.execute(update(schema.image).where(schema.image.c.id == iid).values(fileset=fileset))
    (theirs,) = projects(instance, other, gid, ["Not yours"])

    expected = {
        f"project-{pid}": "&lt;Proj&gt;",
        f"dataset-{did}": "Data set",
        f"image-{iid}": "The image",
        f"screen-{sid}": "Scr",
        f"plate-{plate.plate_id}": "Plate 7",
        f"run-{plate.acquisition_ids[0]}": "Run 1",
        f"acquisition-{plate.acquisition_ids[0]}": "Run 1",
        f"well-{plate.well_ids[0]}": "Plate 7 - A1",
        f"tag-{tag}": "my tag",
        f"tagset-{tagset}": "my set",
        f"roi-{roi.id}": "Nucleus",
        f"shape-{roi.shape_ids[0]}": f"Shape {roi.shape_ids[0]}",
        f"fileset-{fileset}": f"Fileset {fileset}",
        f"image.id-{iid}": "The image",
        f"project-999999|dataset-{did}": "Data set",
        f"project-{theirs}|tag-{tag}": "my tag",
    }
    for show, text in expected.items():
        page = lab.api.get(f"/webclient/?show={show}")
        assert page.status_code == 200, (show, page.text)
        assert page.headers["content-type"].startswith("text/html")
        assert f"<h1>{text}" in page.text or f": {text}</h1>" in page.text, (show, page.text)
    for kind, oid in (("roi", roi.id), ("shape", roi.shape_ids[0]), ("fileset", fileset)):
        page = lab.api.get(f"/webclient/?show={kind}-{oid}").text  # shown on their image
        assert "On image The image." in page
        assert f'src="/webgateway/render_image/{iid}/"' in page
    page = lab.api.get(f"/webclient/?path=project-{pid}").text
    assert "<h1>&lt;Proj&gt;</h1>" in page
    for show in (f"project-{theirs}", "tag-999999", f"well-{plate.well_ids[0]}"):
        api = lab.apis[1] if show.startswith("well") else lab.api  # not the other's well
        page = api.get(f"/webclient/?show={show}")
        assert page.status_code == 200 and "was not found" in page.text, page.text
    assert "was not found" not in lab.apis[1].get(f"/webclient/?show=project-{theirs}").text
    unknown = lab.api.get("/webclient/?show=planet-1|image.name-x")
    assert unknown.status_code == 200 and "containers (JSON)" in unknown.text


def test_store_tags_on_both_backends(instance):
    """The tag SQL on SQLite and PostgreSQL: sets and orphans, counts under visibility,
    wells in row/column order, tag paths, and deletes cascading to set links."""
    group = new_group(instance, "g", GroupLevel.READ_ANNOTATE)
    priv = new_group(instance, "p", GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["g", "p"])
    new_user(instance, "bob", ["g"])
    ts = new_tag(instance, alice.id, group.id, "set", tagset=True)
    t1 = new_tag(instance, alice.id, group.id, "t1")
    put_in_set(instance, alice.id, group.id, ts, [t1])
    (hidden,) = add_images(instance, alice.id, priv.id, ["hidden"])
    link_tag(instance, alice.id, priv.id, "image", hidden, t1)
    plate = add_plate(instance, alice.id, group.id, "pl", rows=2, columns=2)
    for wid in plate.well_ids:
        link_tag(instance, alice.id, group.id, "well", wid, t1)
    alice_ctx = service_login(instance, username="alice", password="user-password")
    bob_ctx = service_login(instance, username="bob", password="user-password")
    with instance.db.read() as conn:
        mine, theirs = Scope(alice_ctx.actor), Scope(bob_ctx.actor)
        assert [(r.id, r.is_set, r.child_count) for r in store.tags(conn, mine)] == [
            (ts, True, 1),
            (t1, False, 1),
        ]
        assert [r.child_count for r in store.tags(conn, theirs)] == [1, 0]
        assert [r.id for r in store.tags(conn, mine, orphaned=True)] == [ts]
        assert [r.id for r in store.tags(conn, mine, parent_id=ts)] == [t1]
        wells = store.tagged_wells(conn, mine, t1)
        assert [(w.row, w.column) for w in wells] == [(0, 0), (0, 1), (1, 0), (1, 1)]
        assert store.tag_paths(conn, theirs, tag_id=t1, tagset_id=None) == [
            [("experimenter", alice.id), ("tagset", ts), ("tag", t1)]
        ]
    found = service.tagged(bob_ctx, tag_id=t1, group=-1, experimenter_id=-1, offset=0, limit=None)
    assert found.images == [] and len(found.wells) == 4
    service.delete_tags(alice_ctx, [ts])
    assert row_count(instance, schema.annotationannotationlink) == 0
    with instance.db.read() as conn:
        assert [r.id for r in store.tags(conn, Scope(alice_ctx.actor))] == [t1]
