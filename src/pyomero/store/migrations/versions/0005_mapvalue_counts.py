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

The sum counts triples, a bucket counts distinct objects: they agree while no object holds
the same key and value twice and every value fits the table (at most ``LIMIT`` characters).
An object holding the key with several values is counted once in each of their buckets, which
is right (the IDR's total is the sum of its buckets, too). ``annotation_mapvalue_key`` counts
per key the long values and the times a pair was added to an object that already had the same
key and value (``repeated``, never decreased, so it errs on the safe side); a key with either
is answered by the exact scan instead.

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


def _repeated(
    resource: str, parent: str, name: str, value: str, annotation_id: str, index: str
) -> str:
    """1 if the object already holds another pair with this key and value (any link)."""
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM {resource}annotationlink l2"
        " JOIN annotation_mapvalue m2 ON m2.annotation_id = l2.child"
        # m2.name || '': keep the planners off the (lower(name), value) index, whose range
        # for a common key is every pair; the object's few pairs are the way in
        f" WHERE l2.parent = {parent} AND lower(m2.name || '') = lower({name})"
        f" AND lower(m2.value || '') = lower({value})"
        f' AND NOT (m2.annotation_id = {annotation_id} AND m2."index" = {index}))'
        " THEN 1 ELSE 0 END"
    )


def _repeated_pg(
    resource: str, parent: str, name: str, value: str, annotation_id: str, index: str
) -> str:
    """:func:`_repeated` for PostgreSQL, its plan pinned: the object's links, then their
    pairs (a LATERAL with OFFSET 0 is never flattened), whatever the statistics say."""
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM {resource}annotationlink l2 CROSS JOIN LATERAL"
        " (SELECT 1 FROM annotation_mapvalue m2 WHERE m2.annotation_id = l2.child"
        f" AND lower(m2.name || '') = lower({name}) AND lower(m2.value || '') = lower({value})"
        f' AND NOT (m2.annotation_id = {annotation_id} AND m2."index" = {index}) OFFSET 0) x'
        f" WHERE l2.parent = {parent}) THEN 1 ELSE 0 END"
    )


def _pair_event(resource: str, ref: str, inserted: bool, rows: bool = False) -> str:
    """The triples of the pair row ``ref`` (new/old) of annotation_mapvalue (SQLite), or of
    every row of the transition table ``ref`` (PostgreSQL, ``rows``)."""
    if rows:
        repeated = (
            _repeated_pg(resource, "l.parent", "r.name", "r.value", "r.annotation_id", 'r."index"')
            if inserted
            else "0"
        )
        return (
            "SELECT r.name AS name, lower(r.name) AS nl, lower(r.value) AS vl,"
            " length(r.value) AS len, p.group_id AS pg, p.owner_id AS po, l.group_id AS lg,"
            f" l.owner_id AS lo, a.group_id AS ag, a.owner_id AS ao, {repeated} AS repeated"
            f" FROM {ref} r CROSS JOIN LATERAL (SELECT l.parent, l.group_id, l.owner_id"
            f" FROM {resource}annotationlink l WHERE l.child = r.annotation_id OFFSET 0) l"
            " CROSS JOIN LATERAL (SELECT a.group_id, a.owner_id FROM annotation a"
            " WHERE a.id = r.annotation_id OFFSET 0) a"
            " CROSS JOIN LATERAL (SELECT p.group_id, p.owner_id"
            f" FROM {resource} p WHERE p.id = l.parent OFFSET 0) p"
        )
    repeated = (
        _repeated(
            resource,
            "l.parent",
            f"{ref}.name",
            f"{ref}.value",
            f"{ref}.annotation_id",
            f'{ref}."index"',
        )
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


def _link_event(resource: str, ref: str, inserted: bool, rows: bool = False) -> str:
    """The triples of the link row ``ref`` (new/old) of <resource>annotationlink (SQLite),
    or of every row of the transition table ``ref`` (PostgreSQL, ``rows``)."""
    if rows:
        repeated = (
            _repeated_pg(resource, "r.parent", "m.name", "m.value", "m.annotation_id", 'm."index"')
            if inserted
            else "0"
        )
        return (
            "SELECT m.name AS name, lower(m.name) AS nl, lower(m.value) AS vl,"
            " length(m.value) AS len, p.group_id AS pg, p.owner_id AS po,"
            " r.group_id AS lg, r.owner_id AS lo, a.group_id AS ag, a.owner_id AS ao,"
            f" {repeated} AS repeated FROM {ref} r CROSS JOIN LATERAL"
            ' (SELECT m.name, m.value, m.annotation_id, m."index" FROM annotation_mapvalue m'
            " WHERE m.annotation_id = r.child OFFSET 0) m"
            " CROSS JOIN LATERAL (SELECT a.group_id, a.owner_id FROM annotation a"
            " WHERE a.id = r.child OFFSET 0) a"
            " CROSS JOIN LATERAL (SELECT p.group_id, p.owner_id"
            f" FROM {resource} p WHERE p.id = r.parent OFFSET 0) p"
        )
    repeated = (
        _repeated(resource, f"{ref}.parent", "m.name", "m.value", "m.annotation_id", 'm."index"')
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


#: A trigger: name, timing and event, table, transition tables (PostgreSQL, statement
#: level) and the parts of its body, (resource, source of triples, sign).
Trigger = tuple[str, str, str, str, list[tuple[str, str, int]]]


def _triggers(sqlite: bool) -> list[Trigger]:
    """On SQLite every trigger is per row. On PostgreSQL the pair and link triggers are per
    statement over transition tables: a bulk insert (COPY) then updates each count row once
    per statement, where per-row triggers would update a common value's row once per pair,
    and each update of a row its own transaction updated before walks the whole chain of its
    earlier versions (quadratic). Deletes of annotations and objects stay per row and BEFORE,
    while the rows they cascade to are still there."""
    found: list[Trigger] = []
    pairs = "annotation_mapvalue"
    new, old = ("new", "old") if sqlite else ("new_rows", "old_rows")
    rows = not sqlite
    ref_new = "" if sqlite else f"REFERENCING NEW TABLE AS {new}"
    ref_old = "" if sqlite else f"REFERENCING OLD TABLE AS {old}"
    found.append(
        (f"{pairs}_count_insert", "AFTER INSERT", pairs, ref_new,
         [(r, _pair_event(r, new, True, rows), 1) for r in RESOURCES])
    )  # fmt: skip
    found.append(
        (f"{pairs}_count_delete", "AFTER DELETE", pairs, ref_old,
         [(r, _pair_event(r, old, False, rows), -1) for r in RESOURCES])
    )  # fmt: skip
    found.append(
        (f"{pairs}_count_update", "AFTER UPDATE", pairs,
         "" if sqlite else f"REFERENCING OLD TABLE AS {old} NEW TABLE AS {new}",
         [(r, _pair_event(r, old, False, rows), -1) for r in RESOURCES]
         + [(r, _pair_event(r, new, True, rows), 1) for r in RESOURCES])
    )  # fmt: skip
    found.append(
        ("annotation_count_delete", "BEFORE DELETE", "annotation", "",
         [(r, _all(r, "l.child = old.id", annotation="old"), -1) for r in RESOURCES])
    )  # fmt: skip
    for r in RESOURCES:
        link = f"{r}annotationlink"
        found.append(
            (f"{link}_count_insert", "AFTER INSERT", link, ref_new,
             [(r, _link_event(r, new, True, rows), 1)])
        )  # fmt: skip
        found.append(
            (f"{link}_count_delete", "AFTER DELETE", link, ref_old,
             [(r, _link_event(r, old, False, rows), -1)])
        )  # fmt: skip
        found.append(
            (f"{r}_count_delete", "BEFORE DELETE", r, "",
             [(r, _all(r, "l.parent = old.id", parent="old"), -1)])
        )  # fmt: skip
    return found


def _create_trigger(
    name: str, when: str, table: str, referencing: str, body: list[str], sqlite: bool
) -> list[str]:
    if sqlite:
        return [
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW BEGIN {'; '.join(body)}; END"
        ]
    returned = "OLD" if when.startswith("BEFORE") else "NULL"
    level = "STATEMENT" if referencing else "ROW"
    return [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{'; '.join(body)}; RETURN {returned}; END $$",
        f"CREATE TRIGGER {name} {when} ON {table} {referencing} FOR EACH {level}"
        f" EXECUTE FUNCTION {name}()",
    ]


def _backfill(sqlite: bool) -> list[str]:
    statements = []
    for r in RESOURCES:
        statements += _apply(r, _all(r, "true"), 1, sqlite=True)  # no lock needed
        # objects already holding a key and value twice: the key is answered by the scan
        statements.append(
            f"UPDATE {KEYS} SET repeated = repeated + 1 WHERE resource = '{r}' AND name_lower IN"
            f" (SELECT lower(m.name) FROM {r}annotationlink l JOIN annotation_mapvalue m"
            " ON m.annotation_id = l.child GROUP BY l.parent, lower(m.name), lower(m.value)"
            " HAVING count(*) > 1)"
        )
    return statements


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _tables(sqlite) + _backfill(sqlite):
        op.execute(sa.text(statement))
    for name, when, table, referencing, parts in _triggers(sqlite):
        body = [
            s for resource, source, sign in parts for s in _apply(resource, source, sign, sqlite)
        ]
        for statement in _create_trigger(name, when, table, referencing, body, sqlite):
            op.execute(sa.text(statement))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, _when, table, _referencing, _parts in _triggers(sqlite):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
        if not sqlite:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute(f"DROP TABLE IF EXISTS {KEYS}")
    op.execute(f"DROP TABLE IF EXISTS {COUNTS}")
