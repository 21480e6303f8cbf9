"""Experimenters and groups, API 0.2 (spec assertions 64-69, sections 2.2, 2.5-2.7)."""

from __future__ import annotations

from apidata import (
    NOTHING,
    SCHEMA,
    M,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    login,
    make_lab,
    new_group,
    new_user,
    permissions_json,
    sqlite_only,
    unsafe_json,
    url,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts

#: (username, first name, last name), created in this order.
PEOPLE = [
    ("ua", "Zoe", "adams"),
    ("ub", "amy", "Adams"),
    ("uc", "Bob", "brown"),
    ("ud", "carl", "Brown"),
    ("ue", "Dan", "Zed"),
    ("uf", "eve", "young"),
    ("ug", "Fay", "Xu"),
    ("uh", "Gus", "Wu"),
    ("ui", "Hal", "Vu"),
]


@sqlite_only
def test_create_update_unsupported(instance, make_client):
    """64. Experimenters and groups cannot be created or updated through /m/save/."""
    lab = make_lab(instance, make_client)
    for name in ("Experimenter", "ExperimenterGroup"):
        body = {"@type": f"{SCHEMA}#{name}", "Name": "x", "UserName": "x"}
        error_body(
            unsafe_json(lab.api, "POST", f"{M}/save/", 405, json=body),
            f"Creation of {name} not supported",
        )
        error_body(
            unsafe_json(lab.api, "PUT", f"{M}/save/", 405, json=body),
            f"Update of {name} not supported",
        )
        body["@id"] = lab.uid
        error_body(
            unsafe_json(lab.api, "PUT", f"{M}/save/", 405, json=body),
            f"Update of {name} not supported",
        )


@sqlite_only
def test_delete_unsupported(instance, make_client):
    """65. DELETE of an experimenter or a group is a 405, existing or not."""
    lab = make_lab(instance, make_client)
    for object_id in (1, lab.uid, 999999):
        body = unsafe_json(lab.api, "DELETE", f"{M}/experimenters/{object_id}/", 405)
        error_body(body, "Delete of Experimenter not supported")
    for object_id in (1, lab.gid, 999999):
        body = unsafe_json(lab.api, "DELETE", f"{M}/experimentergroups/{object_id}/", 405)
        error_body(body, "Delete of ExperimenterGroup not supported")
    assert get_json(lab.api, f"{M}/experimenters/{lab.uid}/")["data"]["UserName"] == "user1"


def test_experimenters_groups(instance, make_client):
    """66. Experimenters by lower(lastName), lower(firstName), id; ``url:experimentergroups``."""
    lab_group = new_group(instance, "lab")
    users = {
        u: new_user(instance, u, ["lab"], first_name=f, last_name=last) for u, f, last in PEOPLE
    }
    api = login(make_client, "ua")
    body = get_json(api, f"{M}/experimenters/?limit=10")
    # guest is "Guest Account", root is "root root"
    expected = [1, users["ub"].id, users["ua"].id, users["uc"].id, users["ud"].id, 0]
    expected += [users[u].id for u in ("ui", "uh", "ug", "uf")]
    assert ids(body["data"]) == expected
    assert body["meta"] == {"offset": 0, "limit": 10, "maxLimit": 500, "totalCount": 11}
    assert ids(get_json(api, f"{M}/experimenters/?offset=10")["data"]) == [users["ue"].id]
    amy = body["data"][1]
    uid = users["ub"].id
    assert amy == {
        "@id": uid,
        "@type": f"{SCHEMA}#Experimenter",
        "omero:details": amy["omero:details"],
        "FirstName": "amy",
        "MiddleName": "",
        "LastName": "Adams",
        "Email": "",
        "UserName": "ub",
        "url:experimenter": url(f"experimenters/{uid}/"),
        "url:experimentergroups": url(f"experimenters/{uid}/experimentergroups/"),
    }
    assert set(amy["omero:details"]) == {"@type", "permissions"}  # no owner, no group
    guest_groups = get_json(api, body["data"][0]["url:experimentergroups"])["data"]
    assert [g["Name"] for g in guest_groups] == ["guest"]
    amy_groups = get_json(api, amy["url:experimentergroups"])["data"]
    assert sorted(ids(amy_groups)) == sorted([lab_group.id, 1])
    single = get_json(api, amy["url:experimenter"])["data"]
    assert single == {k: v for k, v in amy.items() if k != "url:experimenter"}
    # owner and normalize do not apply to experimenters
    assert get_json(api, f"{M}/experimenters/?limit=10&owner=999")["data"] == body["data"]
    normalized = get_json(api, f"{M}/experimenters/?limit=10&normalize=true")
    assert normalized == {"experimenters": [], "experimenterGroups": [], **body}


@sqlite_only
def test_groups_experimenters(instance, make_client):
    """67. Groups by lower(name), id; ``url:experimenters`` lists the members."""
    names_ = ["lab", "Alpha", "beta", "Zeta", "gamma", "delta", "Epsilon", "omega"]
    groups = {
        n: new_group(
            instance, n, GroupLevel.READ_WRITE if n == "Alpha" else GroupLevel.READ_ANNOTATE
        )
        for n in names_
    }
    member = new_user(instance, "member", ["lab", "Alpha"])
    other = new_user(instance, "other", ["Alpha"])
    accounts.add_to_group(instance, group="Alpha", usernames=["other"], owner=True)
    api = login(make_client, "member")
    body = get_json(api, f"{M}/experimentergroups/?limit=10")
    expected = [
        "Alpha",
        "beta",
        "delta",
        "Epsilon",
        "gamma",
        "guest",
        "lab",
        "omega",
        "system",
        "user",
    ]
    assert [g["Name"] for g in body["data"]] == expected
    assert body["meta"] == {"offset": 0, "limit": 10, "maxLimit": 500, "totalCount": 11}
    alpha = body["data"][0]
    gid = groups["Alpha"].id
    assert alpha == {
        "@id": gid,
        "@type": f"{SCHEMA}#ExperimenterGroup",
        "omero:details": alpha["omero:details"],
        "Name": "Alpha",
        "url:experimentergroup": url(f"experimentergroups/{gid}/"),
        "url:experimenters": url(f"experimentergroups/{gid}/experimenters/"),
    }
    assert set(alpha["omero:details"]) == {"@type", "permissions"}
    assert alpha["omero:details"]["permissions"]["perm"] == "rwrw--"
    assert body["data"][6]["omero:details"]["permissions"]["perm"] == "rwra--"
    members = get_json(api, alpha["url:experimenters"])["data"]
    assert sorted(ids(members)) == sorted([member.id, other.id])
    single = get_json(api, alpha["url:experimentergroup"])["data"]
    assert single == {k: v for k, v in alpha.items() if k != "url:experimentergroup"}
    # childCount of a group counts its members
    counted = get_json(api, f"{M}/experimentergroups/?childCount=true")["data"]
    counts = {g["Name"]: g["omero:childCount"] for g in counted}
    assert (counts["Alpha"], counts["lab"], counts["Zeta"], counts["system"]) == (2, 1, 0, 1)
    assert (
        get_json(api, f"{M}/experimentergroups/{gid}/?childCount=true")["data"]["omero:childCount"]
        == 2
    )
    normalized = get_json(api, f"{M}/experimentergroups/?normalize=true")
    assert normalized["experimenters"] == [] and normalized["experimenterGroups"] == []
    assert normalized["data"] == get_json(api, f"{M}/experimentergroups/")["data"]


@sqlite_only
def test_filter_groups(instance, make_client):
    """68. A one-group user's groups: its own and ``user``, by filter and by path."""
    lab = make_lab(instance, make_client, name="mygroup")
    body = get_json(lab.api, f"{M}/experimentergroups/?experimenter={lab.uid}")
    assert len(body["data"]) == 2
    own, user = body["data"]
    assert user["Name"] == "user" and user["@id"] == 1
    assert own["@id"] == lab.contexts[0]["groupId"] and own["Name"] == "mygroup"
    assert body["meta"]["totalCount"] == 2
    path = get_json(lab.api, f"{M}/experimenters/{lab.uid}/experimentergroups/")
    assert path["data"] == body["data"]
    assert own["omero:details"]["permissions"] == permissions_json("rwra--", **NOTHING)


@sqlite_only
def test_filter_experimenters(instance, make_client):
    """69. A new single-member group's experimenters, by filter and by path."""
    lab = make_lab(instance, make_client)
    solo = new_group(instance, "solo")
    accounts.add_to_group(instance, group="solo", usernames=["user1"])
    body = get_json(lab.api, f"{M}/experimenters/?experimentergroup={solo.id}")
    (person,) = body["data"]
    assert person["@id"] == lab.uid and person["UserName"] == "user1"
    assert body["meta"]["totalCount"] == 1
    assert (
        get_json(lab.api, f"{M}/experimentergroups/{solo.id}/experimenters/")["data"]
        == body["data"]
    )
    assert get_json(lab.api, f"{M}/experimentergroups/999999/experimenters/")["data"] == []
    error_body(
        get_json(lab.api, f"{M}/experimenters/999999/", 404), "Experimenter 999999 not found"
    )
    error_body(
        get_json(lab.api, f"{M}/experimentergroups/999999/", 404),
        "ExperimenterGroup 999999 not found",
    )
