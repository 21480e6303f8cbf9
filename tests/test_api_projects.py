"""Projects: listing, groups and owners, paging, childCount, normalize, save and delete
(spec assertions 11-25)."""

from __future__ import annotations

import json

import pytest

from apidata import (
    ABS,
    API,
    MEMBER_READ_ANNOTATE,
    NOT_LOGGED_IN,
    OWNER,
    SCHEMA,
    M,
    add_datasets,
    add_images,
    add_plate,
    add_tag,
    annotation_count,
    check_json,
    container_expected,
    container_json,
    create,
    create_projects,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    link_dataset_images,
    link_project_datasets,
    link_tag,
    login,
    make_lab,
    names,
    new_group,
    row_count,
    sqlite_only,
    strip_urls,
    unsafe_json,
    url,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts
from pyomero.store import schema


def _project_item(pid, name, owner, group, can=OWNER):
    return {
        **container_expected("Project", pid, name, owner, group, can=can),
        "url:project": url(f"projects/{pid}/"),
        "url:datasets": url(f"projects/{pid}/datasets/"),
    }


@sqlite_only
def test_marshal_projects_not_logged_in(client):
    """11. No session: 403 ``Not logged in`` (no API version header) on every /m/ route."""
    for path in (f"{M}/projects/", f"{M}/projects/1/", f"{M}/experimenters/", f"{M}/rois/"):
        assert check_json(client.get(path), 403, version=False) == NOT_LOGGED_IN, path
    token = client.get(f"{API}/token/").json()["data"]
    response = client.post(
        f"{M}/save/?group=3", json=container_json("Project", "P"), headers={"X-CSRFToken": token}
    )
    assert check_json(response, 403, version=False) == NOT_LOGGED_IN
    response = client.delete(f"{M}/projects/1/", headers={"X-CSRFToken": token})
    assert check_json(response, 403, version=False) == NOT_LOGGED_IN


@sqlite_only
def test_marshal_projects_no_results(instance, make_client):
    """12. A new user sees an empty list with full meta."""
    lab = make_lab(instance, make_client)
    body = get_json(lab.api, f"{M}/projects/")
    assert body == {
        "data": [],
        "meta": {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 0},
    }


@sqlite_only
def test_marshal_projects_user(instance, make_client):
    """13. The user's projects in case-insensitive name order, each fully encoded."""
    lab = make_lab(instance, make_client)
    created = create_projects(lab.api, lab.gid, ["Project2", "bat", "Project1", "Apple"])
    body = get_json(lab.api, f"{M}/projects/")
    expected_names = ["Apple", "bat", "Project1", "Project2"]
    assert body["data"] == [
        _project_item(created[n], n, lab.users[0], lab.group) for n in expected_names
    ]
    assert body["meta"] == {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 4}
    # each list item, less its url: keys, equals the single GET less its own
    for item in body["data"]:
        single = get_json(lab.api, item["url:project"])["data"]
        assert strip_urls(single) == strip_urls(item)
        assert single["url:datasets"] == item["url:datasets"]
        assert "url:project" not in single


@sqlite_only
def test_marshal_projects_another_user(instance, make_client):
    """14. Another member's project in a read-annotate group is listed, with the reader's
    permissions (only canAnnotate)."""
    lab = make_lab(instance, make_client, users=2)
    (pid,) = create_projects(lab.apis[1], lab.gid, ["Theirs"]).values()
    body = get_json(lab.api, f"{M}/projects/")
    assert body["data"] == [
        _project_item(pid, "Theirs", lab.users[1], lab.group, can=MEMBER_READ_ANNOTATE)
    ]
    # in a private group the same project would be invisible to the other member
    private = new_group(instance, "private", GroupLevel.PRIVATE)
    accounts.add_to_group(instance, group="private", usernames=["user1", "user2"])
    hidden = create(lab.apis[1], "Project", "Hidden", private.id)["@id"]
    assert names(get_json(lab.api, f"{M}/projects/")["data"]) == ["Theirs"]
    body = get_json(lab.api, f"{M}/projects/{hidden}/", 404)
    error_body(body, f"Project {hidden} not found")


@sqlite_only
def test_marshal_projects_another_group(instance, make_client):
    """15. Without ``group``, the user's projects in a second group are listed too."""
    lab = make_lab(instance, make_client)
    other = new_group(instance, "other")
    accounts.add_to_group(instance, group="other", usernames=["user1"])
    mine = create_projects(lab.api, other.id, ["Elsewhere"])
    body = get_json(lab.api, f"{M}/projects/")
    assert body["data"] == [_project_item(mine["Elsewhere"], "Elsewhere", lab.users[0], other)]


@sqlite_only
def test_marshal_projects_all_groups(instance, make_client):
    """16. 4 + 2 projects in two groups: all without ``group``, each group's with it."""
    lab = make_lab(instance, make_client)
    other = new_group(instance, "other")
    accounts.add_to_group(instance, group="other", usernames=["user1"])
    in_lab = create_projects(lab.api, lab.gid, ["A1", "a2", "A3", "a4"])
    in_other = create_projects(lab.api, other.id, ["B1", "b2"])
    body = get_json(lab.api, f"{M}/projects/")
    assert names(body["data"]) == ["A1", "a2", "A3", "a4", "B1", "b2"]
    assert body["meta"]["totalCount"] == 6
    body = get_json(lab.api, f"{M}/projects/?group={lab.gid}")
    assert ids(body["data"]) == list(in_lab.values())
    assert body["meta"]["totalCount"] == 4
    body = get_json(lab.api, f"{M}/projects/?group={other.id}")
    assert ids(body["data"]) == list(in_other.values())
    assert body["meta"]["totalCount"] == 2
    assert {p["omero:details"]["group"]["@id"] for p in body["data"]} == {other.id}
    # group=-1 is every group, as no group at all
    assert get_json(lab.api, f"{M}/projects/?group=-1")["meta"]["totalCount"] == 6


@sqlite_only
def test_marshal_projects_all_users(instance, make_client):
    """17. Both users' projects without ``owner``; ``owner`` keeps one user's."""
    lab = make_lab(instance, make_client, users=2)
    mine = create_projects(lab.api, lab.gid, ["p1", "P2", "p3", "P4"])
    theirs = create_projects(lab.apis[1], lab.gid, ["P0"])
    body = get_json(lab.api, f"{M}/projects/")
    assert names(body["data"]) == ["P0", "p1", "P2", "p3", "P4"]
    assert body["meta"]["totalCount"] == 5
    body = get_json(lab.api, f"{M}/projects/?owner={lab.users[0].id}")
    assert ids(body["data"]) == list(mine.values())
    assert body["meta"]["totalCount"] == 4
    body = get_json(lab.api, f"{M}/projects/?owner={lab.users[1].id}")
    assert ids(body["data"]) == list(theirs.values())
    assert body["meta"]["totalCount"] == 1
    body = get_json(lab.api, f"{M}/projects/?owner=9999")
    assert body["data"] == [] and body["meta"]["totalCount"] == 0


def test_marshal_projects_pagination(instance, make_client):
    """18. ``limit`` -1 is the default 200; 0..3 give that many; ``offset`` pages on."""
    lab = make_lab(instance, make_client)
    order = ["Apple", "Axe", "bat", "Project1", "Project2"]
    created = create_projects(lab.api, lab.gid, ["Project2", "Axe", "bat", "Project1", "Apple"])
    expected = [created[n] for n in order]
    body = get_json(lab.api, f"{M}/projects/?limit=-1")
    assert body["meta"] == {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 5}
    assert ids(body["data"]) == expected
    for limit in (0, 1, 2, 3):
        body = get_json(lab.api, f"{M}/projects/?limit={limit}")
        assert ids(body["data"]) == expected[:limit]
        assert body["meta"] == {"offset": 0, "limit": limit, "maxLimit": 500, "totalCount": 5}
        body = get_json(lab.api, f"{M}/projects/?limit={limit}&offset={limit}")
        assert ids(body["data"]) == expected[limit : 2 * limit]
        assert body["meta"] == {"offset": limit, "limit": limit, "maxLimit": 500, "totalCount": 5}


def test_marshal_projects_params(instance, make_client):
    """19-20. ``childCount=true`` counts datasets; ``normalize=true`` lifts owners and groups."""
    lab = make_lab(instance, make_client)
    created = create_projects(lab.api, lab.gid, ["Project1", "bat", "Apple", "Project2", "Axe"])
    datasets = add_datasets(instance, lab.uid, lab.gid, ["d1", "d2", "d3"])
    link_project_datasets(
        instance,
        lab.uid,
        lab.gid,
        [
            (created["Project1"], datasets[0]),
            (created["Project1"], datasets[1]),
            (created["Project2"], datasets[2]),
        ],
    )
    body = get_json(lab.api, f"{M}/projects/?childCount=true")
    assert names(body["data"]) == ["Apple", "Axe", "bat", "Project1", "Project2"]
    assert [p["omero:childCount"] for p in body["data"]] == [0, 0, 0, 2, 1]
    for value in ("True", "1", "yes", "false"):  # only the exact string "true" counts
        body = get_json(lab.api, f"{M}/projects/?childCount={value}")
        assert all("omero:childCount" not in p for p in body["data"]), value
    plain = get_json(lab.api, f"{M}/projects/")
    body = get_json(lab.api, f"{M}/projects/?normalize=true")
    assert list(body) == ["experimenters", "experimenterGroups", "data", "meta"]
    for item in body["data"]:
        details = item["omero:details"]
        assert details["owner"] == {"@id": lab.uid}
        assert details["group"] == {"@id": lab.gid}
    assert body["experimenters"] == [plain["data"][0]["omero:details"]["owner"]]
    assert body["experimenterGroups"] == [plain["data"][0]["omero:details"]["group"]]
    assert body["meta"] == plain["meta"]
    assert body["meta"]["totalCount"] == len(body["data"]) == 5
    # apart from owner and group the items are unchanged
    for normal, item in zip(body["data"], plain["data"], strict=True):
        normal_details = {
            k: v for k, v in normal["omero:details"].items() if k not in ("owner", "group")
        }
        item_details = {
            k: v for k, v in item["omero:details"].items() if k not in ("owner", "group")
        }
        assert normal_details == item_details
        assert {k: v for k, v in normal.items() if k != "omero:details"} == {
            k: v for k, v in item.items() if k != "omero:details"
        }
    # normalize and childCount together; normalize=True is not normalize
    both = get_json(lab.api, f"{M}/projects/?normalize=true&childCount=true")
    assert [p["omero:childCount"] for p in both["data"]] == [0, 0, 0, 2, 1]
    assert list(get_json(lab.api, f"{M}/projects/?normalize=True")) == ["data", "meta"]


@sqlite_only
def test_marshal_projects_normalize_two_owners(instance, make_client):
    """20. ``experimenters`` and ``experimenterGroups`` are keyed by id in first-seen order."""
    lab = make_lab(instance, make_client, users=2)
    create_projects(lab.apis[1], lab.gid, ["a-theirs", "c-theirs"])
    create_projects(lab.api, lab.gid, ["b-mine"])
    body = get_json(lab.api, f"{M}/projects/?normalize=true")
    assert [p["omero:details"]["owner"] for p in body["data"]] == [
        {"@id": lab.users[1].id},
        {"@id": lab.users[0].id},
        {"@id": lab.users[1].id},
    ]
    assert ids(body["experimenters"]) == [lab.users[1].id, lab.users[0].id]
    assert [e["UserName"] for e in body["experimenters"]] == ["user2", "user1"]
    assert ids(body["experimenterGroups"]) == [lab.gid]


@sqlite_only
def test_project_create_read(instance, make_client):
    """21. POST to ``url:save`` is a 201 with the saved object; GET returns the same."""
    lab = make_lab(instance, make_client)
    base = get_json(lab.api, f"{API}/")
    save_url = base["url:save"]
    assert save_url == f"{ABS}{M}/save/"
    body = {"Name": "test_project_create_read", "@type": base["url:schema"] + "#Project"}
    data = unsafe_json(lab.api, "POST", f"{save_url}?group={lab.gid}", 201, json=body)["data"]
    assert data["Name"] == "test_project_create_read"
    pid = data["@id"]
    assert isinstance(pid, int)
    expected = container_expected(
        "Project", pid, "test_project_create_read", lab.users[0], lab.group
    )
    assert data == expected  # no url: keys, no childCount on save
    single = get_json(lab.api, f"{base['url:projects']}{pid}/")["data"]
    assert single == {**expected, "url:datasets": url(f"projects/{pid}/datasets/")}
    # non-ASCII text is sent escaped (ensure_ascii) and read back unchanged
    body = {"Name": "Caf\u00e9 \u00b5", "@type": f"{SCHEMA}#Project"}
    data = unsafe_json(lab.api, "POST", f"{save_url}?group={lab.gid}", 201, json=body)["data"]
    response = lab.api.get(f"{M}/projects/{data['@id']}/")
    assert b'"Caf\\u00e9 \\u00b5"' in response.content
    assert response.json()["data"]["Name"] == "Caf\u00e9 \u00b5"
    assert (
        get_json(lab.api, f"{base['url:projects']}{pid}/?childCount=true")["data"][
            "omero:childCount"
        ]
        == 0
    )


@sqlite_only
def test_project_create_other_group(instance, make_client):
    """22. The group comes from ``?group=`` or from ``omero:details.group``."""
    lab = make_lab(instance, make_client)
    other = new_group(instance, "other")
    accounts.add_to_group(instance, group="other", usernames=["user1"])
    body = unsafe_json(lab.api, "POST", f"{M}/save/", 400, json=container_json("Project", "P"))
    error_body(body, "Specify Group in omero:details or query parameters ?group=:id", trace=False)
    details = {
        "@type": "TBD#Details",
        "group": {"@id": other.id, "@type": f"{SCHEMA}#ExperimenterGroup"},
    }
    project = container_json("Project", "In other", **{"omero:details": details})
    data = unsafe_json(lab.api, "POST", f"{M}/save/", 201, json=project)["data"]
    assert data["omero:details"]["group"]["@id"] == other.id
    single = get_json(lab.api, f"{M}/projects/{data['@id']}/")["data"]
    assert single["omero:details"]["group"]["@id"] == other.id
    # ?group= wins over omero:details
    data = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 201, json=project)["data"]
    assert data["omero:details"]["group"]["@id"] == lab.gid
    # a group the user is not in is refused
    stranger = new_group(instance, "stranger")
    body = unsafe_json(
        lab.api, "POST", f"{M}/save/?group={stranger.id}", 403, json=container_json("Project", "P")
    )
    assert body["stacktrace"].startswith("Traceback (most recent call last):")
    assert get_json(lab.api, f"{M}/projects/")["meta"]["totalCount"] == 2


@sqlite_only
def test_project_update(instance, make_client):
    """23. PUT is a full replace of the fields; ``@type`` is required."""
    lab = make_lab(instance, make_client)
    data = create(lab.api, "Project", "Original", lab.gid, Description="Kept")
    pid = data["@id"]
    project = get_json(lab.api, f"{M}/projects/{pid}/")["data"]
    project["Name"] = "Renamed"
    saved = unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=project)["data"]
    assert saved == container_expected(
        "Project", pid, "Renamed", lab.users[0], lab.group, Description="Kept"
    )
    body = unsafe_json(lab.api, "PUT", f"{M}/save/", 400, json={"Name": "No type", "@id": pid})
    error_body(body, "Need to specify @type attribute", trace=False)
    minimal = {"Name": "Bare", "@id": pid, "@type": f"{SCHEMA}#Project"}
    saved = unsafe_json(lab.api, "PUT", f"{M}/save/?group={lab.gid}", 200, json=minimal)["data"]
    assert saved["Name"] == "Bare" and "Description" not in saved
    single = get_json(lab.api, f"{M}/projects/{pid}/")["data"]
    assert single["Name"] == "Bare" and "Description" not in single
    single["Description"] = "Back again"
    unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=single)
    single = get_json(lab.api, f"{M}/projects/{pid}/")["data"]
    assert (single["Name"], single["Description"]) == ("Bare", "Back again")
    # an empty string is a value, not a null; the body is JSON whatever its content type
    single["Description"] = ""
    response = lab.api.put(
        f"{M}/save/", content=json.dumps(single).encode(), headers={"Content-Type": "text/plain"}
    )
    assert check_json(response, 200)["data"]["Description"] == ""
    assert get_json(lab.api, f"{M}/projects/{pid}/")["data"]["Description"] == ""
    # still one project: PUT never creates
    assert get_json(lab.api, f"{M}/projects/")["meta"]["totalCount"] == 1


@sqlite_only
@pytest.mark.parametrize("kind", ["Project", "Dataset"])
def test_project_datasets_update(instance, make_client, kind):
    """24. GET, rename, PUT the whole JSON: the child links are all kept."""
    lab = make_lab(instance, make_client)
    parent = create(lab.api, kind, "Parent", lab.gid)["@id"]
    if kind == "Project":
        children = add_datasets(instance, lab.uid, lab.gid, ["c1", "c2"])
        link_project_datasets(instance, lab.uid, lab.gid, [(parent, c) for c in children])
        children_url = f"{M}/projects/{parent}/datasets/"
        single_url = f"{M}/projects/{parent}/"
    else:
        children = add_images(instance, lab.uid, lab.gid, ["c1", "c2"])
        link_dataset_images(instance, lab.uid, lab.gid, [(parent, c) for c in children])
        children_url = f"{M}/datasets/{parent}/images/"
        single_url = f"{M}/datasets/{parent}/"
    obj = get_json(lab.api, f"{single_url}?childCount=true")["data"]
    assert obj["omero:childCount"] == 2  # url: keys and childCount are tolerated in a PUT
    obj["Name"] = "Renamed"
    unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=obj)
    assert ids(get_json(lab.api, children_url)["data"]) == children
    single = get_json(lab.api, f"{single_url}?childCount=true")["data"]
    assert (single["Name"], single["omero:childCount"]) == ("Renamed", 2)


@sqlite_only
def test_project_delete(instance, make_client):
    """25. DELETE returns the object; then GET and DELETE are 404; its datasets survive."""
    lab = make_lab(instance, make_client)
    pid = create(lab.api, "Project", "Doomed", lab.gid)["@id"]
    (did,) = add_datasets(instance, lab.uid, lab.gid, ["Child"])
    link_project_datasets(instance, lab.uid, lab.gid, [(pid, did)])
    tag = add_tag(instance, lab.uid, lab.gid, "survives")
    comment = add_tag(instance, lab.uid, lab.gid, "goes", kind="Comment")
    for annotation in (tag, comment):
        link_tag(instance, lab.uid, lab.gid, "project", pid, annotation)
    data = unsafe_json(lab.api, "DELETE", f"{M}/projects/{pid}/", 200)["data"]
    assert data["@id"] == pid and data["Name"] == "Doomed"
    assert data["@type"] == f"{SCHEMA}#Project"
    assert not [k for k in data if k.startswith("url:")]
    error_body(get_json(lab.api, f"{M}/projects/{pid}/", 404), f"Project {pid} not found")
    body = unsafe_json(lab.api, "DELETE", f"{M}/projects/{pid}/", 404)
    error_body(body, f"Project {pid} not found")
    # PUT of the deleted project
    put = container_json("Project", "Zombie", **{"@id": pid})
    body = unsafe_json(lab.api, "PUT", f"{M}/save/?group={lab.gid}", 404, json=put)
    error_body(body, f"Project {pid} not found")
    # the tag survives unlinked, the comment goes with the project
    assert row_count(instance, schema.annotation, id=tag) == 1
    assert row_count(instance, schema.annotation, id=comment) == 0
    assert annotation_count(instance, "project", pid) == 0
    # the child dataset is now an orphan
    orphans = get_json(lab.api, f"{M}/datasets/?orphaned=true")["data"]
    assert ids(orphans) == [did]
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_project_edit_delete_permissions(instance, make_client):
    """Another member of a read-annotate group may read, but neither PUT nor DELETE."""
    lab = make_lab(instance, make_client, users=2)
    pid = create(lab.api, "Project", "Mine", lab.gid)["@id"]
    theirs = get_json(lab.apis[1], f"{M}/projects/{pid}/")["data"]
    theirs["Name"] = "Hijacked"
    body = unsafe_json(lab.apis[1], "PUT", f"{M}/save/", 403, json=theirs)
    assert body["stacktrace"].startswith("Traceback (most recent call last):")
    body = unsafe_json(lab.apis[1], "DELETE", f"{M}/projects/{pid}/", 403)
    assert body["stacktrace"].startswith("Traceback (most recent call last):")
    assert get_json(lab.api, f"{M}/projects/{pid}/")["data"]["Name"] == "Mine"
    # root (an admin) may do both
    root = login(make_client, "root", "root-password")
    mine = get_json(root, f"{M}/projects/{pid}/")["data"]
    assert mine["omero:details"]["permissions"]["canEdit"] is True
    mine["Name"] = "By root"
    unsafe_json(root, "PUT", f"{M}/save/", 200, json=mine)
    assert get_json(lab.api, f"{M}/projects/{pid}/")["data"]["Name"] == "By root"
    unsafe_json(root, "DELETE", f"{M}/projects/{pid}/", 200)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_delete_keeps_children(instance, make_client):
    """Deleting a dataset or a screen orphans its images or plates (spec 3.2)."""
    lab = make_lab(instance, make_client)
    did = create(lab.api, "Dataset", "D", lab.gid)["@id"]
    (iid,) = add_images(instance, lab.uid, lab.gid, ["I"])
    link_dataset_images(instance, lab.uid, lab.gid, [(did, iid)])
    sid = create(lab.api, "Screen", "S", lab.gid)["@id"]
    plate = add_plate(instance, lab.uid, lab.gid, "PL", screen_id=sid)
    unsafe_json(lab.api, "DELETE", f"{M}/datasets/{did}/", 200)
    unsafe_json(lab.api, "DELETE", f"{M}/screens/{sid}/", 200)
    assert ids(get_json(lab.api, f"{M}/images/?orphaned=true")["data"]) == [iid]
    assert ids(get_json(lab.api, f"{M}/plates/?orphaned=true")["data"]) == [plate.plate_id]
    assert ids(get_json(lab.api, f"{M}/wells/")["data"]) == plate.well_ids
