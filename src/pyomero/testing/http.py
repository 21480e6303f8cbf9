"""An HTTP test client that speaks to pyomero as OMERO.web's test helpers do.

``ApiClient`` wraps any httpx-compatible client (Starlette's TestClient in process, or an
``httpx.Client`` pointed at a real ``pyomero serve``). It fetches a CSRF token, logs in
through ``/api/v0/login/`` and sends the token with every unsafe request.
"""

from __future__ import annotations

from typing import Any

API = "/api/v0"
SCHEMA = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


class ApiClient:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.token: str | None = None

    def csrf_token(self) -> str:
        if self.token is None:
            self.token = self.client.get(f"{API}/token/").json()["data"]
        return self.token

    def login(self, username: str, password: str) -> dict[str, Any]:
        response = self.client.post(
            f"{API}/login/",
            data={"username": username, "password": password, "server": 1},
            headers={"X-CSRFToken": self.csrf_token()},
        )
        assert response.status_code == 200, response.text
        return response.json()["eventContext"]

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def _unsafe(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("X-CSRFToken", self.csrf_token())
        return self.client.request(method, path, headers=headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._unsafe("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self._unsafe("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._unsafe("DELETE", path, **kwargs)

    def save(self, obj: dict[str, Any], *, group: int | None = None, method: str = "POST") -> Any:
        query = "" if group is None else f"?group={group}"
        return self._unsafe(method, f"{API}/m/save/{query}", json=obj)
