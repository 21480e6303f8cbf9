"""CSRF, sessions, logout and the other ways to log in (spec assertions 70-72, 1.4, 2.8)."""

from __future__ import annotations

from apidata import (
    API,
    NOT_LOGGED_IN,
    PASSWORD,
    SQLITE_ONLY,
    M,
    add_images,
    add_rois,
    check_json,
    container_json,
    create,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    make_lab,
    unsafe_json,
)

pytestmark = SQLITE_ONLY


def _csrf_failure(response, reason: str) -> None:
    assert check_json(response, 403, version=False) == {"message": f"CSRF Failed: {reason}"}


def test_every_unsafe_request_needs_csrf(instance, make_client):
    """71. POST, PUT and DELETE without ``X-CSRFToken`` (cookie present) are refused first,
    and change nothing."""
    lab = make_lab(instance, make_client)
    client = lab.api.client
    save = f"{M}/save/?group={lab.gid}"
    _csrf_failure(client.post(save, json=container_json("Project", "P")), "CSRF token missing.")
    assert get_json(lab.api, f"{M}/projects/")["data"] == []
    data = create(lab.api, "Project", "P", lab.gid)  # create() replays without the token first
    data["Name"] = "Changed"
    _csrf_failure(client.put(f"{M}/save/", json=data), "CSRF token missing.")
    _csrf_failure(client.delete(f"{M}/projects/{data['@id']}/"), "CSRF token missing.")
    assert get_json(lab.api, f"{M}/projects/{data['@id']}/")["data"]["Name"] == "P"
    (iid,) = add_images(instance, lab.uid, lab.gid, ["I"])
    (roi,) = add_rois(
        instance,
        lab.uid,
        lab.gid,
        iid,
        [{"name": "R", "shapes": [{"kind": "Point", "x": 1.0, "y": 1.0}]}],
    )
    for path in (f"{M}/rois/{roi.id}/", f"{M}/shapes/{roi.shape_ids[0]}/", f"{M}/images/{iid}/"):
        _csrf_failure(client.delete(path), "CSRF token missing.")
    get_json(lab.api, f"{M}/rois/{roi.id}/")
    # the replaying helper, for each unsafe method
    unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=data)
    unsafe_json(lab.api, "DELETE", f"{M}/shapes/{roi.shape_ids[0]}/", 200)
    unsafe_json(lab.api, "DELETE", f"{M}/rois/{roi.id}/", 200)
    unsafe_json(lab.api, "DELETE", f"{M}/projects/{data['@id']}/", 200)


def test_csrf_reasons(client):
    """Django's reasons after ``CSRF Failed: ``; an anonymous POST fails CSRF before login."""
    body = container_json("Project", "P")
    _csrf_failure(client.post(f"{M}/save/", json=body), "CSRF cookie not set.")
    token = check_json(client.get(f"{API}/token/"), 200)["data"]
    secret = client.cookies["csrftoken"]
    _csrf_failure(client.post(f"{M}/save/", json=body), "CSRF token missing.")
    wrong = "a" * 64
    _csrf_failure(
        client.post(f"{M}/save/", json=body, headers={"X-CSRFToken": wrong}),
        "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
    )
    _csrf_failure(
        client.post(f"{M}/save/", json=body, headers={"X-CSRFToken": "short"}),
        "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
    )
    _csrf_failure(
        client.post(f"{M}/save/", json=body, headers={"X-CSRFToken": "!" * 32}),
        "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
    )
    _csrf_failure(
        client.post(
            f"{M}/save/", json=body, headers={"X-CSRFToken": token, "Origin": "http://evil.example"}
        ),
        "Origin checking failed - http://evil.example does not match any trusted origins.",
    )
    # the form field works only for a form-encoded POST
    _csrf_failure(
        client.post(f"{API}/login/", data={"csrfmiddlewaretoken": wrong, "username": "x"}),
        "CSRF token from POST incorrect.",
    )
    # a valid token from an anonymous client passes CSRF and then needs a login
    for value in (token, secret):
        response = client.post(f"{M}/save/", json=body, headers={"X-CSRFToken": value})
        assert check_json(response, 403, version=False) == NOT_LOGGED_IN
    # a broken cookie
    client.cookies.set("csrftoken", "x" * 10)
    _csrf_failure(
        client.post(f"{M}/save/", json=body, headers={"X-CSRFToken": token}),
        "CSRF cookie has incorrect length.",
    )


def test_json_content_type(instance, make_client):
    """70. Every JSON answer, success or error, says ``application/json``."""
    lab = make_lab(instance, make_client)
    pid = create(lab.api, "Project", "P", lab.gid)["@id"]
    for path, status in (
        ("/api/", 200),
        (f"{API}/", 200),
        (f"{API}/token/", 200),
        (f"{API}/servers/", 200),
        (f"{M}/projects/", 200),
        (f"{M}/projects/{pid}/", 200),
        (f"{M}/projects/999999/", 404),
        (f"{M}/projects/?limit=x", 400),
        (f"{M}/experimenters/", 200),
        (f"{M}/experimentergroups/", 200),
        (f"{M}/shapes/", 200),
    ):
        check_json(lab.api.get(path), status)
    anonymous = make_client().client
    check_json(anonymous.get(f"{M}/projects/"), 403, version=False)
    check_json(anonymous.get(f"{API}/login/"), 405, version=False)
    response = anonymous.get(f"{M}/nothing/")
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"


def test_logout(instance, make_client):
    """72. ``POST /webclient/logout/``: 403 without CSRF; with it 302 to the login page, and
    the session is closed."""
    lab = make_lab(instance, make_client)
    client = lab.api.client
    response = client.post("/webclient/logout/", follow_redirects=False)
    assert response.status_code == 403
    get_json(lab.api, f"{M}/projects/")  # still logged in
    response = client.post(
        "/webclient/logout/", headers={"X-CSRFToken": lab.api.csrf_token()}, follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"] == "/webclient/login/"
    assert check_json(client.get(f"{M}/projects/"), 403, version=False) == NOT_LOGGED_IN
    # the old session uuid no longer works either
    uuid = lab.contexts[0]["sessionUuid"]
    fresh = make_client().client
    assert (
        check_json(fresh.get(f"{M}/projects/?bsession={uuid}"), 403, version=False) == NOT_LOGGED_IN
    )


def test_webclient_login_session(instance, make_client):
    """A session made by the webclient's login form is valid for the API."""
    make_lab(instance, make_client)
    client = make_client().client
    form_page = client.get("/webclient/login/")
    assert form_page.status_code == 200
    token = check_json(client.get(f"{API}/token/"), 200)["data"]
    response = client.post(
        "/webclient/login/",
        data={
            "username": "user1",
            "password": PASSWORD,
            "server": "1",
            "csrfmiddlewaretoken": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 302
    assert check_json(client.get(f"{M}/projects/"), 200)["data"] == []


def test_bsession(instance, make_client):
    """``?bsession=<uuid>`` joins a session and sets the session cookie."""
    lab = make_lab(instance, make_client)
    pid = create(lab.api, "Project", "P", lab.gid)["@id"]
    uuid = lab.contexts[0]["sessionUuid"]
    other = make_client().client
    response = other.get(f"{M}/projects/?bsession={uuid}")
    assert [p["@id"] for p in check_json(response, 200)["data"]] == [pid]
    assert other.cookies["sessionid"] == uuid
    assert check_json(other.get(f"{M}/projects/"), 200)["meta"]["totalCount"] == 1
    stranger = make_client().client
    for bad in ("nonsense", "", "x" * 100):
        response = stranger.get(f"{M}/projects/?bsession={bad}")
        assert check_json(response, 403, version=False) == NOT_LOGGED_IN, bad


def test_username_password_query(instance, make_client):
    """``?username=&password=`` on a /m/ URL logs in and sets the session cookie."""
    lab = make_lab(instance, make_client)
    create(lab.api, "Project", "P", lab.gid)
    client = make_client().client
    response = client.get(f"{M}/projects/?username=user1&password={PASSWORD}")
    assert check_json(response, 200)["meta"]["totalCount"] == 1
    assert "sessionid" in client.cookies
    assert check_json(client.get(f"{M}/projects/"), 200)["meta"]["totalCount"] == 1
    stranger = make_client().client
    response = stranger.get(f"{M}/projects/?username=user1&password=wrong")
    assert check_json(response, 403, version=False) == NOT_LOGGED_IN
    response = stranger.get(f"{M}/projects/?username=user1")  # no password: no login
    assert check_json(response, 403, version=False) == NOT_LOGGED_IN
    assert "sessionid" not in stranger.cookies


def test_sessions_are_independent(instance, make_client):
    """Two logins are two sessions; a garbage cookie is ``Not logged in``."""
    lab = make_lab(instance, make_client, users=2)
    assert lab.contexts[0]["sessionUuid"] != lab.contexts[1]["sessionUuid"]
    assert lab.contexts[0]["userId"] != lab.contexts[1]["userId"]
    client = make_client().client
    client.cookies.set("sessionid", "garbage")
    assert check_json(client.get(f"{M}/projects/"), 403, version=False) == NOT_LOGGED_IN
