"""Every setting once: name, default, type, help.

Precedence: default < ``DIR/pyomero.toml`` < environment ``PYOMERO_<NAME>`` < command line.
OMERO's names and defaults are kept where they exist (``api_limit`` 200, ``api_max_limit`` 500).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pyomero.errors import InstanceError, InvalidInput

CONFIG_FILE = "pyomero.toml"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "",
        str,
        "SQLAlchemy URL of the metadata database; empty means DIR/pyomero.db (SQLite)",
    ),
    Setting("host", "127.0.0.1", str, "address `pyomero serve` listens on"),
    Setting("port", 4080, int, "port `pyomero serve` listens on"),
    Setting("workers", 1, int, "number of server processes"),
    Setting(
        "session_timeout",
        600,
        int,
        "seconds of inactivity after which a session expires (OMERO timeToIdle)",
    ),
    Setting("api_limit", 200, int, "default page size of the JSON API (omero.web.api.limit)"),
    Setting(
        "api_max_limit", 500, int, "largest page size of the JSON API (omero.web.api.max_limit)"
    ),
    Setting(
        "api_absolute_url",
        "",
        str,
        "prefix for `url:` values; empty means the request's own scheme and host",
    ),
    Setting("server_host", "localhost", str, "host reported by /api/v0/servers/"),
    Setting("server_port", 4064, int, "port reported by /api/v0/servers/"),
    Setting("server_name", "omero", str, "server name reported by /api/v0/servers/"),
    Setting("session_cookie_name", "sessionid", str, "name of the session cookie"),
    Setting(
        "login_incorrect_credentials_text",
        "Connection not available, please check your user name and password.",
        str,
        "message for a failed login (omero.web.login_incorrect_credentials_text)",
    ),
    Setting("debug", False, bool, "send stack traces to clients; never in production"),
    Setting("db_pool_size", 8, int, "database connections per worker"),
    Setting(
        "import_roots",
        "",
        str,
        "directories (separated by the OS path separator) whose files `pyomero import "
        "--transfer ln_s` may register in place, without copying",
    ),
    Setting(
        "thumb_default_size",
        96,
        int,
        "longest side of a default thumbnail (omero.thumbnails browser.thumb_default_size)",
    ),
    Setting(
        "max_tile_length",
        1024,
        int,
        "largest tile width or height a client may ask for (omero.pixeldata.max_tile_length)",
    ),
    Setting(
        "interpolate_pixels",
        True,
        bool,
        "imgData `interpolate`: whether viewers smooth zoomed pixels (omero.web.viewer.interpolate_pixels)",
    ),
    Setting(
        "initial_zoom_level",
        0,
        int,
        "imgData `init_zoom` (omero.web.viewer.initial_zoom_level; negative counts from the end)",
    ),
    Setting(
        "plate_layout",
        "expand",
        str,
        "default plate grid layout: expand, shrink or trim (omero.web.plate_layout)",
    ),
    Setting(
        "public_user",
        "",
        str,
        "user name anonymous readers borrow, read-only; empty disables public access "
        "(omero.web.public.user, with omero.web.public.enabled)",
    ),
    Setting(
        "public_url_filter",
        "",
        str,
        "regular expression matched (re.match) against a request's path: where the public "
        "user may read; empty matches nothing (omero.web.public.url_filter)",
    ),
    Setting(
        "public_get_only",
        True,
        bool,
        "the public user may only GET (and HEAD) (omero.web.public.get_only)",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data_dir: Path | None = None
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 4080
    workers: int = 1
    session_timeout: int = 600
    api_limit: int = 200
    api_max_limit: int = 500
    api_absolute_url: str = ""
    server_host: str = "localhost"
    server_port: int = 4064
    server_name: str = "omero"
    session_cookie_name: str = "sessionid"
    login_incorrect_credentials_text: str = (
        "Connection not available, please check your user name and password."
    )
    debug: bool = False
    db_pool_size: int = 8
    import_roots: str = ""
    thumb_default_size: int = 96
    max_tile_length: int = 1024
    interpolate_pixels: bool = True
    initial_zoom_level: int = 0
    plate_layout: str = "expand"
    public_user: str = ""
    public_url_filter: str = ""
    public_get_only: bool = True

    def import_root_paths(self) -> list[Path]:
        """The resolved directories files may be registered in place from."""
        return [Path(p).resolve() for p in self.import_roots.split(os.pathsep) if p.strip()]

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        if self.data_dir is None:
            raise InstanceError("no database_url and no instance directory")
        return f"sqlite:///{(self.data_dir / 'pyomero.db').resolve()}"

    def with_values(self, **values: Any) -> Settings:
        return replace(self, **{k: coerce(k, v) for k, v in values.items() if v is not None})


def coerce(name: str, value: Any) -> Any:
    """Convert a raw value (from TOML, the environment or the CLI) to the setting's type."""
    if name == "data_dir":
        return Path(value)
    setting = _BY_NAME.get(name)
    if setting is None:
        raise InvalidInput(f"unknown setting {name!r}", param=name)
    if isinstance(value, setting.type) and not (setting.type is int and isinstance(value, bool)):
        return value
    if setting.type is bool and isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
    elif setting.type is int and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    elif setting.type is str and isinstance(value, str):
        return value
    raise InvalidInput(f"setting {name} must be {setting.type.__name__}, got {value!r}", param=name)


def load(
    data_dir: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings of the instance in ``data_dir``: its file, then the environment, then overrides."""
    values: dict[str, Any] = {}
    if data_dir is not None:
        config = data_dir / CONFIG_FILE
        if not config.is_file():
            raise InstanceError(
                f"{data_dir} is not a pyomero instance (no {CONFIG_FILE}); run `pyomero init {data_dir}` first"
            )
        try:
            values.update(tomllib.loads(config.read_text()).get("pyomero", {}))
        except tomllib.TOMLDecodeError as exc:
            raise InstanceError(f"{config} is not valid TOML: {exc}") from None
    env = os.environ if environ is None else environ
    for setting in SETTINGS:
        raw = env.get(f"PYOMERO_{setting.name.upper()}")
        if raw is not None:
            values[setting.name] = raw
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InstanceError(f"unknown setting(s) in configuration: {', '.join(unknown)}")
    base = Settings(data_dir=data_dir.resolve() if data_dir is not None else None)
    return base.with_values(**values)


def write_config(data_dir: Path, values: Mapping[str, Any]) -> None:
    """Write ``DIR/pyomero.toml`` with the given settings (strings, ints and bools only)."""
    lines = ["# pyomero instance settings; see `pyomero settings` for every name", "[pyomero]"]
    for name, value in values.items():
        coerce(name, value)
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{name} = {rendered}")
    (data_dir / CONFIG_FILE).write_text("\n".join(lines) + "\n")
