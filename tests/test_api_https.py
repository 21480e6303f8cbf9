"""Behind HTTPS: Django's Referer rule for unsafe requests, and a Secure session cookie."""

from __future__ import annotations

from starlette.testclient import TestClient

from pyomero.web.app import create_app

LOGIN = {"username": "root", "password": "root-password", "server": 1}


def test_https_login_needs_a_referer_and_sets_a_secure_cookie(instance):
    with TestClient(create_app(instance), base_url="https://testserver") as client:
        token = client.get("/api/v0/token/").json()["data"]
        refused = client.post("/api/v0/login/", data=LOGIN, headers={"X-CSRFToken": token})
        assert refused.status_code == 403
        assert refused.json() == {"message": "CSRF Failed: Referer checking failed - no Referer."}
        elsewhere = client.post(
            "/api/v0/login/",
            data=LOGIN,
            headers={"X-CSRFToken": token, "Referer": "https://evil.example/login/"},
        )
        assert elsewhere.json()["message"] == (
            "CSRF Failed: Referer checking failed - "
            "https://evil.example/login/ does not match any trusted origins."
        )
        response = client.post(
            "/api/v0/login/",
            data=LOGIN,
            headers={"X-CSRFToken": token, "Referer": "https://testserver/api/v0/login/"},
        )
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("sessionid=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_plain_http_cookie_is_not_secure(instance):
    with TestClient(create_app(instance)) as client:
        token = client.get("/api/v0/token/").json()["data"]
        response = client.post("/api/v0/login/", data=LOGIN, headers={"X-CSRFToken": token})
        assert response.status_code == 200
        assert "Secure" not in response.headers["set-cookie"]
