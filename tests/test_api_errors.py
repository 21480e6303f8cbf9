"""Errors: save checks, bad parameters, security and validation failures, unrouted URLs and
unsupported methods (spec assertions 57-63, section 1.3)."""

from __future__ import annotations

from apidata import (
    API,
    SCHEMA,
    TRACE,
    M,
    add_tag,
    check_json,
    container_json,
    create,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    make_lab,
    new_group,
    sqlite_only,
    unsafe_json,
)
from pyomero.services import accounts

TYPES = {
    "projects": "Project",
    "datasets": "Dataset",
    "images": "Image",
    "screens": "Screen",
    "plates": "Plate",
    "plateacquisitions": "PlateAcquisition",
    "wells": "Well",
    "rois": "Roi",
    "shapes": "Shape",
    "experimenters": "Experimenter",
    "experimentergroups": "ExperimenterGroup",
}


@sqlite_only
def test_save_post_no_id(instance, make_client):
    """57. POST with ``@id`` is refused."""
    lab = make_lab(instance, make_client)
    body = container_json("Project", "P", **{"@id": 1})
    response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json=body)
    error_body(response, "Object has '@id' attribute. Use PUT to update objects", trace=False)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_save_put_id(instance, make_client):
    """58. PUT without ``@id`` is refused."""
    lab = make_lab(instance, make_client)
    response = unsafe_json(
        lab.api, "PUT", f"{M}/save/?group={lab.gid}", 400, json=container_json("Project", "P")
    )
    error_body(response, "No '@id' attribute. Use POST to create new objects", trace=False)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_marshal_type(instance, make_client):
    """59. An allowed name under an unknown schema has no decoder (the 2015-01 one neither)."""
    lab = make_lab(instance, make_client)
    for type_ in (
        "SomeInvalidSchema#Project",
        "http://www.openmicroscopy.org/Schemas/OME/2015-01#Project",
        f"{SCHEMA}#Project#extra",
    ):
        body = {"Name": "P", "@type": type_}
        response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json=body)
        error_body(response, f"No decoder found for type: {type_}", trace=False)
    # missing @type, for POST as for PUT
    response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json={"Name": "P"})
    error_body(response, "Need to specify @type attribute", trace=False)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_invalid_parameter(instance, make_client):
    """60. Non-integer ``limit``, ``offset``, ``owner``: 400 with Python's message."""
    lab = make_lab(instance, make_client)
    for query, param, raw in (
        ("limit=foo", "limit", "'foo'"),
        ("offset=", "offset", "''"),
        ("owner=1.5", "owner", "'1.5'"),
        ("limit=1e3", "limit", "'1e3'"),
    ):
        body = get_json(lab.api, f"{M}/projects/?{query}", 400)
        assert body == {
            "message": f"invalid literal for int() with base 10: {raw}",
            "parameter": param,
        }, query


@sqlite_only
def test_int_parameters_with_spaces(instance, make_client):
    """Surrounding blanks are allowed, as Python's ``int()`` allows them."""
    lab = make_lab(instance, make_client)
    create(lab.api, "Project", "P", lab.gid)
    for raw in ("%201", "1%20"):
        body = get_json(lab.api, f"{M}/projects/?limit={raw}")
        assert body["meta"]["limit"] == 1 and len(body["data"]) == 1, raw


@sqlite_only
def test_invalid_group_and_type_filters(instance, make_client):
    """A non-integer ``group`` or type filter is a 400 naming the parameter (OMERO: a 500)."""
    lab = make_lab(instance, make_client)
    for path, param in (
        ("projects/?group=x", "group"),
        ("projects/?dataset=x", "dataset"),
        ("datasets/?project=x", "project"),
        ("datasets/?image=x", "image"),
        ("images/?dataset=x", "dataset"),
        ("screens/?plate=x", "plate"),
        ("plates/?screen=x", "screen"),
        ("plates/?well=x", "well"),
        ("wells/?plate=x", "plate"),
        ("rois/?image=x", "image"),
        ("experimenters/?experimentergroup=x", "experimentergroup"),
        ("experimentergroups/?experimenter=x", "experimenter"),
        ("projects/1/datasets/?group=x", "group"),
        ("shapes/?offset=x", "offset"),
    ):
        body = get_json(lab.api, f"{M}/{path}", 400)
        assert body == {
            "message": "invalid literal for int() with base 10: 'x'",
            "parameter": param,
        }, path
    body = unsafe_json(
        lab.api, "POST", f"{M}/save/?group=x", 400, json=container_json("Project", "P")
    )
    assert body["message"] == "invalid literal for int() with base 10: 'x'"
    assert body["parameter"] == "group"
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_marshal_validation(instance, make_client):
    """61. A body that does not decode: 400 with a stack trace."""
    lab = make_lab(instance, make_client)
    bodies = [
        container_json("Project", "P", **{"omero:details": {"@type": "foo"}}),
        container_json("Project", "P", **{"omero:details": "details"}),
        container_json("Project", 42),
        container_json("Project", "P", Annotations="not a list"),
    ]
    for body in bodies:
        response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json=body)
        assert response["message"] == "Error in decode of json data by omero_marshal", body
        assert response["stacktrace"].startswith(TRACE)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_security_violation(instance, make_client):
    """62. PUT into a group the project is not in: 403 ``Cannot read ...Project:Id_<id>``."""
    lab = make_lab(instance, make_client)
    other = new_group(instance, "other")
    accounts.add_to_group(instance, group="other", usernames=["user1"])
    data = create(lab.api, "Project", "In lab", lab.gid)
    pid = data["@id"]
    data["Name"] = "Moved?"
    body = unsafe_json(lab.api, "PUT", f"{M}/save/?group={other.id}", 403, json=data)
    assert f"Cannot read ome.model.containers.Project:Id_{pid}" in body["message"]
    assert body["stacktrace"].startswith(TRACE)
    project = get_json(lab.api, f"{M}/projects/{pid}/")["data"]
    assert project["Name"] == "In lab"
    assert project["omero:details"]["group"]["@id"] == lab.gid


def test_validation_exception(instance, make_client):
    """63. The same tag linked twice: 400 ``ValidationException``; nothing is saved."""
    lab = make_lab(instance, make_client)
    tag = add_tag(instance, lab.uid, lab.gid, "twice")
    annotation = {"Value": "twice", "@id": tag, "@type": f"{SCHEMA}#TagAnnotation"}
    body = container_json("Project", "Tagged", Annotations=[annotation, annotation])
    response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json=body)
    assert "ValidationException" in response["message"]
    assert response["stacktrace"].startswith(TRACE)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []  # the transaction rolled back
    # once is fine
    body = container_json("Project", "Tagged", Annotations=[annotation])
    data = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 201, json=body)["data"]
    # and linking it again to the same project is the same error
    data["Annotations"] = [annotation]
    response = unsafe_json(lab.api, "PUT", f"{M}/save/", 400, json=data)
    assert "ValidationException" in response["message"]
    # a project without a name breaks the model's rule
    body = {"@type": f"{SCHEMA}#Project", "Description": "nameless"}
    response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json=body)
    assert "ValidationException" in response["message"]
    assert response["stacktrace"].startswith(TRACE)
    assert [p["Name"] for p in get_json(lab.api, f"{M}/projects/")["data"]] == ["Tagged"]


@sqlite_only
def test_missing_objects(instance, make_client):
    """404 ``<Type> <id> not found`` with a stack trace, for GET and DELETE of every type."""
    lab = make_lab(instance, make_client)
    for segment, type_name in TYPES.items():
        body = get_json(lab.api, f"{M}/{segment}/999999/", 404)
        error_body(body, f"{type_name} 999999 not found")
    for segment in ("projects", "datasets", "screens", "plateacquisitions", "rois", "shapes"):
        body = unsafe_json(lab.api, "DELETE", f"{M}/{segment}/999999/", 404)
        error_body(body, f"{TYPES[segment]} 999999 not found")
    # DELETE names the id as written in the path
    body = unsafe_json(lab.api, "DELETE", f"{M}/projects/0099999/", 404)
    error_body(body, "Project 0099999 not found")
    # PUT of an object that does not exist
    body = container_json("Project", "Ghost", **{"@id": 999999})
    error_body(
        unsafe_json(lab.api, "PUT", f"{M}/save/?group={lab.gid}", 404, json=body),
        "Project 999999 not found",
    )


HUGE = "99999999999999999999"  # beyond a 64-bit (Java long) id


@sqlite_only
def test_huge_path_id(instance, make_client):
    """A path id beyond 64 bits is a 404 (or an empty list), never a 500."""
    lab = make_lab(instance, make_client)
    error_body(get_json(lab.api, f"{M}/projects/{HUGE}/", 404), f"Project {HUGE} not found")
    body = get_json(lab.api, f"{M}/projects/{HUGE}/datasets/")
    assert body["data"] == [] and body["meta"]["totalCount"] == 0


@sqlite_only
def test_huge_query_ints(instance, make_client):
    """An integer parameter beyond 64 bits is a 400 naming it, never a 500."""
    lab = make_lab(instance, make_client)
    for param in ("owner", "group", "dataset", "offset", "page"):
        response = lab.api.get(f"{M}/images/?{param}={HUGE}")
        assert response.status_code == 400, (param, response.text)
        assert response.json()["parameter"] == param


@sqlite_only
def test_unsupported_methods(instance, make_client):
    """Methods a route does not implement: 405 JSON (OMERO: a 500 from Django)."""
    lab = make_lab(instance, make_client)
    lab.api.csrf_token()
    for method, path in (
        ("POST", f"{M}/projects/"),
        ("PUT", f"{M}/projects/1/"),
        ("PATCH", f"{M}/projects/1/"),
        ("GET", f"{M}/save/"),
        ("DELETE", f"{M}/save/"),
        ("OPTIONS", f"{M}/projects/"),
        ("OPTIONS", f"{M}/projects/1/"),
        ("DELETE", f"{M}/projects/"),
        ("POST", f"{API}/token/"),
    ):
        response = lab.api.client.request(
            method, path, headers={"X-CSRFToken": lab.api.csrf_token()}
        )
        body = check_json(response, 405)
        assert isinstance(body["message"], str) and method in body["message"], (method, path)
    assert get_json(lab.api, f"{M}/projects/")["data"] == []


@sqlite_only
def test_unrouted_and_redirects(instance, make_client):
    """An unrouted /api/ URL is a JSON 404; a GET without its trailing slash is a 301."""
    lab = make_lab(instance, make_client)
    client = lab.api.client
    for path in (
        f"{M}/foos/",
        f"{M}/projects/1/children/",
        "/api/v2/",
        f"{M}/annotations/1/links/",
        f"{API}/logout/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json", path
        assert isinstance(response.json()["message"], str)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert not response.headers["content-type"].startswith("application/json")
    for path, target in (
        (f"{M}/projects", f"{M}/projects/"),
        (f"{M}/projects?limit=2&offset=1", f"{M}/projects/?limit=2&offset=1"),
        (f"{M}/projects/12", f"{M}/projects/12/"),
        (API, f"{API}/"),
        ("/api", "/api/"),
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 301, path
        assert response.headers["location"] == f"http://testserver{target}", path
    # an unrouted URL without its slash is not redirected
    assert client.get(f"{M}/foos", follow_redirects=False).status_code == 404
    # following the redirect lands on the list
    assert check_json(client.get(f"{M}/projects"), 200)["data"] == []


@sqlite_only
def test_invalid_json_body(instance, make_client):
    """A save body that is not JSON is a 400 naming the body (OMERO: a 500)."""
    lab = make_lab(instance, make_client)
    for content in (b"not json", b"", b"{"):
        response = lab.api.post(
            f"{M}/save/?group={lab.gid}",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        body = check_json(response, 400)
        assert body["parameter"] == "body"
        assert isinstance(body["message"], str) and body["message"]
    for value in ([], "Project", 1, False):
        body = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 400, json=value)
        error_body(body, "Need to specify @type attribute", trace=False)
