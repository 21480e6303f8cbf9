"""key-value search: per-value object counts kept by triggers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 11:00:00.000000

``searchvaluesusingkey`` counts, for each value of a key, the readable objects carrying it.
Over a million pairs that is a join and a GROUP BY of seconds. ``annotation_mapvalue_count``
holds the answer ahead of time: per searchable resource, lower-cased key and value, original
key, and the (group, owner) of the object, of the link and of the annotation, the number of
(object, link, pair) triples. A reader sums the rows whose three (group, owner) it may read:
some hundred thousand rows instead of millions, with the read policy still compiled into the
SQL. Triggers keep the counts in the same transaction as the write, so they are exact and
current the moment it commits.

The sum counts triples, the answer counts distinct objects: they agree while no object holds
the key twice and every value fits the table (at most ``LIMIT`` characters).
``annotation_mapvalue_key`` counts per key the long values and the times a pair was added to
an object that already had the key (``repeated``, never decreased, so it errs on the safe
side); a key with either is answered by the exact scan instead.

Deletes: the triggers join the link, the pair, the annotation and the object, so a triple is
counted off by whichever of its rows goes first: a pair or a link after it is deleted, an
annotation or an object before (their cascades then find nothing left to count). Owners and
groups are not expected to change (pyomero has no chgrp/chown); a change would need triggers
here too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Keep in step with ``store/schema.py``.
COUNTS = "annotation_mapvalue_count"
KEYS = "annotation_mapvalue_key"
LIMIT = 100
RESOURCES = ("image", "project", "screen", "plate", "well")
_CLASS = "parent_group, parent_owner, link_group, link_owner, ann_group, ann_owner"
_COUNT_KEY = f"resource, name_lower, value, name, {_CLASS}"
_COLUMNS = "name, nl, vl, len, pg, po, lg, lo, ag, ao"


def _tables(sqlite: bool) -> list[str]:
    big = "INTEGER" if sqlite else "BIGINT"
    rowid = " WITHOUT ROWID" if sqlite else ""
    return [
        f"CREATE TABLE {COUNTS} (resource VARCHAR(16) NOT NULL, name_lower VARCHAR(255) NOT NULL,"
        f" value VARCHAR({LIMIT}) NOT NULL, name VARCHAR(255) NOT NULL,"
        f" parent_group {big} NOT NULL, parent_owner {big} NOT NULL,"
        f" link_group {big} NOT NULL, link_owner {big} NOT NULL,"
        f" ann_group {big} NOT NULL, ann_owner {big} NOT NULL, objects {big} NOT NULL,"
        f" CONSTRAINT pk_{COUNTS} PRIMARY KEY ({_COUNT_KEY})){rowid}",
        f"CREATE TABLE {KEYS} (resource VARCHAR(16) NOT NULL, name_lower VARCHAR(255) NOT NULL,"
        f" long_values {big} NOT NULL, repeated {big} NOT NULL,"
        f" CONSTRAINT pk_{KEYS} PRIMARY KEY (resource, name_lower)){rowid}",
    ]


def _repeated(resource: str, parent: str, name: str, annotation_id: str, index: str) -> str:
    """1 if the object already holds another pair with this key (through any link)."""
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM {resource}annotationlink l2"
        " JOIN annotation_mapvalue m2 ON m2.annotation_id = l2.child"
        f" WHERE l2.parent = {parent} AND lower(m2.name) = lower({name})"
        f' AND NOT (m2.annotation_id = {annotation_id} AND m2."index" = {index}))'
        " THEN 1 ELSE 0 END"
    )


def _pair_event(resource: str, ref: str, inserted: bool) -> str:
    """The triples of the pair row ``ref`` (new/old) of annotation_mapvalue."""
    repeated = (
        _repeated(resource, "l.parent", f"{ref}.name", f"{ref}.annotation_id", f'{ref}."index"')
        if inserted
        else "0"
    )
    return (
        f"SELECT {ref}.name AS name, lower({ref}.name) AS nl, lower({ref}.value) AS vl,"
        f" length({ref}.value) AS len, p.group_id AS pg, p.owner_id AS po, l.group_id AS lg,"
        f" l.owner_id AS lo, a.group_id AS ag, a.owner_id AS ao, {repeated} AS repeated"
        f" FROM {resource}annotationlink l JOIN annotation a ON a.id = l.child"
        f" JOIN {resource} p ON p.id = l.parent WHERE l.child = {ref}.annotation_id"
    )


def _link_event(resource: str, ref: str, inserted: bool) -> str:
    """The triples of the link row ``ref`` (new/old) of <resource>annotationlink."""
    repeated = (
        _repeated(resource, f"{ref}.parent", "m.name", "m.annotation_id", 'm."index"')
        if inserted
        else "0"
    )
    return (
        "SELECT m.name AS name, lower(m.name) AS nl, lower(m.value) AS vl,"
        " length(m.value) AS len, p.group_id AS pg, p.owner_id AS po,"
        f" {ref}.group_id AS lg, {ref}.owner_id AS lo, a.group_id AS ag, a.owner_id AS ao,"
        f" {repeated} AS repeated FROM annotation_mapvalue m"
        f" JOIN annotation a ON a.id = {ref}.child JOIN {resource} p ON p.id = {ref}.parent"
        f" WHERE m.annotation_id = {ref}.child"
    )


def _all(resource: str, where: str, *, annotation: str = "a", parent: str = "p") -> str:
    """The triples of ``resource`` meeting ``where``; ``annotation``/``parent`` name the
    row that holds their details (``old`` in a BEFORE DELETE trigger of that table)."""
    joins = (
        f"FROM {resource}annotationlink l JOIN annotation_mapvalue m ON m.annotation_id = l.child"
    )
    if annotation == "a":
        joins += " JOIN annotation a ON a.id = l.child"
    if parent == "p":
        joins += f" JOIN {resource} p ON p.id = l.parent"
    return (
        "SELECT m.name AS name, lower(m.name) AS nl, lower(m.value) AS vl,"
        f" length(m.value) AS len, {parent}.group_id AS pg, {parent}.owner_id AS po,"
        f" l.group_id AS lg, l.owner_id AS lo, {annotation}.group_id AS ag,"
        f" {annotation}.owner_id AS ao, 0 AS repeated {joins} WHERE {where}"
    )


def _apply(resource: str, source: str, sign: int, sqlite: bool) -> list[str]:
    """Statements adding (sign 1) or removing (sign -1) the triples ``source`` selects."""
    lock = [
        # PostgreSQL: lock the key rows first, so that the repeated-key check below runs
        # on a snapshot taken after any concurrent writer of the same key committed
        f"INSERT INTO {KEYS} (resource, name_lower, long_values, repeated)"
        f" SELECT '{resource}', nl, 0, 0 FROM ({source}) t WHERE true GROUP BY nl ORDER BY nl"
        f" ON CONFLICT (resource, name_lower) DO UPDATE SET repeated = {KEYS}.repeated"
    ]
    statements = [] if sqlite or sign < 0 else lock
    return statements + [
        f"INSERT INTO {COUNTS} ({_COUNT_KEY}, objects)"
        f" SELECT '{resource}', nl, vl, name, pg, po, lg, lo, ag, ao, {sign} * count(*)"
        f" FROM ({source}) t WHERE len <= {LIMIT} GROUP BY {_COLUMNS.replace('len, ', '')}"
        f" ON CONFLICT ({_COUNT_KEY}) DO UPDATE SET objects = {COUNTS}.objects + excluded.objects",
        f"INSERT INTO {KEYS} (resource, name_lower, long_values, repeated)"
        f" SELECT '{resource}', nl, {sign} * sum(CASE WHEN len > {LIMIT} THEN 1 ELSE 0 END),"
        f" {'sum(repeated)' if sign > 0 else '0'} FROM ({source}) t WHERE true GROUP BY nl"
        f" ON CONFLICT (resource, name_lower) DO UPDATE SET"
        f" long_values = {KEYS}.long_values + excluded.long_values,"
        f" repeated = {KEYS}.repeated + excluded.repeated",
    ]


def _triggers() -> list[tuple[str, str, str, list[tuple[str, str, int]]]]:
    """(trigger name, timing and event, table, [(resource, source, sign)])."""
    found = []
    pairs = "annotation_mapvalue"
    found.append(
        (f"{pairs}_count_insert", "AFTER INSERT", pairs,
         [(r, _pair_event(r, "new", True), 1) for r in RESOURCES])
    )  # fmt: skip
    found.append(
        (f"{pairs}_count_delete", "AFTER DELETE", pairs,
         [(r, _pair_event(r, "old", False), -1) for r in RESOURCES])
    )  # fmt: skip
    found.append(
        (f"{pairs}_count_update", "AFTER UPDATE", pairs,
         [(r, _pair_event(r, "old", False), -1) for r in RESOURCES]
         + [(r, _pair_event(r, "new", True), 1) for r in RESOURCES])
    )  # fmt: skip
    found.append(
        ("annotation_count_delete", "BEFORE DELETE", "annotation",
         [(r, _all(r, "l.child = old.id", annotation="old"), -1) for r in RESOURCES])
    )  # fmt: skip
    for r in RESOURCES:
        link = f"{r}annotationlink"
        found.append(
            (f"{link}_count_insert", "AFTER INSERT", link, [(r, _link_event(r, "new", True), 1)])
        )
        found.append(
            (f"{link}_count_delete", "AFTER DELETE", link, [(r, _link_event(r, "old", False), -1)])
        )
        found.append(
            (
                f"{r}_count_delete",
                "BEFORE DELETE",
                r,
                [(r, _all(r, "l.parent = old.id", parent="old"), -1)],
            )
        )
    return found


def _create_trigger(name: str, when: str, table: str, body: list[str], sqlite: bool) -> list[str]:
    if sqlite:
        return [
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW BEGIN {'; '.join(body)}; END"
        ]
    returned = "OLD" if when.startswith("BEFORE") else "NULL"
    return [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{'; '.join(body)}; RETURN {returned}; END $$",
        f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]


def _backfill(sqlite: bool) -> list[str]:
    statements = []
    for r in RESOURCES:
        statements += _apply(r, _all(r, "true"), 1, sqlite=True)  # no lock needed
        # objects already holding a key twice: the key is answered by the exact scan
        statements.append(
            f"UPDATE {KEYS} SET repeated = repeated + 1 WHERE resource = '{r}' AND name_lower IN"
            f" (SELECT lower(m.name) FROM {r}annotationlink l JOIN annotation_mapvalue m"
            f" ON m.annotation_id = l.child GROUP BY l.parent, lower(m.name) HAVING count(*) > 1)"
        )
    return statements


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _tables(sqlite) + _backfill(sqlite):
        op.execute(sa.text(statement))
    for name, when, table, parts in _triggers():
        body = [
            s for resource, source, sign in parts for s in _apply(resource, source, sign, sqlite)
        ]
        for statement in _create_trigger(name, when, table, body, sqlite):
            op.execute(sa.text(statement))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, _when, table, _parts in _triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
        if not sqlite:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute(f"DROP TABLE IF EXISTS {KEYS}")
    op.execute(f"DROP TABLE IF EXISTS {COUNTS}")
