"""Annotations in the JSON API: ``/m/save/`` creates and replaces Map, Tag and Comment
annotations (pyomero's extension, in omero-marshal's JSON, spec 4.6); ``/m/annotations/``
and its typed variants list them as omero-web PR #682 proposes (spec section 6)."""

from __future__ import annotations

import pytest

from apidata import (
    ROOT_PASSWORD,
    SCHEMA,
    M,
    add_images,
    add_tag,
    create,
    details_json,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    link_tag,
    login,
    make_lab,
    new_group,
    new_user,
    row_count,
    sqlite_only,
    unsafe_json,
    url,
)
from pyomero.model.commands import AnnotationSaveRequest, AnnotationSpec
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts
from pyomero.services import annotations as service
from pyomero.store import annotations as store
from pyomero.store import schema, writes
from pyomero.store.accounts import new_event

SAVE = f"{M}/save/"
DECODE = "Error in decode of json data by omero_marshal"
OWNER_CAN = {"annotate": True, "delete": True, "edit": True, "link": True}


def _type(kind: str) -> str:
    return f"{SCHEMA}#{kind}Annotation"


def _body(kind: str, value: object = None, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"@type": _type(kind)}
    if value is not None:
        body["Value"] = value
    body.update(fields)
    return body


def _counts(instance) -> tuple[int, int, int]:
    return (
        row_count(instance, schema.annotation),
        row_count(instance, schema.annotation_mapvalue),
        row_count(instance, schema.annotation_links["project"]),
    )


@sqlite_only
def test_create_each_kind_and_read_back(instance, make_client):
    lab = make_lab(instance, make_client)
    user, group = lab.users[0], lab.group
    pairs = [["Gene", "abc"], ["Gene", "def"], ["Organism", "human"]]
    created = {
        "Map": unsafe_json(
            lab.api,
            "POST",
            f"{SAVE}?group={lab.gid}",
            201,
            json=_body("Map", pairs, Namespace="test/ns", Description="genes"),
        )["data"],
        # the group from omero:details, as for containers
        "Tag": unsafe_json(
            lab.api,
            "POST",
            SAVE,
            201,
            json=_body(
                "Tag",
                "mitosis",
                **{
                    "omero:details": {
                        "@type": "TBD#Details",
                        "group": {"@id": lab.gid, "@type": f"{SCHEMA}#ExperimenterGroup"},
                    }
                },
            ),
        )["data"],
        # no group at all: the caller's current group
        "Comment": unsafe_json(lab.api, "POST", SAVE, 201, json=_body("Comment", "looks fine"))[
            "data"
        ],
    }
    assert created["Map"] == {
        "@id": created["Map"]["@id"],
        "@type": _type("Map"),
        "omero:details": details_json(user, group, OWNER_CAN),
        "Description": "genes",
        "Namespace": "test/ns",
        "Value": pairs,
    }
    assert created["Tag"] == {
        "@id": created["Tag"]["@id"],
        "@type": _type("Tag"),
        "omero:details": details_json(user, group, OWNER_CAN),
        "Value": "mitosis",
    }
    assert created["Comment"]["Value"] == "looks fine"
    assert created["Comment"]["omero:details"]["group"]["@id"] == lab.gid  # current group

    for kind, data in created.items():
        aid = data["@id"]
        assert get_json(lab.api, f"{M}/annotations/{aid}/")["data"] == data  # no url key
        typed = get_json(lab.api, f"{M}/{kind.lower()}annotations/")
        assert typed["data"] == [{**data, "url:annotation": url(f"annotations/{aid}/")}]
        assert typed["meta"] == {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 1}
        assert get_json(lab.api, f"{M}/annotations/", params={"type": kind.lower()}) == typed
    everything = get_json(lab.api, f"{M}/annotations/")
    assert [a["@id"] for a in everything["data"]] == sorted(d["@id"] for d in created.values())
    assert row_count(instance, schema.annotation_mapvalue) == 3
    assert row_count(instance, schema.annotation_links["project"]) == 0  # standalone


@sqlite_only
def test_put_replaces_fields(instance, make_client):
    lab = make_lab(instance, make_client)
    body = _body("Map", [["a", "1"], ["b", "2"]], Namespace="ns", Description="d")
    data = unsafe_json(lab.api, "POST", f"{SAVE}?group={lab.gid}", 201, json=body)["data"]
    aid = data["@id"]
    # the GET's JSON, edited and sent back whole (omero:details names the same group)
    data["Value"] = [["z", "9"], ["a", "1"], ["a", "1"]]
    put = unsafe_json(lab.api, "PUT", SAVE, 200, json=data)["data"]
    assert put["Value"] == [["z", "9"], ["a", "1"], ["a", "1"]]
    assert put["Namespace"] == "ns" and put["Description"] == "d"
    # a full replace: omitted fields become null
    put = unsafe_json(
        lab.api, "PUT", SAVE, 200, json=_body("Map", [["only", "one"]], **{"@id": aid})
    )["data"]
    assert "Namespace" not in put and "Description" not in put
    got = get_json(lab.api, f"{M}/annotations/{aid}/")["data"]
    assert got == put and got["Value"] == [["only", "one"]]
    assert row_count(instance, schema.annotation_mapvalue) == 1
    # no Value: a map without pairs
    put = unsafe_json(lab.api, "PUT", SAVE, 200, json=_body("Map", **{"@id": aid}))["data"]
    assert put["Value"] == []

    tag = unsafe_json(lab.api, "POST", SAVE, 201, json=_body("Tag", "old", Description="x"))
    tid = tag["data"]["@id"]
    put = unsafe_json(lab.api, "PUT", SAVE, 200, json=_body("Tag", "new", **{"@id": tid}))
    assert put["data"]["Value"] == "new" and "Description" not in put["data"]
    assert get_json(lab.api, f"{M}/tagannotations/")["data"][0]["Value"] == "new"


@sqlite_only
def test_put_missing_or_wrong(instance, make_client):
    """404 ``<Type> <id> not found`` as for containers; a wrong group is OMERO's 403."""
    lab = make_lab(instance, make_client)
    other = new_group(instance, "other")
    accounts.add_to_group(instance, group="other", usernames=["user1"])
    for kind in ("Map", "Tag", "Comment"):
        body = _body(kind, **{"@id": 999999})
        error_body(
            unsafe_json(lab.api, "PUT", SAVE, 404, json=body), f"{kind}Annotation 999999 not found"
        )
    comment = add_tag(instance, lab.uid, lab.gid, "a comment", kind="Comment")
    body = _body("Tag", "now a tag?", **{"@id": comment})
    error_body(
        unsafe_json(lab.api, "PUT", SAVE, 404, json=body), f"TagAnnotation {comment} not found"
    )
    # unreadable: another user's tag in a private group
    private = new_group(instance, "private", GroupLevel.PRIVATE)
    stranger = new_user(instance, "stranger", ["private"])
    hidden = add_tag(instance, stranger.id, private.id, "hidden")
    body = _body("Tag", "mine now", **{"@id": hidden})
    error_body(
        unsafe_json(lab.api, "PUT", SAVE, 404, json=body), f"TagAnnotation {hidden} not found"
    )
    # a group other than the annotation's own
    tag = add_tag(instance, lab.uid, lab.gid, "in lab")
    body = _body("Tag", "moved?", **{"@id": tag})
    response = unsafe_json(lab.api, "PUT", f"{SAVE}?group={other.id}", 403, json=body)
    error_body(
        response,
        f"omero.SecurityViolation: Cannot read ome.model.annotations.TagAnnotation:Id_{tag}",
    )
    assert get_json(lab.api, f"{M}/annotations/{tag}/")["data"]["Value"] == "in lab"
    assert get_json(lab.api, f"{M}/annotations/{comment}/")["data"]["Value"] == "a comment"


@sqlite_only
def test_edit_permission(instance, make_client):
    """In a read-only group another member reads but cannot edit; an admin can."""
    lab = make_lab(instance, make_client, users=2, level=GroupLevel.READ_ONLY)
    owner, member = lab.apis
    data = unsafe_json(owner, "POST", SAVE, 201, json=_body("Tag", "owned"))["data"]
    tid = data["@id"]
    seen = get_json(member, f"{M}/annotations/{tid}/")["data"]
    seen["Value"] = "taken over"
    response = unsafe_json(member, "PUT", SAVE, 403, json=seen)
    error_body(
        response,
        f"omero.SecurityViolation: Cannot update ome.model.annotations.TagAnnotation:Id_{tid}",
    )
    assert get_json(owner, f"{M}/annotations/{tid}/")["data"]["Value"] == "owned"
    # a member of the group may not create in a group they are not in
    elsewhere = new_group(instance, "elsewhere")
    before = row_count(instance, schema.annotation)
    body = _body("Tag", "elsewhere")
    response = unsafe_json(member, "POST", f"{SAVE}?group={elsewhere.id}", 403, json=body)
    assert "You are not a member of group" in response["message"]
    assert row_count(instance, schema.annotation) == before
    # the administrator may edit it
    root = login(make_client, "root", ROOT_PASSWORD)
    edited = unsafe_json(root, "PUT", SAVE, 200, json=seen)["data"]
    assert edited["Value"] == "taken over"
    assert edited["omero:details"]["owner"]["@id"] == lab.uid  # the owner is kept


@sqlite_only
def test_bad_values_write_nothing(instance, make_client):
    lab = make_lab(instance, make_client)
    existing = unsafe_json(lab.api, "POST", SAVE, 201, json=_body("Map", [["k", "v"]]))["data"]
    aid = existing["@id"]
    before = _counts(instance)
    bad = [
        _body("Map", {"a": "b"}),
        _body("Map", [["a"]]),
        _body("Map", [["a", 1]]),
        _body("Map", [["a", "b", "c"]]),
        _body("Map", "a=b"),
        _body("Tag", 3),
        _body("Tag", ["x"]),
        _body("Comment", True),
        _body("Tag", "x", Namespace=1),
        _body("Comment", "x", Description=["d"]),
        _body("Tag", "x", **{"omero:details": {"@type": "foo"}}),
        _body("Tag", "x", **{"omero:details": {"@type": "TBD#Details", "group": 3}}),
    ]
    for body in bad:
        response = unsafe_json(lab.api, "POST", SAVE, 400, json=body)
        assert response["message"] == DECODE, body
        assert response["stacktrace"].startswith("Traceback (most recent call last):")
        put = {**body, "@id": aid}
        response = unsafe_json(lab.api, "PUT", SAVE, 400, json=put)
        assert response["message"] == DECODE, put
    for bad_id in ("1", None, 1.5):
        response = unsafe_json(lab.api, "PUT", SAVE, 400, json=_body("Tag", "x", **{"@id": bad_id}))
        assert response["message"] == DECODE, bad_id
    assert _counts(instance) == before
    assert get_json(lab.api, f"{M}/annotations/{aid}/")["data"] == existing


@sqlite_only
def test_save_checks_in_order(instance, make_client):
    """Every other annotation type keeps its 405; @id and schema checks as for containers."""
    lab = make_lab(instance, make_client)
    for kind in ("Long", "Double", "Boolean", "Timestamp", "Xml", "Term", "File", "List"):
        body = _body(kind, 1)
        response = unsafe_json(lab.api, "POST", f"{SAVE}?group={lab.gid}", 405, json=body)
        error_body(response, f"Creation of {kind}Annotation not supported")
        response = unsafe_json(lab.api, "PUT", f"{SAVE}?group={lab.gid}", 405, json=body)
        error_body(response, f"Update of {kind}Annotation not supported")
    response = unsafe_json(lab.api, "POST", SAVE, 400, json=_body("Tag", "x", **{"@id": 1}))
    error_body(response, "Object has '@id' attribute. Use PUT to update objects", trace=False)
    response = unsafe_json(lab.api, "PUT", SAVE, 400, json=_body("Tag", "x"))
    error_body(response, "No '@id' attribute. Use POST to create new objects", trace=False)
    body = {"@type": "SomeInvalidSchema#TagAnnotation", "Value": "x"}
    response = unsafe_json(lab.api, "POST", SAVE, 400, json=body)
    error_body(response, "No decoder found for type: SomeInvalidSchema#TagAnnotation", trace=False)
    assert row_count(instance, schema.annotation) == 0


@sqlite_only
def test_link_created_tag_to_project(instance, make_client):
    lab = make_lab(instance, make_client)
    tag = unsafe_json(lab.api, "POST", SAVE, 201, json=_body("Tag", "linked"))["data"]
    unlinked = unsafe_json(lab.api, "POST", SAVE, 201, json=_body("Tag", "alone"))["data"]
    project = create(
        lab.api,
        "Project",
        "Tagged",
        lab.gid,
        Annotations=[{"@id": tag["@id"], "@type": _type("Tag")}],
    )
    pid = project["@id"]
    listed = get_json(lab.api, f"{M}/annotations/", params={"project": pid})
    assert listed["data"] == [{**tag, "url:annotation": url(f"annotations/{tag['@id']}/")}]
    assert get_json(lab.api, f"{M}/tagannotations/", params={"project": pid}) == listed
    assert get_json(lab.api, f"{M}/annotations/", params={"type": "map", "project": pid}) == {
        "data": [],
        "meta": {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 0},
    }
    assert get_json(lab.api, f"{M}/tagannotations/")["meta"]["totalCount"] == 2
    assert unlinked["@id"] != tag["@id"]
    # a PUT of the project with the same tag again is OMERO's ValidationException
    project["Annotations"] = [{"@id": tag["@id"], "@type": _type("Tag")}]
    response = unsafe_json(lab.api, "PUT", SAVE, 400, json=project)
    assert "ValidationException" in response["message"]


@sqlite_only
def test_type_and_parent_filters(instance, make_client):
    lab = make_lab(instance, make_client)
    made = {}
    with instance.db.write() as conn:
        actor = accounts.join_session(instance, lab.contexts[0]["sessionUuid"]).actor
        event = new_event(conn, actor, kind="User", now=accounts.utcnow(), session_id=None)
        for kind, value in (
            ("Long", 7),
            ("Double", 1.5),
            ("Boolean", True),
            ("Timestamp", 3000),
            ("Xml", "<a/>"),
            ("Term", "GO:1"),
            ("Comment", "c"),
            ("Tag", "t"),
            ("Map", [("k", "v")]),
        ):
            made[kind] = writes.insert_annotation(
                conn,
                AnnotationSpec(kind=kind, value=value, ns="test/ns"),
                owner_id=lab.uid,
                group_id=lab.gid,
                event_id=event,
            )
    for kind, aid in made.items():
        typed = get_json(lab.api, f"{M}/{kind.lower()}annotations/")
        assert [a["@id"] for a in typed["data"]] == [aid], kind
        assert typed == get_json(lab.api, f"{M}/annotations/", params={"type": kind.lower()})
    assert get_json(lab.api, f"{M}/fileannotations/")["data"] == []
    values = {
        a["@type"].rsplit("#", 1)[1]: a.get("Value")
        for a in get_json(lab.api, f"{M}/annotations/", params={"ns": "test/ns"})["data"]
    }
    assert values["DoubleAnnotation"] == 1.5 and values["TimestampAnnotation"] == 3000
    assert values["BooleanAnnotation"] is True and values["MapAnnotation"] == [["k", "v"]]
    # experimentergroup and roi are parent filters too
    link_tag(instance, lab.uid, lab.gid, "experimentergroup", lab.gid, made["Tag"])
    on_group = get_json(lab.api, f"{M}/annotations/", params={"experimentergroup": lab.gid})
    assert [a["@id"] for a in on_group["data"]] == [made["Tag"]]
    assert get_json(lab.api, f"{M}/annotations/", params={"roi": 1})["data"] == []
    # strict parameters
    for path, params, param in (
        ("annotations/", {"type": "rating"}, "type"),
        ("annotations/", {"type": ""}, "type"),
        ("tagannotations/", {"type": "map"}, "type"),
        ("annotations/", {"experimentergroup": "x"}, "experimentergroup"),
        ("mapannotations/", {"image": "1.5"}, "image"),
        ("mapannotations/", {"limit": "x"}, "limit"),
    ):
        body = get_json(lab.api, f"{M}/{path}", 400, params=params)
        assert body["parameter"] == param, (path, params)
    assert (
        get_json(lab.api, f"{M}/tagannotations/", params={"type": "tag"})["meta"]["totalCount"] == 1
    )


@sqlite_only
def test_single_get_and_delete(instance, make_client):
    lab = make_lab(instance, make_client)
    data = unsafe_json(lab.api, "POST", SAVE, 201, json=_body("Comment", "bye"))["data"]
    aid = data["@id"]
    assert unsafe_json(lab.api, "DELETE", f"{M}/annotations/{aid}/", 200)["data"] == data
    error_body(get_json(lab.api, f"{M}/annotations/{aid}/", 404), f"Annotation {aid} not found")
    error_body(
        get_json(lab.api, f"{M}/annotations/0099999999999999999999/", 404),
        "Annotation 0099999999999999999999 not found",
    )
    assert get_json(lab.api, "/api/v0/").get("url:annotations") is None  # not in OMERO's index


# ---------------------------------------------------------------------------- store level


@pytest.fixture
def alice(instance):
    group = new_group(instance, "g", GroupLevel.READ_ANNOTATE)
    new_user(instance, "alice", ["g"])
    return group, accounts.login(instance, username="alice", password="user-password")


def test_service_save_and_replace(instance, alice):
    """On both backends: create, replace in order, and the discriminator guard of the store."""
    group, ctx = alice
    spec = AnnotationSpec(kind="Map", ns="ns", description="d", value=[("b", "2"), ("a", "1")])
    saved = service.save_annotation(ctx, AnnotationSaveRequest(spec))
    assert saved.details is not None and saved.details.group is not None
    assert saved.details.group.id == group.id == ctx.actor.group_id
    assert saved.map_value == [("b", "2"), ("a", "1")]
    replace = AnnotationSpec(kind="Map", id=saved.id, value=[("c", "3"), ("c", "3")])
    replaced = service.save_annotation(ctx, AnnotationSaveRequest(replace, group_id=group.id))
    assert (replaced.ns, replaced.description) == (None, None)
    assert replaced.map_value == [("c", "3"), ("c", "3")]

    tag = service.save_annotation(ctx, AnnotationSaveRequest(AnnotationSpec("Tag", value="t")))
    with instance.db.write() as conn:
        event = new_event(conn, ctx.actor, kind="User", now=accounts.utcnow(), session_id=None)
        # a spec of another kind leaves the row alone
        writes.update_annotation(
            conn, AnnotationSpec("Comment", id=tag.id, value="c"), event_id=event
        )
        writes.update_annotation(
            conn, AnnotationSpec("Tag", id=tag.id, value="u", ns="n"), event_id=event
        )
    with instance.db.read() as conn:
        got = store.get_annotation(conn, ctx.actor, tag.id)
        assert got is not None and (got.text_value, got.ns) == ("u", "n")
        items, total = store.list_annotations(conn, ctx.actor, kind="Map")
        assert total == 1 and [a.map_value for a in items] == [[("c", "3"), ("c", "3")]]
    # a refusal writes nothing
    before = row_count(instance, schema.annotation)
    with pytest.raises(Exception, match="not a member"):
        service.save_annotation(
            ctx, AnnotationSaveRequest(AnnotationSpec("Tag", value="x"), group_id=0)
        )
    assert row_count(instance, schema.annotation) == before


def test_parent_filter_hides_unreadable_links(instance):
    """On both backends: ``?image=`` counts only readable links from readable images, so an
    annotation bob reads never shows that it is on alice's private image (nor through a
    link he may not read); alice, who reads both, sees every link."""
    group = new_group(instance, "g", GroupLevel.READ_ANNOTATE)
    private = new_group(instance, "p", GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["g", "p"])
    new_user(instance, "bob", ["g"])
    tag = add_tag(instance, alice.id, group.id, "shared tag")
    other = add_tag(instance, alice.id, group.id, "other tag")
    (hidden,) = add_images(instance, alice.id, private.id, ["hidden"], with_pixels=False)
    (shown,) = add_images(instance, alice.id, group.id, ["shown"], with_pixels=False)
    link_tag(instance, alice.id, private.id, "image", hidden, tag)
    link_tag(instance, alice.id, group.id, "image", shown, tag)
    link_tag(instance, alice.id, private.id, "image", shown, other)  # a link bob cannot read
    a_ctx = accounts.login(instance, username="alice", password="user-password")
    b_ctx = accounts.login(instance, username="bob", password="user-password")

    def listed(ctx, **parents):
        page = service.list_annotations(
            ctx, kind=None, ns=None, parents=parents, offset=0, limit=None
        )
        return [a.id for a in page.items], page.total

    assert listed(b_ctx, image=[hidden]) == ([], 0)
    assert listed(b_ctx, image=[shown]) == ([tag], 1)
    assert listed(b_ctx, image=[hidden, shown]) == ([tag], 1)
    assert listed(b_ctx) == ([tag, other], 2)  # both readable in themselves
    assert listed(a_ctx, image=[hidden]) == ([tag], 1)
    assert listed(a_ctx, image=[shown]) == ([tag, other], 2)
    # groups have no owner: a readable link to one counts
    link_tag(instance, alice.id, group.id, "experimentergroup", private.id, other)
    assert listed(b_ctx, experimentergroup=[private.id]) == ([other], 1)
