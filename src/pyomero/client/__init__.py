"""The Python client (httpx), sharing ``wire/`` with the server and never ``services/``.

Empty for now; the package exists so that the layer contract in pyproject.toml (the client
is independent of the server) holds from the first commit.
"""
