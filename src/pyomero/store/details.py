"""Owners, groups and the caller's permissions for rows being turned into model objects.

One resolver serves one request: experimenters and groups are fetched once per id, and
``Details`` are shared between objects with the same owner and group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from pyomero.model.entities import Details, Experimenter, ExperimenterGroup
from pyomero.model.permissions import Actor, permissions_for
from pyomero.store.accounts import experimenter_from_row, group_from_row
from pyomero.store.schema import experimenter, experimentergroup

#: Aliases and labelled columns for joining an object's owner and group into its own query.
OWNER = experimenter.alias("ow")
GROUP = experimentergroup.alias("gr")
OWNER_COLUMNS = [c.label(f"ow_{c.name}") for c in OWNER.c if c.name != "password_hash"]
GROUP_COLUMNS = [c.label(f"gr_{c.name}") for c in GROUP.c]
_OWNER_KEYS = [(f"ow_{c.name}", c.name) for c in OWNER.c if c.name != "password_hash"]
_GROUP_KEYS = [(f"gr_{c.name}", c.name) for c in GROUP.c]


class DetailsResolver:
    def __init__(self, conn: Connection, actor: Actor) -> None:
        self.conn = conn
        self.actor = actor
        self._experimenters: dict[int, Experimenter] = {}
        self._groups: dict[int, ExperimenterGroup] = {}
        self._details: dict[tuple[int, int], Details] = {}

    def prefetch(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Load every owner and group named in ``(owner_id, group_id)`` pairs in two queries."""
        pairs = list(pairs)
        owners = {o for o, _ in pairs} - self._experimenters.keys()
        groups = {g for _, g in pairs} - self._groups.keys()
        if owners:
            for row in self.conn.execute(select(experimenter).where(experimenter.c.id.in_(owners))):
                self._experimenters[row.id] = experimenter_from_row(row)
        if groups:
            rows = self.conn.execute(
                select(experimentergroup).where(experimentergroup.c.id.in_(groups))
            )
            for row in rows:
                self._groups[row.id] = group_from_row(row)

    def remember(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take owners and groups from rows that joined them in (``OWNER_COLUMNS``...)."""
        for row in rows:
            if row["ow_id"] not in self._experimenters:
                self._experimenters[row["ow_id"]] = experimenter_from_row(
                    {name: row[key] for key, name in _OWNER_KEYS}
                )
            if row["gr_id"] not in self._groups:
                self._groups[row["gr_id"]] = group_from_row(
                    {name: row[key] for key, name in _GROUP_KEYS}
                )

    def details(self, owner_id: int, group_id: int) -> Details:
        key = (owner_id, group_id)
        found = self._details.get(key)
        if found is not None:
            return found
        if owner_id not in self._experimenters or group_id not in self._groups:
            self.prefetch([key])
        group = self._groups[group_id]
        made = Details(
            owner=self._experimenters[owner_id],
            group=group,
            permissions=permissions_for(
                self.actor, owner_id=owner_id, group_id=group_id, level=group.level
            ),
        )
        self._details[key] = made
        return made
