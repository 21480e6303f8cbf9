"""The Python client (httpx), sharing ``wire/`` with the server and never ``services/``.

``import_paths`` imports files through a server as ``pyomero import`` does; ``Importer``
is the session underneath it, for callers that need the steps one by one.
"""

from pyomero.client.importer import (
    Importer,
    ServerUnreachable,
    UploadEntry,
    collect_files,
    import_paths,
    server_url,
)

__all__ = [
    "Importer",
    "ServerUnreachable",
    "UploadEntry",
    "collect_files",
    "import_paths",
    "server_url",
]
