"""An instance: its directory, settings and database. Creating one, opening one."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from pyomero import settings as settings_module
from pyomero.errors import InstanceError, InvalidInput
from pyomero.model.permissions import (
    GUEST_GROUP_ID,
    GUEST_USER_ID,
    ROOT_USER_ID,
    SYSTEM_GROUP_ID,
    USER_GROUP_ID,
    GroupLevel,
)
from pyomero.services.passwords import hash_password
from pyomero.settings import Settings
from pyomero.store import accounts as store
from pyomero.store.db import Database
from pyomero.store.migrate import current_revision, head_revision, upgrade


@dataclass
class Instance:
    """What every service call needs: the settings and the metadata database."""

    settings: Settings
    db: Database

    def close(self) -> None:
        self.db.dispose()

    def refresh_statistics(self) -> None:
        """Keep the query planner's statistics current (run at start and periodically)."""
        self.db.refresh_statistics()

    def read_scope(self) -> AbstractContextManager[object]:
        """One read transaction around a whole read-only request (auth and the service call
        share it); services' own reads inside join it."""
        return self.db.read()


def open_instance(settings: Settings, *, check_schema: bool = True) -> Instance:
    if not settings.database_url and settings.data_dir is not None:
        database_file = settings.data_dir / "pyomero.db"
        if not database_file.is_file():
            raise InstanceError(f"{database_file} is missing; this instance has no database")
    db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size)
    try:
        revision = current_revision(db)
    except Exception as exc:  # the driver's own error: unreachable server, bad URL
        db.dispose()
        raise InstanceError(f"cannot open the database: {exc}") from None
    if check_schema:
        if revision is None:
            db.dispose()
            raise InstanceError("the database has no pyomero schema; run `pyomero init`")
        if revision != head_revision(db):
            upgrade(db)
    return Instance(settings=settings, db=db)


def load_instance(data_dir: Path, **overrides: object) -> Instance:
    """Open the instance in ``data_dir`` (settings from its file, the environment, overrides)."""
    if not data_dir.is_dir():
        raise InstanceError(f"{data_dir} does not exist; run `pyomero init {data_dir}` first")
    return open_instance(settings_module.load(data_dir, overrides=overrides))


def init_instance(
    data_dir: Path, *, root_password: str, database_url: str | None = None
) -> Instance:
    """Create an instance: its directory, configuration, schema, ``root`` and the system groups.

    Refuses a directory that already holds an instance or a database that already has a
    schema, so that nothing existing is overwritten.
    """
    if not root_password:
        raise InvalidInput("the root password must not be empty", param="root-password")
    if (data_dir / settings_module.CONFIG_FILE).exists():
        raise InstanceError(f"{data_dir} already holds a pyomero instance")
    if data_dir.exists() and not data_dir.is_dir():
        raise InstanceError(f"{data_dir} exists and is not a directory")
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    config = {"database_url": database_url} if database_url else {}
    settings = settings_module.Settings(data_dir=data_dir.resolve()).with_values(**config)
    db = Database(settings.resolved_database_url)
    try:
        try:
            existing = current_revision(db)
        except Exception as exc:
            raise InstanceError(f"cannot open the database: {exc}") from None
        if existing is not None:
            raise InstanceError(
                "the database already holds a pyomero schema; refusing to overwrite it"
            )
        upgrade(db)
        _seed(db, root_password)
        db.refresh_statistics()
    except BaseException:
        db.dispose()
        if created:
            _remove_tree(data_dir)
        raise
    for sub in ("pixels", "files"):
        (data_dir / sub).mkdir(exist_ok=True)
    settings_module.write_config(data_dir, config)
    return Instance(settings=settings, db=db)


def _seed(db: Database, root_password: str) -> None:
    with db.write() as conn:
        store.insert_group(conn, name="system", level=GroupLevel.PRIVATE, group_id=SYSTEM_GROUP_ID)
        store.insert_group(conn, name="user", level=GroupLevel.READ_ONLY, group_id=USER_GROUP_ID)
        store.insert_group(conn, name="guest", level=GroupLevel.PRIVATE, group_id=GUEST_GROUP_ID)
        store.insert_experimenter(
            conn,
            omename="root",
            first_name="root",
            last_name="root",
            password_hash=hash_password(root_password),
            user_id=ROOT_USER_ID,
        )
        store.insert_experimenter(
            conn,
            omename="guest",
            first_name="Guest",
            last_name="Account",
            password_hash=None,
            user_id=GUEST_USER_ID,
        )
        store.sync_sequences(conn)
        store.add_membership(conn, group_id=SYSTEM_GROUP_ID, user_id=ROOT_USER_ID)
        store.add_membership(conn, group_id=USER_GROUP_ID, user_id=ROOT_USER_ID)
        store.add_membership(conn, group_id=GUEST_GROUP_ID, user_id=GUEST_USER_ID)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
