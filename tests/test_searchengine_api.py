"""The IDR search engine API over HTTP: spec/webgateway-idr.md section 8, assertions 91-105,
plus the webgateway's text search."""

from __future__ import annotations

import math
from typing import Any

import pytest

from apidata import PASSWORD, add_images, login, new_group, new_user, sqlite_only
from pyomero.store import bulk
from pyomero.store.bulk import insert_map_annotations

R = "/searchengine/api/v1/resources"
CORS = ("access-control-allow-headers", "*")


def engine_json(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get(CORS[0]) == CORS[1]
    return response.json()


@pytest.fixture
def api(instance, make_client):
    """alice in ``lab`` with 1,203 images carrying genes (more than one page of ade8)."""
    new_group(instance, "lab")
    new_group(instance, "secret", __import__("pyomero").model.permissions.GroupLevel.PRIVATE)
    alice = new_user(instance, "alice", ["lab"])
    bob = new_user(instance, "bob", ["secret"])
    with instance.db.read() as conn:
        from sqlalchemy import select

        from pyomero.store.schema import experimentergroup as g

        gid = conn.scalar(select(g.c.id).where(g.c.name == "lab"))
        sid = conn.scalar(select(g.c.id).where(g.c.name == "secret"))
    images = add_images(
        instance, alice.id, gid, [f"img{n}" for n in range(1203)], with_pixels=False
    )
    hidden = add_images(instance, bob.id, sid, ["hidden"], with_pixels=False)
    pairs = []
    for n, iid in enumerate(images):
        gene = f"ADE{n % 7}" if n % 10 == 9 else ("ADE8" if n % 2 else "ade8")
        pairs.append((iid, [("Gene Symbol", gene), ("Organism", "Saccharomyces cerevisiae")]))
    with instance.db.write() as conn:
        for owner, group, rows in (
            (alice.id, gid, pairs),
            (bob.id, sid, [(hidden[0], [("Gene Symbol", "ADE8X")])]),
        ):
            event = bulk.new_event(conn, owner_id=owner, group_id=group)
            insert_map_annotations(
                conn,
                owner_id=owner,
                group_id=group,
                event_id=event,
                resource="image",
                annotations=rows,
            )
    client = login(make_client, "alice", PASSWORD).client
    client.images = images
    client.hidden = hidden
    return client


@sqlite_only
def test_root_91(api):
    response = api.get(f"{R}/")
    assert response.status_code == 200
    assert response.text == "OMERO search engine (API V1)"


@sqlite_only
def test_values_using_key_92_93_94(api):
    body = engine_json(api.get(f"{R}/image/searchvaluesusingkey/", params={"key": "Gene Symbol"}))
    assert isinstance(body["data"], list) and body["data"]
    assert isinstance(body["total_number_of_image"], int)
    assert body["total_number_of_image"] == len(api.images)  # bob's private image not counted
    assert body["total_number_of_buckets"] == len(body["data"])
    for item in body["data"]:
        assert item["Key"] == "Gene Symbol"
        assert isinstance(item["Value"], str) and item["Value"] == item["Value"].lower()
        assert isinstance(item["Number of images"], int) and item["Number of images"] >= 1
    assert "ade8x" not in {item["Value"] for item in body["data"]}
    assert engine_json(api.get(f"{R}/image/searchvaluesusingkey/")) == {
        "Error": "No key is provided "
    }


@sqlite_only
def test_search_95_to_99(api):
    body = engine_json(
        api.get(f"{R}/image/search/", params={"key": "Gene Symbol", "value": "ade8"})
    )
    results = body["results"]
    assert body["resource"] == "image" and body["notice"] == ""
    assert isinstance(body["server_query_time"], str)
    assert results["results"]
    for doc in results["results"]:
        assert isinstance(doc["id"], int)
        genes = [kv for kv in doc["key_values"] if kv["name"] == "Gene Symbol"]
        assert genes and all(kv["value"].lower() == "ade8" for kv in genes)
    upper = engine_json(
        api.get(f"{R}/image/search/", params={"key": "Gene Symbol", "value": "ADE8"})
    )
    assert upper["results"]["size"] == results["size"]
    ids = [d["id"] for d in results["results"]]
    assert ids == sorted(set(ids)) and len(ids) <= 1000
    assert results["size"] > 1000  # the first page is full
    assert results["total_pages"] == math.ceil(results["size"] / 1000)
    assert results["bookmark"] == [ids[-1]]
    assert results["pagination"]["next_page"] == 2
    following = engine_json(
        api.get(
            f"{R}/image/search/",
            params={"key": "Gene Symbol", "value": "ade8", "bookmark": results["bookmark"][0]},
        )
    )["results"]
    assert following["results"] and all(d["id"] > ids[-1] for d in following["results"])
    assert "pagination" not in following
    assert len(ids) + len(following["results"]) == results["size"]
    none = engine_json(api.get(f"{R}/image/search/", params={"key": "Gene Symbol", "value": "zzz"}))
    assert none["results"] == []


@sqlite_only
def test_errors_100_101_105(api):
    assert engine_json(api.get(f"{R}/foo/search/", params={"key": "a", "value": "b"})) == {
        "Error": "foo is not a valid resource"
    }
    response = api.get(f"{R}/foo/searchvalues/", params={"value": "x"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "No data for table foo"
    body = engine_json(api.get(f"{R}/image/search/", params={"key": "Gene Symbol"}))
    assert "Each Filter needs to have" in body["Error"]
    for path in ("/searchengine/nonexistent", f"{R}/nonexistent"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/plain")
        assert "/searchengine/api/v1/resources/" in response.text


@sqlite_only
def test_submitquery_validation_102(api):
    body = {
        "query_details": {
            "and_filters": [
                {"name": "Gene Symbol", "value": "a", "operator": "gt", "resource": "image"}
            ]
        }
    }
    assert engine_json(api.post(f"{R}/submitquery/", json=body)) == {
        "Error": "'gt' is not one of ['equals', 'not_equals', 'contains', 'not_contains', 'in', "
        "'not_in']"
    }
    missing = {"query_details": {"and_filters": [{"name": "Gene Symbol", "operator": "equals"}]}}
    assert engine_json(api.post(f"{R}/submitquery/", json=missing)) == {
        "Error": "'value' is a required property"
    }
    assert engine_json(api.post(f"{R}/image/searchannotation/", content=b"")) == {
        "Error": "No query data is provided "
    }


@sqlite_only
def test_searchannotation_103_and_contains_104(api):
    get = engine_json(api.get(f"{R}/image/search/", params={"key": "Gene Symbol", "value": "ade8"}))
    body = {
        "query_details": {
            "and_filters": [{"name": "Gene Symbol", "value": "ade8", "operator": "equals"}],
            "or_filters": [],
            "case_sensitive": False,
        }
    }
    posted = engine_json(api.post(f"{R}/image/searchannotation/", json=body))
    assert {d["id"] for d in posted["results"]["results"]} == {
        d["id"] for d in get["results"]["results"]
    }
    submitted = engine_json(api.post(f"{R}/submitquery/", json=body))
    assert submitted["Error"] == "none"
    assert submitted["results"]["size"] == get["results"]["size"]
    contains = engine_json(
        api.get(
            f"{R}/image/search/",
            params={"key": "Gene Symbol", "value": "ade", "operator": "contains"},
        )
    )
    assert contains["results"]["size"] >= get["results"]["size"]
    assert contains["results"]["size"] == len(api.images)  # not bob's ADE8X


@sqlite_only
def test_values_keys_names_and_gateway_search(api):
    body = engine_json(api.get(f"{R}/image/searchvalues/", params={"value": "cerev"}))
    assert body["data"][0]["Key"] == "Organism"
    assert body["data"][0]["Number of images"] == len(api.images)
    assert engine_json(api.get(f"{R}/image/searchvalues/")) == {
        "Error": "Error: No value is provided "
    }
    keys = engine_json(api.get(f"{R}/image/keys/"))
    assert keys == [{"data_source": "omero", "image": ["Gene Symbol", "Organism"]}]
    assert engine_json(api.get(f"{R}/project/names/")) == []
    found = api.get("/webgateway/search/", params={"text": "img120"})
    assert found.status_code == 200
    assert [d["name"] for d in found.json()] == ["img120", "img1200", "img1201", "img1202"]
    assert all(d["type"] == "Image" for d in found.json())
    by_value = api.get("/webgateway/search/", params={"text": "ADE8X"}).json()
    assert by_value == []  # bob's pair stays hidden


@sqlite_only
def test_anonymous_is_not_logged_in(instance, client):
    response = client.get(f"{R}/image/search/", params={"key": "a", "value": "b"})
    assert response.status_code == 403
    assert response.json() == {"Error": "Not logged in"}
