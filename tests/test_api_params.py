"""Common list parameters: meta normalisation, the draft API's ``page`` and ``callback``,
exact booleans, group context, and the API settings (spec sections 1.5, 2.1, 2.4)."""

from __future__ import annotations

import json

from apidata import (
    ABS,
    API,
    SQLITE_ONLY,
    M,
    add_datasets,
    add_images,
    add_plate,
    add_rois,
    check_json,
    create,
    create_projects,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    link_project_datasets,
    make_lab,
    new_group,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts

pytestmark = SQLITE_ONLY

ORDER = ["Apple", "Axe", "bat", "Project1", "Project2"]


def _five(lab) -> list[int]:
    created = create_projects(lab.api, lab.gid, ["Project2", "bat", "Apple", "Project1", "Axe"])
    return [created[n] for n in ORDER]


def _meta(offset: int, limit: int, total: int, max_limit: int = 500) -> dict:
    return {"offset": offset, "limit": limit, "maxLimit": max_limit, "totalCount": total}


def test_meta_normalisation(instance, make_client):
    """Negative, huge and zero limits and offsets are normalised before ``meta`` is built."""
    lab = make_lab(instance, make_client)
    expected = _five(lab)
    for query, data, meta in (
        ("limit=9999", expected, _meta(0, 500, 5)),
        ("limit=-1", expected, _meta(0, 200, 5)),
        ("offset=-3", expected, _meta(0, 200, 5)),
        ("limit=-5&offset=-5", expected, _meta(0, 200, 5)),
        ("limit=0", [], _meta(0, 0, 5)),
        ("limit=0&offset=2", [], _meta(2, 0, 5)),
        ("offset=5", [], _meta(5, 200, 5)),
        ("offset=99", [], _meta(99, 200, 5)),
        ("offset=4", expected[4:], _meta(4, 200, 5)),
        ("limit=%2B2", expected[:2], _meta(0, 2, 5)),  # "+2" is an int to Python
        ("limit=2&limit=3", expected[:3], _meta(0, 3, 5)),  # the last value wins, as in Django
    ):
        body = get_json(lab.api, f"{M}/projects/?{query}")
        assert ids(body["data"]) == data, query
        assert body["meta"] == meta, query


def test_page(instance, make_client):
    """Draft-API ``page``: 1-based pages of ``limit``; ``page=0`` is every result."""
    lab = make_lab(instance, make_client)
    expected = _five(lab)
    for query, data, meta in (
        ("page=1&limit=2", expected[:2], _meta(0, 2, 5)),
        ("page=2&limit=2", expected[2:4], _meta(2, 2, 5)),
        ("page=3&limit=2", expected[4:], _meta(4, 2, 5)),
        ("page=4&limit=2", [], _meta(6, 2, 5)),
        ("page=2", [], _meta(200, 200, 5)),
    ):
        body = get_json(lab.api, f"{M}/projects/?{query}")
        assert ids(body["data"]) == data, query
        assert body["meta"] == meta, query
    for query in ("page=0", "page=0&limit=2"):
        body = get_json(lab.api, f"{M}/projects/?{query}")
        assert ids(body["data"]) == expected, query
        assert body["meta"]["offset"] == 0 and body["meta"]["totalCount"] == 5
    # page=0 is every result even past the maximum page size
    instance.settings = instance.settings.with_values(api_max_limit=3)
    assert ids(get_json(lab.api, f"{M}/projects/?page=0")["data"]) == expected
    assert ids(get_json(lab.api, f"{M}/projects/?limit=100")["data"]) == expected[:3]
    assert get_json(lab.api, f"{M}/projects/?page=-1", 400)["parameter"] == "page"
    body = get_json(lab.api, f"{M}/projects/?page=two", 400)
    assert body == {"message": "invalid literal for int() with base 10: 'two'", "parameter": "page"}


def test_callback(instance, make_client):
    """Draft-API ``callback=fn``: the JSON wrapped as ``/**/fn(...);`` in JavaScript."""
    lab = make_lab(instance, make_client)
    _five(lab)
    for path in (f"{M}/projects/?limit=2", f"{API}/", "/api/", f"{M}/experimenters/"):
        plain = get_json(lab.api, path)
        separator = "&" if "?" in path else "?"
        response = lab.api.get(f"{path}{separator}callback=jQuery_123.done")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/javascript")
        text = response.text
        assert text.startswith("/**/jQuery_123.done(") and text.endswith(");"), text[:40]
        assert json.loads(text[len("/**/jQuery_123.done(") : -2]) == plain
    for bad in ("alert(1)", "a b", "1abc", "x" * 200):
        body = get_json(lab.api, f"{M}/projects/", 400, params={"callback": bad})
        assert body["parameter"] == "callback", bad
    # the login view is never wrapped
    response = lab.api.get(f"{API}/login/?callback=fn")
    assert check_json(response, 405, version=False)["message"].startswith("POST only")


def test_exact_booleans_and_orphaned(instance, make_client):
    """Only ``true`` is true; ``orphaned`` applies to datasets, plates and images only."""
    lab = make_lab(instance, make_client)
    pid = create(lab.api, "Project", "P", lab.gid)["@id"]
    linked, orphan = add_datasets(instance, lab.uid, lab.gid, ["linked", "orphan"])
    link_project_datasets(instance, lab.uid, lab.gid, [(pid, linked)])
    for value in ("True", "TRUE", "1", "yes", "on", ""):
        assert ids(get_json(lab.api, f"{M}/datasets/?orphaned={value}")["data"]) == [linked, orphan]
        assert list(get_json(lab.api, f"{M}/datasets/?normalize={value}")) == ["data", "meta"]
    assert ids(get_json(lab.api, f"{M}/datasets/?orphaned=true")["data"]) == [orphan]
    # ignored for the other types
    sid = create(lab.api, "Screen", "S", lab.gid)["@id"]
    (iid,) = add_images(instance, lab.uid, lab.gid, ["I"])
    add_rois(instance, lab.uid, lab.gid, iid, [{"name": "R"}])
    add_plate(instance, lab.uid, lab.gid, "PL")
    for segment in ("projects", "screens", "wells", "rois", "shapes", "experimenters"):
        plain = get_json(lab.api, f"{M}/{segment}/")
        assert get_json(lab.api, f"{M}/{segment}/?orphaned=true") == plain, segment
    assert ids(get_json(lab.api, f"{M}/screens/?orphaned=true")["data"]) == [sid]


def test_group_context(instance, make_client):
    """``group`` limits lists to one group; single GETs ignore it; childCount ignores
    ``owner`` and ``group``."""
    lab = make_lab(instance, make_client, users=2)
    other = new_group(instance, "other", GroupLevel.READ_ONLY)
    accounts.add_to_group(instance, group="other", usernames=["user1"])
    stranger = new_group(instance, "stranger", GroupLevel.READ_WRITE)
    pid = create(lab.api, "Project", "In lab", lab.gid)["@id"]
    elsewhere = create(lab.api, "Project", "In other", other.id)["@id"]
    (mine, theirs) = add_datasets(instance, lab.uid, lab.gid, ["mine", "theirs"])
    link_project_datasets(instance, lab.uid, lab.gid, [(pid, mine)])
    link_project_datasets(instance, lab.users[1].id, lab.gid, [(pid, theirs)])
    assert ids(get_json(lab.api, f"{M}/projects/?group={other.id}")["data"]) == [elsewhere]
    assert get_json(lab.api, f"{M}/projects/?group={stranger.id}")["data"] == []
    assert get_json(lab.api, f"{M}/projects/?group=999999")["data"] == []
    single = get_json(lab.api, f"{M}/projects/{pid}/?group={other.id}")["data"]
    assert single["@id"] == pid
    body = get_json(lab.api, f"{M}/projects/?owner={lab.uid}&group={lab.gid}&childCount=true")
    assert [(p["@id"], p["omero:childCount"]) for p in body["data"]] == [(pid, 2)]
    # the second user sees the project, not the other group's
    assert ids(get_json(lab.apis[1], f"{M}/projects/")["data"]) == [pid]
    assert (
        get_json(lab.apis[1], f"{M}/projects/{elsewhere}/", 404)["message"]
        == f"Project {elsewhere} not found"
    )


def test_settings_urls_and_limits(instance, make_client):
    """``api_absolute_url`` prefixes every ``url:``; ``api_limit``/``api_max_limit`` drive meta."""
    lab = make_lab(instance, make_client)
    expected = _five(lab)
    instance.settings = instance.settings.with_values(
        api_absolute_url="https://example.org/omero/", api_limit=2, api_max_limit=3
    )
    assert get_json(lab.api, "/api/")["data"] == [
        {"version": "0", "url:base": "https://example.org/omero/api/v0/"}
    ]
    assert get_json(lab.api, f"{API}/")["url:save"] == "https://example.org/omero/api/v0/m/save/"
    body = get_json(lab.api, f"{M}/projects/")
    assert ids(body["data"]) == expected[:2]
    assert body["meta"] == _meta(0, 2, 5, max_limit=3)
    assert (
        body["data"][0]["url:project"]
        == f"https://example.org/omero/api/v0/m/projects/{expected[0]}/"
    )
    assert get_json(lab.api, f"{M}/projects/?limit=9999")["meta"] == _meta(0, 3, 5, max_limit=3)
    assert get_json(lab.api, f"{M}/projects/?limit=-1")["meta"] == _meta(0, 2, 5, max_limit=3)
    instance.settings = instance.settings.with_values(api_absolute_url="")
    assert get_json(lab.api, "/api/")["data"][0]["url:base"] == f"{ABS}/api/v0/"


def test_head(instance, make_client):
    """HEAD is answered as GET, without a body."""
    lab = make_lab(instance, make_client)
    response = lab.api.client.head(f"{M}/projects/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b""
