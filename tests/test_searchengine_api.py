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


# -- the rest of section 3.3: data sources, random hits, pages, containers ----------------------


@pytest.fixture
def studies(instance, make_client):
    """alice's project and screen, bob's private project (``test_search.build_studies``)."""
    from test_search import build_studies

    built = build_studies(instance)
    client = login(make_client, "alice", PASSWORD).client
    client.built = built
    return client


@sqlite_only
def test_data_sources(api, client):
    assert engine_json(api.get(f"{R}/data_sources/")) == ["omero"]
    assert engine_json(api.get(f"{R}/data_resources/")) == ["omero"]
    assert engine_json(client.get(f"{R}/data_sources/")) == ["omero"]  # no login needed


@sqlite_only
def test_search_random_results(api):
    params = {"key": "Gene Symbol", "value": "ade8", "random_results": "5"}
    body = engine_json(api.get(f"{R}/image/search/", params=params))
    results = body["results"]
    assert len(results["results"]) == 5
    assert set(results) == {"results", "bookmark", "size"}  # no pages for a random draw
    full = engine_json(
        api.get(f"{R}/image/search/", params={"key": "Gene Symbol", "value": "ade8"})
    )
    assert results["size"] == full["results"]["size"]
    assert results["bookmark"] == [results["results"][-1]["id"]]
    for doc in results["results"]:
        assert doc["id"] in api.images
        assert any(kv["value"].lower() == "ade8" for kv in doc["key_values"])
    assert (
        "pagination"
        in engine_json(api.get(f"{R}/image/search/", params={**params, "random_results": "0"}))[
            "results"
        ]
    )
    bad = engine_json(api.get(f"{R}/image/search/", params={**params, "random_results": "x"}))
    assert set(bad) == {"Error"} and "random_results" in bad["Error"]
    none = engine_json(
        api.get(f"{R}/image/search/", params={**params, "value": "ADE8X"})
    )  # bob's value
    assert none["results"] == []


@sqlite_only
def test_getannotationvalueskey(api):
    values = engine_json(
        api.get(f"{R}/image/getannotationvalueskey/", params={"key": "Gene Symbol"})
    )
    assert set(values) == {"ade8", *(f"ade{n}" for n in range(7))}
    assert "ade8x" not in values  # bob's private value
    assert engine_json(api.get(f"{R}/image/getannotationvalueskey/")) == {
        "Error": "No key is provided"
    }
    assert engine_json(
        api.get(f"{R}/foo/getannotationvalueskey/", params={"key": "Gene Symbol"})
    ) == {"Error": "foo is not a valid resource"}


@sqlite_only
def test_getannotationvalueskey_name_lists_containers(studies):
    from test_search import SCREEN, STUDY

    body = engine_json(studies.get(f"{R}/image/getannotationvalueskey/", params={"key": "name"}))
    assert [(p["name"], p["no_images"]) for p in body["project"]] == [(STUDY, 5)]
    assert [(s["name"], s["no_images"]) for s in body["screen"]] == [(SCREEN, 2)]


def _ade8_query() -> dict[str, Any]:
    return {
        "query_details": {
            "and_filters": [{"name": "Gene Symbol", "value": "ade8", "operator": "equals"}],
            "or_filters": [],
            "case_sensitive": False,
        }
    }


@sqlite_only
def test_searchannotation_page(api):
    first = engine_json(api.post(f"{R}/image/searchannotation/", json=_ade8_query()))["results"]
    assert first["pagination"]["next_page"] == 2
    page = {"query": _ade8_query(), "pagination": first["pagination"]}
    second = engine_json(api.post(f"{R}/image/searchannotation_page/", json=page))["results"]
    last_id = first["results"][-1]["id"]
    assert second["results"] and all(d["id"] > last_id for d in second["results"])
    assert len(first["results"]) + len(second["results"]) == first["size"]
    assert second["pagination"]["current_page"] == 2
    assert second["pagination"]["next_page"] is None  # two pages in all
    by_bookmark = engine_json(
        api.post(
            f"{R}/image/searchannotation_page/",
            json={"query": _ade8_query(), "bookmark": [last_id]},
        )
    )["results"]
    assert [d["id"] for d in by_bookmark["results"]] == [d["id"] for d in second["results"]]
    assert "pagination" not in by_bookmark
    assert api.hidden[0] not in {d["id"] for d in by_bookmark["results"]}
    url = f"{R}/image/searchannotation_page/"
    assert engine_json(api.post(url, content=b"")) == {"Error": "Error: No query data is provided "}
    assert engine_json(api.post(url, content=b"{x")) == {
        "Error": "No proper query data is provided "
    }
    assert engine_json(api.post(url, json=_ade8_query())) == {
        "Error": "Error: No query field is provided. please specify an id."
    }
    done = {"query": _ade8_query(), "pagination": second["pagination"]}
    assert "Error" in engine_json(api.post(url, json=done))
    response = api.post(f"{R}/foo/searchannotation_page/", json=page)
    assert response.status_code == 404 and response.text == "No data for table foo"


@sqlite_only
def test_submitquery_containers(studies):
    from test_search import SCREEN, STUDY

    body = engine_json(studies.post(f"{R}/submitquery/containers/", json=_ade8_query()))
    found = {(c["type"], c["name"]): c["image count"] for c in body["results"]["results"]}
    assert found == {("project", STUDY): 3, ("screen", SCREEN): 2}  # not bob's project
    on_container = {
        "query_details": {
            "and_filters": [
                {"name": "Study Type", "value": "imaging", "operator": "equals",
                 "resource": "container"}
            ]
        }
    }  # fmt: skip
    hits = engine_json(studies.post(f"{R}/submitquery/", json=on_container))
    assert hits["results"]["size"] == 5  # the project's images, through the container filter
    assert engine_json(studies.post(f"{R}/submitquery/containers/", content=b"")) == {
        "Error": "No query data is provided "
    }


@sqlite_only
def test_container_images(studies):
    from test_search import SCREEN, STUDY

    body = engine_json(studies.get(f"{R}/container_images/"))
    assert body["Error"] is None
    assert body["results"]["results"] == [
        {"id": studies.built["project"], "name": STUDY, "data_source": "omero",
         "image count": 5, "type": "project"},
        {"id": studies.built["screen"], "name": SCREEN, "data_source": "omero",
         "image count": 2, "type": "screen"},
    ]  # fmt: skip
    screens = engine_json(
        studies.get(f"{R}/container_images/", params={"container_type": "screen"})
    )
    assert [c["name"] for c in screens["results"]["results"]] == [SCREEN]
    named = engine_json(studies.get(f"{R}/container_images/", params={"container_name": "secret"}))
    assert named["results"]["results"] == []  # bob's project is private
    bad = engine_json(studies.get(f"{R}/container_images/", params={"container_type": "plate"}))
    assert set(bad) == {"Error"}


@sqlite_only
def test_container_keys_and_keyvalues(studies):
    from test_search import STUDY

    keys = engine_json(
        studies.get(f"{R}/image/container_keys/", params={"container_name": "idr0001-example"})
    )
    assert keys == [
        {
            "name": STUDY,
            "type": "project",
            "data_source": "omero",
            "results": [{"key": "Gene Symbol", "no_image": 5}, {"key": "Organism", "no_image": 5}],
        }
    ]  # bob's SECRET project (same name prefix) and its Secret key are left out
    values = engine_json(
        studies.get(
            f"{R}/image/container_keyvalues/",
            params={"container_name": STUDY, "key": "Gene Symbol"},
        )
    )
    assert values[0]["results"] == [
        {"key": "Gene Symbol", "value": "ADE8", "no_image": 3},
        {"key": "Gene Symbol", "value": "CDC42", "no_image": 2},
    ]
    csv = studies.get(
        f"{R}/image/container_keyvalues/",
        params={"container_name": STUDY, "key": "Gene Symbol", "csv": "true"},
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1] == f"{STUDY},project,Gene Symbol,ADE8,3"
    assert engine_json(studies.get(f"{R}/image/container_keys/")) == {
        "Error": "Container name is required"
    }
    for params in ({"key": "Gene Symbol"}, {"container_name": STUDY}):
        assert engine_json(studies.get(f"{R}/image/container_keyvalues/", params=params)) == {
            "Error": "Container name and key are required"
        }
    assert (
        engine_json(studies.get(f"{R}/image/container_keys/", params={"container_name": "secret"}))
        == []
    )


@sqlite_only
def test_container_filterkeyvalues(studies):
    from test_search import STUDY

    human = {
        "resource": "image",
        "query_details": {
            "and_filters": [{"name": "Organism", "value": "homo sapiens", "operator": "equals"}],
            "or_filters": [],
            "case_sensitive": False,
        },
    }
    url = f"{R}/image/container_filterkeyvalues/"
    params = {"container_name": STUDY, "key": "Gene Symbol"}
    (found,) = engine_json(studies.post(url, params=params, json=human))
    assert [(b["value"], b["no_image"]) for b in found["results"]] == [("ADE8", 2), ("CDC42", 2)]
    (unfiltered,) = engine_json(studies.post(url, params=params, content=b""))
    assert [(b["value"], b["no_image"]) for b in unfiltered["results"]] == [
        ("ADE8", 3),
        ("CDC42", 2),
    ]
    assert engine_json(studies.post(url, params={"key": "Gene Symbol"}, json=human)) == {
        "Error": "Container name and key are required"
    }


@sqlite_only
def test_sub_container_images(studies):
    from test_search import STUDY

    d1, d2 = studies.built["datasets"]
    url = f"{R}/sub_container_images/"
    body = engine_json(studies.post(url, params={"container_name": STUDY}, content=b""))
    assert body == {
        "Error": None,
        "results": {"results": [
            {"id": d1, "name": "D1", "resource": "dataset", "dataset_name": "D1",
             "image count": 3, "data_source": "omero"},
            {"id": d2, "name": "D2", "resource": "dataset", "dataset_name": "D2",
             "image count": 2, "data_source": "omero"},
        ]},
    }  # fmt: skip
    cdc = {
        "query_details": {
            "and_filters": [{"name": "Gene Symbol", "value": "cdc42", "operator": "equals"}]
        }
    }
    filtered = engine_json(studies.post(url, params={"container_name": STUDY}, json=cdc))
    assert [(s["name"], s["image count"]) for s in filtered["results"]["results"]] == [("D2", 2)]
    assert engine_json(studies.post(url, content=b"")) == {"Error": "Container name is required"}
    assert engine_json(studies.post(url, params={"container_name": "secret"}, content=b"")) == {
        "Error": "Container secret is not found"
    }
