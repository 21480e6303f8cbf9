"""Bootstrap URLs, tokens, servers and ``/api/v0/login/`` (spec assertions 1-10, section 2.8)."""

from __future__ import annotations

from apidata import (
    ABS,
    API,
    PASSWORD,
    ROOT_PASSWORD,
    SCHEMA,
    SQLITE_ONLY,
    M,
    check_json,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    new_group,
    new_user,
)

pytestmark = SQLITE_ONLY

EVENT_CONTEXT_KEYS = {
    "sessionId",
    "sessionUuid",
    "userId",
    "userName",
    "groupId",
    "groupName",
    "isAdmin",
    "eventId",
    "eventType",
    "memberOfGroups",
    "leaderOfGroups",
}


def _token(client) -> str:
    return check_json(client.get(f"{API}/token/"), 200)["data"]


def _login(client, data=None, *, json=None, token: str | None = None):
    headers = {"X-CSRFToken": token or _token(client)}
    return client.post(f"{API}/login/", data=data, json=json, headers=headers)


def test_versions(client):
    """1. One entry per supported version, with its absolute base URL."""
    body = get_json(client, "/api/")
    assert body == {"data": [{"version": "0", "url:base": f"{ABS}/api/v0/"}]}


def test_base_url(client):
    """2. A flat object (no ``data``): every top-level URL, the schema URL as is."""
    body = get_json(client, f"{API}/")
    assert body == {
        "url:experimenters": f"{ABS}{M}/experimenters/",
        "url:experimentergroups": f"{ABS}{M}/experimentergroups/",
        "url:projects": f"{ABS}{M}/projects/",
        "url:datasets": f"{ABS}{M}/datasets/",
        "url:images": f"{ABS}{M}/images/",
        "url:screens": f"{ABS}{M}/screens/",
        "url:plates": f"{ABS}{M}/plates/",
        "url:rois": f"{ABS}{M}/rois/",
        "url:token": f"{ABS}{API}/token/",
        "url:servers": f"{ABS}{API}/servers/",
        "url:login": f"{ABS}{API}/login/",
        "url:save": f"{ABS}{M}/save/",
        "url:schema": SCHEMA,
    }


def test_base_url_versions_404(client):
    """3. Only version ``0`` is routed; other versions and ids that are not digits are 404s."""
    for path in (
        "/api/v01/",
        "/api/v1/",
        "/api/v1/m/projects/",
        "/api/v00/m/projects/",
        f"{M}/projects/-1/",
        f"{M}/projects/abc/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json", path
        assert isinstance(response.json()["message"], str)
    # no url:wells in the base, but the route exists (and needs a login)
    assert check_json(client.get(f"{M}/wells/"), 403, version=False) == {"message": "Not logged in"}


def test_login_get(client):
    """4. GET login is a 405 with OMERO.web's message (no API version header on login)."""
    body = check_json(client.get(f"{API}/login/"), 405, version=False)
    assert body == {"message": "POST only with username, password, server and csrftoken"}


def test_login_csrf(client):
    """5. POST login without a CSRF cookie, then without a token: 403 ``CSRF Failed: ...``."""
    form = {"username": "root", "password": ROOT_PASSWORD, "server": 1}
    body = check_json(client.post(f"{API}/login/", data=form), 403, version=False)
    assert body == {"message": "CSRF Failed: CSRF cookie not set."}
    _token(client)  # sets the cookie
    body = check_json(client.post(f"{API}/login/", data=form), 403, version=False)
    assert body == {"message": "CSRF Failed: CSRF token missing."}
    # the request did not log in
    assert check_json(client.get(f"{M}/projects/"), 403, version=False) == {
        "message": "Not logged in"
    }


def test_login_errors(client, instance):
    """6-9. Form errors in field order, Django's wording; wrong credentials; unknown server."""
    new_group(instance, "lab")
    new_user(instance, "user1", ["lab"])
    cases = [
        (
            {"username": "guest", "password": "fake", "server": 1},
            "Username: Guest account is not supported.",
        ),
        ({"username": "nobody", "password": "", "server": 1}, "Password: This field is required."),
        ({"password": "fake"}, "Username: This field is required. Server: This field is required."),
        (
            {"username": "nobody", "password": "fake", "server": 1},
            "Connection not available, please check your user name and password.",
        ),
        (
            {"username": "user1", "password": "wrong", "server": 1},
            "Connection not available, please check your user name and password.",
        ),
        (
            {"username": "user1", "password": PASSWORD, "server": 2},
            "Server: Select a valid choice. That choice is not one of the available choices.",
        ),
        (
            {"username": "user1", "password": PASSWORD},
            "Server: This field is required.",
        ),
        (
            {"username": "u" * 300, "password": PASSWORD, "server": 1},
            "Username: Ensure this value has at most 255 characters (it has 300).",
        ),
        (
            {"username": "user1", "password": f" {PASSWORD}", "server": 1},  # not stripped
            "Connection not available, please check your user name and password.",
        ),
    ]
    token = _token(client)
    for form, message in cases:
        body = check_json(_login(client, form, token=token), 403, version=False)
        assert body == {"message": message}, form
    assert check_json(client.get(f"{M}/projects/"), 403, version=False) == {
        "message": "Not logged in"
    }


def test_login_example(client, instance):
    """10. The documented flow: versions -> base -> servers, token -> login -> eventContext."""
    group = new_group(instance, "lab")
    user = new_user(instance, "user1", ["lab"])
    base_url = get_json(client, "/api/")["data"][-1]["url:base"]
    base = get_json(client, base_url)
    server = get_json(client, base["url:servers"])["data"][0]["id"]
    token = get_json(client, base["url:token"])["data"]
    response = client.post(
        base["url:login"],
        data={"username": "user1", "password": PASSWORD, "server": server},
        headers={"X-CSRFToken": token},
    )
    body = check_json(response, 200, version=False)
    assert set(body) == {"success", "eventContext"}
    assert body["success"] is True
    ec = body["eventContext"]
    assert set(ec) == EVENT_CONTEXT_KEYS
    assert ec["userId"] == user.id > 0
    assert ec["userName"] == "user1"
    assert ec["groupId"] == group.id
    assert ec["groupName"] == "lab"
    assert ec["isAdmin"] is False
    assert sorted(ec["memberOfGroups"]) == sorted([group.id, 1])  # its group and `user`
    assert ec["groupId"] in ec["memberOfGroups"]
    assert ec["leaderOfGroups"] == []
    assert isinstance(ec["sessionId"], int)
    assert isinstance(ec["sessionUuid"], str) and ec["sessionUuid"]
    assert ec["eventId"] == -1
    assert ec["eventType"] == "User"
    # the session cookie now authenticates the API
    assert get_json(client, f"{M}/projects/")["data"] == []


def test_login_json_body_and_root(client):
    """A JSON login body (omero-web >= 5.29); root is an admin in ``system`` and ``user``."""
    response = client.post(
        f"{API}/login/",
        json={"username": "root", "password": ROOT_PASSWORD, "server": 1},
        headers={"X-CSRFToken": _token(client)},
    )
    ec = check_json(response, 200, version=False)["eventContext"]
    assert ec["userName"] == "root"
    assert ec["userId"] == 0
    assert ec["isAdmin"] is True
    assert sorted(ec["memberOfGroups"]) == [0, 1]


def test_login_repost_and_empty_form(client):
    """An empty login POST: 403 ``""`` without a session, the current eventContext with one."""
    token = _token(client)
    body = check_json(_login(client, {}, token=token), 403, version=False)
    assert body == {"message": ""}
    first = check_json(
        _login(client, {"username": "root", "password": ROOT_PASSWORD, "server": 1}, token=token),
        200,
        version=False,
    )["eventContext"]
    again = check_json(
        _login(client, {"csrfmiddlewaretoken": token}, token=token), 200, version=False
    )
    assert again == {"success": True, "eventContext": first}


def test_login_form_token(client):
    """The token may come in the form field ``csrfmiddlewaretoken`` of a form POST."""
    token = _token(client)
    form = {
        "username": "root",
        "password": ROOT_PASSWORD,
        "server": 1,
        "csrfmiddlewaretoken": token,
    }
    response = client.post(f"{API}/login/", data=form)
    assert check_json(response, 200, version=False)["success"] is True


def test_token_and_servers(client):
    """Token and servers need no login; the token validates against the cookie it set."""
    response = client.get(f"{API}/token/")
    token = check_json(response, 200)["data"]
    assert len(token) == 64
    secret = client.cookies["csrftoken"]
    assert len(secret) == 32
    second = check_json(client.get(f"{API}/token/"), 200)["data"]
    assert len(second) == 64
    assert client.cookies["csrftoken"] == secret  # the cookie is not replaced
    body = get_json(client, f"{API}/servers/")
    assert body == {"data": [{"id": 1, "host": "localhost", "port": 4064, "server": "omero"}]}
    # the cookie's own secret, the first and the second masked token all validate
    for value in (secret, token, second):
        form = {"username": "root", "password": ROOT_PASSWORD, "server": 1}
        response = client.post(f"{API}/login/", data=form, headers={"X-CSRFToken": value})
        assert response.status_code == 200, value
