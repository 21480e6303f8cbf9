"""Key-value search in SQL: the IDR search engine's queries answered from our own tables.

The IDR copies OMERO's map annotations into Elasticsearch and answers from there, with no
permissions. Here every query runs on ``annotation_mapvalue`` itself, with the read policy
compiled in (``visibility.readable`` on the searched object, on the annotation link and on
the annotation), so a hit, a count or a bucket never reveals a row the caller may not read,
and a pair is searchable the moment its transaction commits.

Indexes (migrations 0003 and 0004):

- a B-tree on ``(lower(name), lower(substr(value, 1, 256)))``: keys and values match without
  regard to case as the IDR's ``keynamenormalize``/``keyvaluenormalize`` fields do;
  ``equals`` and ``in`` look the prefix up and recheck the whole value (a value may be far
  longer than a PostgreSQL index entry may be); ranges and the per-key buckets scan the
  key's part of it. Case-sensitive searches use the same index and recheck the exact text;
- substring search (``contains``): SQLite's FTS5 trigram table ``annotation_mapvalue_fts``
  (external content, synced by triggers) for needles of three characters or more, a
  ``LIKE`` scan for shorter ones; PostgreSQL's pg_trgm GIN index on ``lower(value)``,
  which ``lower(value) LIKE '%...%'`` uses (a scan when the extension is missing).

Each filter becomes a set of matching object ids (``id IN (SELECT parent ...)``), which the
planners drive from the index when it is selective. Pages are ordered by id and cut at the
bookmark (the last id of the previous page), as the IDR's ``search_after`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    column,
    distinct,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy import (
    table as sql_table,
)

from pyomero.errors import InvalidInput
from pyomero.model.permissions import Actor
from pyomero.store import listing
from pyomero.store.listing import ImageRow
from pyomero.store.schema import (
    MAPVALUE_COUNT,
    MAPVALUE_FTS,
    MAPVALUE_KEY,
    annotation,
    annotation_links,
    annotation_mapvalue,
    dataset,
    datasetimagelink,
    image,
    mapvalue_prefix,
    plate,
    project,
    projectdatasetlink,
    screen,
    screenplatelink,
    well,
    wellsample,
)
from pyomero.store.visibility import Mode, readable, readable_clause, readable_params

#: The searchable resources and their tables.
RESOURCES: dict[str, Table] = {
    "image": image,
    "project": project,
    "screen": screen,
    "plate": plate,
    "well": well,
}
OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
)
NEGATIVE = {"not_equals": "equals", "not_contains": "contains", "not_in": "in"}
#: The IDR's ``PAGE_SIZE`` (``configurations/app_config.yml``).
PAGE_SIZE = 1000

mv = annotation_mapvalue


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition: a pair with key ``name`` (any key if None) whose value ``operator``
    ``value``, on the objects of ``resource`` (default: the searched resource)."""

    operator: str
    value: str | tuple[str, ...]
    name: str | None = None
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """and-filters, all true; each or-group, at least one true."""

    and_filters: tuple[Filter, ...] = ()
    or_filters: tuple[tuple[Filter, ...], ...] = ()
    case_sensitive: bool = False
    study: str | None = None  # name of a project or screen that holds the images


@dataclass(slots=True)
class Document:
    """A search hit: the object with its readable pairs and, for images, its containers."""

    id: int
    name: str | None
    description: str | None
    owner_id: int
    group_id: int
    key_values: list[tuple[str, str, int]] = field(default_factory=list)
    containers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    documents: list[Document]
    size: int  # total hits


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    value: str  # lower-cased, as the IDR's buckets
    count: int  # readable objects with this pair


@dataclass(frozen=True, slots=True)
class Container:
    id: int
    name: str
    type: str  # "project" or "screen"
    description: str | None
    images: int


# -- conditions -----------------------------------------------------------------------------


def resource_table(resource: str) -> Table:
    try:
        return RESOURCES[resource]
    except KeyError:
        raise InvalidInput(f"{resource} is not a valid resource", param="resource") from None


def like_pattern(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(conn: Connection, needle: str, case_sensitive: bool) -> ColumnElement[bool]:
    value = mv.c.value
    if conn.dialect.name == "sqlite" and len(needle) >= 3:
        # An FTS5 phrase: the trigram tokenizer matches it as a substring, case-folded.
        phrase = '"' + needle.replace('"', '""') + '"'
        fts = sql_table(MAPVALUE_FTS, column("rowid"))
        matched = select(fts.c.rowid).where(literal_column(MAPVALUE_FTS).op("MATCH")(phrase))
        found = literal_column("annotation_mapvalue.rowid").in_(matched)
    else:
        found = func.lower(value).like(func.lower(literal(like_pattern(needle))), escape="\\")
    if case_sensitive:
        return (
            and_(found, func.instr(value, needle) > 0)
            if conn.dialect.name == "sqlite"
            else (and_(found, func.strpos(value, needle) > 0))
        )
    return found


def _value_condition(
    conn: Connection, operator: str, value: str | tuple[str, ...], case_sensitive: bool
) -> ColumnElement[bool]:
    lowered = func.lower(mv.c.value)
    if operator == "contains":
        return _contains(conn, value if isinstance(value, str) else ",".join(value), case_sensitive)
    if operator == "in":
        values = value if isinstance(value, tuple) else tuple(value.split(","))
        values = tuple(v.strip() for v in values)
        found: ColumnElement[bool] = and_(
            mapvalue_prefix(mv.c.value).in_([mapvalue_prefix(literal(v)) for v in values]),
            lowered.in_([func.lower(literal(v)) for v in values]),
        )
        return and_(found, mv.c.value.in_(values)) if case_sensitive else found
    if not isinstance(value, str):
        raise InvalidInput(f"operator {operator} takes one value", param="value")
    if operator == "equals":
        # the indexed prefix finds the candidates, the whole value decides
        found = and_(
            mapvalue_prefix(mv.c.value) == mapvalue_prefix(literal(value)),
            lowered == func.lower(literal(value)),
        )
        return and_(found, mv.c.value == value) if case_sensitive else found
    # gt, gte, lt, lte: lexicographic, as Elasticsearch's range on a keyword field
    column, bound = (
        (mv.c.value, literal(value)) if case_sensitive else (lowered, func.lower(literal(value)))
    )
    return {
        "gt": column > bound,
        "gte": column >= bound,
        "lt": column < bound,
        "lte": column <= bound,
    }[operator]


def _key_condition(name: str | None, case_sensitive: bool) -> ColumnElement[bool]:
    if name is None:
        return true()
    found = func.lower(mv.c.name) == func.lower(literal(name))
    return and_(found, mv.c.name == name) if case_sensitive else found


def _pair_owners(actor: Actor, resource: str, *conditions: ColumnElement[bool]) -> Select[Any]:
    """Ids of ``resource`` objects carrying a readable pair that meets ``conditions``."""
    link = annotation_links[resource]
    return (
        select(link.c.parent)
        .select_from(
            mv.join(link, link.c.child == mv.c.annotation_id).join(
                annotation, annotation.c.id == mv.c.annotation_id
            )
        )
        .where(*conditions, readable(actor, link), readable(actor, annotation))
    )


def _images_of(actor: Actor, resource: str, ids: Select[Any]) -> Select[Any]:
    """Images inside readable ``resource`` containers whose ids are ``ids``."""
    container = resource_table(resource)
    readable_ids = select(container.c.id).where(container.c.id.in_(ids), readable(actor, container))
    if resource == "project":
        return (
            select(datasetimagelink.c.child)
            .join(projectdatasetlink, projectdatasetlink.c.child == datasetimagelink.c.parent)
            .where(projectdatasetlink.c.parent.in_(readable_ids))
        )
    samples = select(wellsample.c.image).join(well, well.c.id == wellsample.c.well)
    if resource == "well":
        return samples.where(wellsample.c.well.in_(readable_ids))
    if resource == "plate":
        return samples.where(well.c.plate.in_(readable_ids))
    return samples.join(screenplatelink, screenplatelink.c.child == well.c.plate).where(
        screenplatelink.c.parent.in_(readable_ids)
    )


def _filter_condition(
    conn: Connection, actor: Actor, target: str, flt: Filter, case_sensitive: bool
) -> ColumnElement[bool]:
    if flt.operator not in OPERATORS:
        raise InvalidInput(f"{flt.operator} is not a valid operator", param="operator")
    table = RESOURCES[target]
    source = flt.resource or target
    resource_table(source)
    if source != target and target != "image":
        raise InvalidInput(
            f"a {source} filter cannot select {target}s, only images", param="resource"
        )
    positive = NEGATIVE.get(flt.operator, flt.operator)
    key = _key_condition(flt.name, case_sensitive)
    matching = _pair_owners(
        actor, source, key, _value_condition(conn, positive, flt.value, case_sensitive)
    )
    if source != target:
        matching = _images_of(actor, source, matching)
    if flt.operator not in NEGATIVE:
        return table.c.id.in_(matching)
    # "has the key, with no other value": the IDR's must(key) + must_not(value)
    with_key = _pair_owners(actor, source, key)
    if source != target:
        with_key = _images_of(actor, source, with_key)
    return and_(table.c.id.in_(with_key), table.c.id.not_in(matching))


def _study_condition(actor: Actor, name: str) -> ColumnElement[bool]:
    def named(table: Table) -> Select[Any]:
        return select(table.c.id).where(
            func.lower(table.c.name) == func.lower(literal(name)), readable(actor, table)
        )

    return or_(
        image.c.id.in_(_images_of(actor, "project", named(project))),
        image.c.id.in_(_images_of(actor, "screen", named(screen))),
    )


def query_conditions(
    conn: Connection, actor: Actor, resource: str, query: Query
) -> list[ColumnElement[bool]]:
    table = resource_table(resource)
    cs = query.case_sensitive
    where: list[ColumnElement[bool]] = [readable(actor, table)]
    where += [_filter_condition(conn, actor, resource, f, cs) for f in query.and_filters]
    for group in query.or_filters:
        if group:
            where.append(or_(*(_filter_condition(conn, actor, resource, f, cs) for f in group)))
    if query.study is not None:
        if resource != "image":
            raise InvalidInput("study selects images only", param="study")
        where.append(_study_condition(actor, query.study))
    return where


# -- searching ------------------------------------------------------------------------------


def search(
    conn: Connection,
    actor: Actor,
    resource: str,
    query: Query,
    *,
    bookmark: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Page:
    """One page of hits (ids above ``bookmark``, ascending) and the total number of hits.

    The page query reads the documents' own columns too, and a first page that is not full
    is all the hits, so a selective search costs three or four queries, not six (each a
    round trip of about half a millisecond on PostgreSQL).
    """
    table = resource_table(resource)
    where = query_conditions(conn, actor, resource, query)
    page = select(*document_columns(table)).where(*where)
    if bookmark is not None:
        page = page.where(table.c.id > bookmark)
    rows = conn.execute(page.order_by(table.c.id).limit(page_size)).all()
    if bookmark is None and len(rows) < page_size:
        size = len(rows)
    else:
        size = conn.scalar(select(func.count()).select_from(table).where(*where)) or 0
    docs = {r[0]: Document(r[0], r[1], r[2], r[3], r[4]) for r in rows}
    complete_documents(conn, actor, resource, docs)
    return Page(list(docs.values()), size)


def containers_of_hits(conn: Connection, actor: Actor, query: Query) -> list[Container]:
    """The projects and screens holding the image hits, with how many hits each holds."""
    hits = select(image.c.id).where(*query_conditions(conn, actor, "image", query)).subquery()
    found: list[Container] = []
    by_project = (
        select(project.c.id, project.c.name, project.c.description, func.count(distinct(hits.c.id)))
        .select_from(
            hits.join(datasetimagelink, datasetimagelink.c.child == hits.c.id)
            .join(projectdatasetlink, projectdatasetlink.c.child == datasetimagelink.c.parent)
            .join(project, project.c.id == projectdatasetlink.c.parent)
        )
        .where(readable(actor, project))
        .group_by(project.c.id, project.c.name, project.c.description)
    )
    by_screen = (
        select(screen.c.id, screen.c.name, screen.c.description, func.count(distinct(hits.c.id)))
        .select_from(
            hits.join(wellsample, wellsample.c.image == hits.c.id)
            .join(well, well.c.id == wellsample.c.well)
            .join(screenplatelink, screenplatelink.c.child == well.c.plate)
            .join(screen, screen.c.id == screenplatelink.c.parent)
        )
        .where(readable(actor, screen))
        .group_by(screen.c.id, screen.c.name, screen.c.description)
    )
    for kind, statement in (("project", by_project), ("screen", by_screen)):
        for id_, name, description, count in conn.execute(statement.order_by(literal_column("1"))):
            found.append(Container(id_, name, kind, description, count))
    return found


_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], build: Any) -> Any:
    """A statement built once per shape (resource, visibility mode): the values are bound
    parameters, so every caller reuses it and SQLAlchemy's compiled form."""
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = build()
    return found


def _ids_param() -> Any:
    return bindparam("ids", expanding=True)


def document_columns(table: Table) -> list[Any]:
    name = table.c.name if "name" in table.c else literal(None)
    description = table.c.description if "description" in table.c else literal(None)
    return [table.c.id, name, description, table.c.owner_id, table.c.group_id]


def _document_rows(resource: str, mode: Mode) -> Any:
    table = resource_table(resource)
    return select(*document_columns(table)).where(
        table.c.id.in_(_ids_param()), readable_clause(table, mode)
    )


def _document_pairs(resource: str, mode: Mode) -> Any:
    link = annotation_links[resource]
    return (
        select(link.c.parent, mv.c.name, mv.c.value, mv.c.index)
        .select_from(
            mv.join(link, link.c.child == mv.c.annotation_id).join(
                annotation, annotation.c.id == mv.c.annotation_id
            )
        )
        .where(
            link.c.parent.in_(_ids_param()),
            readable_clause(link, mode),
            readable_clause(annotation, mode),
        )
        .order_by(link.c.parent, mv.c.annotation_id, mv.c.index)
    )


def documents(conn: Connection, actor: Actor, resource: str, ids: Sequence[int]) -> list[Document]:
    """The documents of ``ids`` (readable ones only), in the order given."""
    if not ids:
        return []
    mode, values = readable_params(actor)
    params = {**values, "ids": list(ids)}
    rows = conn.execute(
        _cached(("rows", resource, mode), lambda: _document_rows(resource, mode)), params
    )
    docs = {r[0]: Document(r[0], r[1], r[2], r[3], r[4]) for r in rows}
    complete_documents(conn, actor, resource, docs)
    return [docs[i] for i in ids if i in docs]


def complete_documents(
    conn: Connection, actor: Actor, resource: str, docs: dict[int, Document]
) -> None:
    """Add the readable pairs and, for images, the containers to readable ``docs``."""
    if not docs:
        return
    mode, values = readable_params(actor)
    params = {**values, "ids": list(docs)}
    pairs = _cached(("pairs", resource, mode), lambda: _document_pairs(resource, mode))
    for parent, key, value, index in conn.execute(pairs, params):
        if parent in docs:
            docs[parent].key_values.append((key, value, index))
    if resource == "image":
        _image_containers(conn, mode, params, docs)


def _in_datasets(mode: Mode) -> Any:
    return (
        select(datasetimagelink.c.child, dataset.c.id, dataset.c.name, project.c.id, project.c.name)
        .join(dataset, dataset.c.id == datasetimagelink.c.parent)
        .outerjoin(projectdatasetlink, projectdatasetlink.c.child == dataset.c.id)
        .outerjoin(
            project,
            and_(project.c.id == projectdatasetlink.c.parent, readable_clause(project, mode)),
        )
        .where(datasetimagelink.c.child.in_(_ids_param()), readable_clause(dataset, mode))
        .order_by(datasetimagelink.c.child, dataset.c.id, project.c.id)
    )


def _in_wells(mode: Mode) -> Any:
    return (
        select(
            wellsample.c.image,
            wellsample.c.id,
            well.c.id,
            plate.c.id,
            plate.c.name,
            screen.c.id,
            screen.c.name,
        )
        .join(well, well.c.id == wellsample.c.well)
        .join(plate, plate.c.id == well.c.plate)
        .outerjoin(screenplatelink, screenplatelink.c.child == plate.c.id)
        .outerjoin(
            screen, and_(screen.c.id == screenplatelink.c.parent, readable_clause(screen, mode))
        )
        .where(
            wellsample.c.image.in_(_ids_param()),
            readable_clause(well, mode),
            readable_clause(plate, mode),
        )
        .order_by(wellsample.c.image, wellsample.c.id)
    )


def _in_containers(mode: Mode) -> Any:
    """:func:`_in_datasets` and :func:`_in_wells` in one round trip, as rows of
    (kind, image, a, b, c, d, e, f) ordered as each of them is."""
    d = list(_in_datasets(mode).selected_columns)  # image, dataset, name, project, name
    w = list(_in_wells(mode).selected_columns)  # image, sample, well, plate, name, screen, name
    none = cast(null(), BigInteger)
    datasets = (
        _in_datasets(mode)
        .order_by(None)
        .with_only_columns(literal("d").label("kind"), d[0], d[1], d[2], d[3], d[4], none, none)
    )
    wells = (
        _in_wells(mode)
        .order_by(None)
        .with_only_columns(literal("w").label("kind"), w[0], w[1], w[4], w[2], w[6], w[3], w[5])
    )
    return union_all(datasets, wells).order_by(*(literal_column(str(n)) for n in (1, 2, 3, 5)))


def _image_containers(
    conn: Connection, mode: Mode, params: dict[str, Any], docs: dict[int, Document]
) -> None:
    if not docs:
        return
    for kind, iid, a, b, c, d, e, f in conn.execute(
        _cached(("containers", mode), lambda: _in_containers(mode)), params
    ):
        doc = docs[iid].containers
        if kind == "d" and "dataset_id" not in doc:
            doc.update(dataset_id=a, dataset_name=b, project_id=c, project_name=d)
        elif kind == "w" and "well_id" not in doc:
            doc.update(
                wellsample_id=a,
                well_id=c,
                plate_id=e,
                plate_name=b,
                screen_id=f,
                screen_name=d,
            )


# -- values, keys, names --------------------------------------------------------------------


def _readable_pairs(actor: Actor, resource: str) -> Any:
    """FROM clause and WHERE of the readable pairs of readable ``resource`` objects."""
    table = resource_table(resource)
    link = annotation_links[resource]
    joined = (
        mv.join(link, link.c.child == mv.c.annotation_id)
        .join(annotation, annotation.c.id == mv.c.annotation_id)
        .join(table, table.c.id == link.c.parent)
    )
    where = [readable(actor, link), readable(actor, annotation), readable(actor, table)]
    return joined, where, link


class _Details:
    """The (group, owner) columns of one side of a counted triple, shaped like a table for
    ``visibility.readable``."""

    def __init__(self, group: Any, owner: Any) -> None:
        self.c = SimpleNamespace(group_id=group, owner_id=owner)


_counts = sql_table(
    MAPVALUE_COUNT,
    *(column(name) for name in ("resource", "name_lower", "value", "name", "objects")),
    *(
        column(f"{side}_{what}")
        for side in ("parent", "link", "ann")
        for what in ("group", "owner")
    ),
)
_keys = sql_table(
    MAPVALUE_KEY, *(column(n) for n in ("resource", "name_lower", "long_values", "repeated"))
)


def _counted_buckets(
    conn: Connection, actor: Actor, resource: str, key: str
) -> tuple[list[Bucket], int] | None:
    """The buckets summed from ``annotation_mapvalue_count`` (migration 0005), or None when
    that table cannot answer exactly: an object holds the same key and value twice, or a
    value is too long to be counted."""
    lowered = func.lower(literal(key))
    state = conn.execute(
        select(_keys.c.long_values, _keys.c.repeated).where(
            _keys.c.resource == resource, _keys.c.name_lower == lowered
        )
    ).first()
    if state is None:
        return [], 0  # no pair has ever had this key
    if state.long_values or state.repeated:
        return None
    c = _counts.c
    sides: list[Any] = [
        _Details(c[f"{side}_group"], c[f"{side}_owner"]) for side in ("parent", "link", "ann")
    ]
    objects = func.sum(c.objects)
    rows = conn.execute(
        select(func.min(c.name), c.value, objects)
        .where(
            c.resource == resource,
            c.name_lower == lowered,
            *(readable(actor, side) for side in sides),
        )
        .group_by(c.value)
        .having(objects > 0)
    )
    buckets = [Bucket(k, v, int(n)) for k, v, n in rows]
    return buckets, sum(b.count for b in buckets)


def value_buckets(
    conn: Connection, actor: Actor, resource: str, key: str
) -> tuple[list[Bucket], int]:
    """``searchvaluesusingkey``: each lower-cased value of ``key`` with the number of
    objects carrying it, and the total, which is the sum of the buckets as the IDR's
    ``prepare_search_results_buckets`` sums them (an object with two values counts in both).

    Summed from the per-value counts when they answer exactly (no object holds the same key
    and value twice: the sum of triples is then the number of objects), else counted over
    the pairs.
    """
    counted = _counted_buckets(conn, actor, resource_table(resource).name, key)
    if counted is None:
        return scanned_buckets(conn, actor, resource, key)
    buckets, total = counted
    # The IDR's order: shortest values first, then the fullest buckets, then by value.
    buckets.sort(key=lambda b: (len(b.value), -b.count, b.value))
    return buckets, total


def scanned_buckets(
    conn: Connection, actor: Actor, resource: str, key: str
) -> tuple[list[Bucket], int]:
    """:func:`value_buckets` counted over the pairs themselves: its fallback, and the
    reference the per-value counts are tested against."""
    joined, where, link = _readable_pairs(actor, resource)
    where.append(func.lower(mv.c.name) == func.lower(literal(key)))
    lowered = func.lower(mv.c.value)
    rows = conn.execute(
        select(func.min(mv.c.name), lowered, func.count(distinct(link.c.parent)))
        .select_from(joined)
        .where(*where)
        .group_by(lowered)
    )
    buckets = [Bucket(k, v, n) for k, v, n in rows]
    # The IDR's order: shortest values first, then the fullest buckets, then by value.
    buckets.sort(key=lambda b: (len(b.value), -b.count, b.value))
    return buckets, sum(b.count for b in buckets)


def value_search(
    conn: Connection, actor: Actor, resource: str, needle: str, *, key: str | None = None
) -> tuple[list[Bucket], int]:
    """``searchvalues``: the (key, value) buckets whose value contains ``needle``."""
    joined, where, link = _readable_pairs(actor, resource)
    where += [_contains(conn, needle, False), _key_condition(key, False)]
    lowered = func.lower(mv.c.value)
    rows = conn.execute(
        select(mv.c.name, lowered, func.count(distinct(link.c.parent)))
        .select_from(joined)
        .where(*where)
        .group_by(mv.c.name, lowered)
    )
    buckets = sorted(
        (Bucket(k, v, n) for k, v, n in rows), key=lambda b: (-b.count, b.key, b.value)
    )
    total = conn.scalar(
        select(func.count(distinct(link.c.parent))).select_from(joined).where(*where)
    )
    return buckets, total or 0


def keys(conn: Connection, actor: Actor, resource: str) -> list[str]:
    """The distinct keys of the readable pairs on readable ``resource`` objects.

    Read from ``annotation_mapvalue_count`` (its rows hold the original key), which holds
    every pair whose value fits it; only keys that have longer values are also looked for
    among the pairs themselves, through the B-tree on the lower-cased key.
    """
    c = _counts.c
    sides: list[Any] = [
        _Details(c[f"{side}_group"], c[f"{side}_owner"]) for side in ("parent", "link", "ann")
    ]
    found = set(
        conn.scalars(
            select(c.name)
            .distinct()
            .where(c.resource == resource, c.objects > 0, *(readable(actor, d) for d in sides))
        )
    )
    long_keys = list(
        conn.scalars(
            select(_keys.c.name_lower).where(_keys.c.resource == resource, _keys.c.long_values > 0)
        )
    )
    if long_keys:
        joined, where, _link = _readable_pairs(actor, resource)
        found |= set(
            conn.scalars(
                select(mv.c.name)
                .distinct()
                .select_from(joined)
                .where(func.lower(mv.c.name).in_(long_keys), *where)
            )
        )
    return sorted(found)


def container_names(
    conn: Connection,
    actor: Actor,
    resource: str,
    needle: str | None,
    *,
    use_description: bool = False,
) -> list[Container]:
    """``names``: readable projects or screens whose name (or description) contains
    ``needle``, with the number of readable images each holds."""
    if resource not in ("project", "screen"):
        raise InvalidInput(f"No data for table {resource}", param="resource")
    table = resource_table(resource)
    where: list[ColumnElement[bool]] = [readable(actor, table)]
    if needle:
        pattern = func.lower(literal(like_pattern(needle)))
        matched: ColumnElement[bool] = func.lower(table.c.name).like(pattern, escape="\\")
        if use_description:
            matched = or_(matched, func.lower(table.c.description).like(pattern, escape="\\"))
        where.append(matched)
    found = []
    for id_, name, description in conn.execute(
        select(table.c.id, table.c.name, table.c.description).where(*where).order_by(table.c.id)
    ):
        images = select(func.count(distinct(image.c.id))).where(
            image.c.id.in_(_images_of(actor, resource, select(literal(id_)))),
            readable(actor, image),
        )
        found.append(Container(id_, name, resource, description, conn.scalar(images) or 0))
    return found


@dataclass(frozen=True, slots=True)
class TextHits:
    """The webgateway search's hits: images (as listed rows), datasets and projects."""

    images: list[ImageRow]
    datasets: list[tuple[int, str, str | None]]
    projects: list[tuple[int, str, str | None]]


def text_hits(
    conn: Connection, actor: Actor, needle: str, *, images_only: bool, limit: int, offset: int = 0
) -> TextHits:
    """Images, datasets and projects with ``needle`` in their name, description or a pair."""
    image_ids = _text_ids(conn, actor, image, needle, limit=limit, offset=offset)
    by_id = listing.image_rows(conn, image_ids)
    found = TextHits([by_id[i] for i in image_ids if i in by_id], [], [])
    if not images_only:
        for kind, table_ in (("dataset", dataset), ("project", project)):
            ids = _text_ids(conn, actor, table_, needle, limit=limit, offset=offset)
            rows = conn.execute(
                select(table_.c.id, table_.c.name, table_.c.description)
                .where(table_.c.id.in_(ids))
                .order_by(table_.c.id)
            )
            getattr(found, f"{kind}s").extend(tuple(r) for r in rows)
    return found


def _text_ids(
    conn: Connection, actor: Actor, table: Table, needle: str, *, limit: int, offset: int = 0
) -> list[int]:
    """Ids of readable ``table`` objects with ``needle`` in their name, description or a
    readable pair's value (the webgateway's ``search/``)."""
    pattern = func.lower(literal(like_pattern(needle)))
    text_match = or_(
        func.lower(table.c.name).like(pattern, escape="\\"),
        func.lower(table.c.description).like(pattern, escape="\\")
        if "description" in table.c
        else false(),
    )
    resource = table.name
    pairs = _pair_owners(actor, resource, _contains(conn, needle, False))
    statement = (
        select(table.c.id)
        .where(or_(text_match, table.c.id.in_(pairs)), readable(actor, table))
        .order_by(table.c.id)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.scalars(statement))


# -- bulk loading (tests, benchmarks) ---------------------------------------------------------
