"""The webclient tree API (spec webgateway-idr.md 3.2, 4.7; assertions 80-84, 87, 90).

Expected JSON is written out from the spec, not computed by the encoder under test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apidata import (
    _bulk,
    add_datasets,
    add_images,
    add_plate,
    add_run,
    fast_passwords,  # noqa: F401 - autouse
    link_dataset_images,
    link_project_datasets,
    login,
    make_lab,
    new_group,
    new_user,
    sqlite_only,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services import tree as service
from pyomero.services.accounts import login as service_login
from pyomero.store import bulk
from pyomero.store.tree import Scope, containers, images, orphan_count

W = "/webclient/api"
OWNER_CSS = "canEdit canAnnotate canLink canDelete canChgrp isOwned"
JSON = "application/json"


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
