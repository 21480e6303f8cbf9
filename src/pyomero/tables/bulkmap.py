"""Bulk-annotation rows turned into key-value pairs, as omero-metadata's ``bulkmap`` does.

A bulk-annotation table names Wells and Images in its id columns; ``bulkmap`` writes each
row's values onto those objects as MapAnnotations. With a YAML configuration (the IDR's
``bulkmap-config.yml``) the values are chosen, renamed and grouped by namespace, and
annotations that share a *primary key* are written once and linked to every object they
describe (one ``Gene`` annotation per gene, shared by all its images). The rules are those
of omero-py's ``metadata_utils`` and ``metadata_mapannotations`` (read for their behaviour):

Configuration (one YAML document)::

    defaults:                       # for every column not configured otherwise
      include: no                   # include (default yes), includeclient, visible,
      omitempty: yes                # omitempty, split, clientname, clientvalue,
    columns:                        # position, type
      - name: Characteristics [Organism]
        clientname: Organism
      - group:
          namespace: openmicroscopy.org/mapr/gene
          columns:
            - name: Gene Symbol
            - name: Gene Identifier
              clientvalue: https://www.ncbi.nlm.nih.gov/gene/?term={{ value|urlencode }}
    advanced:
      primary_group_keys:
        - namespace: openmicroscopy.org/mapr/gene
          keys: [Gene Identifier]
      ignore_missing_primary_key: yes
      well_to_images: yes

- Each ``group`` gives one annotation per row in its namespace; the top-level columns (and,
  if ``defaults.include``, every column named nowhere) give one in the bulk-annotation
  namespace. Within a group, ``position`` (1-based) places a column; the others fill the
  gaps in order.
- A value's key is ``clientname`` or the column name, prefixed ``__`` when not ``visible``;
  ``split`` cuts it into several values; ``omitempty`` drops empty ones; ``clientvalue``
  rewrites it, ``{{ value }}`` standing for the value (``{{ value|urlencode }}`` for it
  URL-quoted). Only these two forms exist here: the configuration is data a user uploads
  to a server, so it is never run as a template.
- In a namespace with primary keys, annotations whose primary-key pairs agree are one
  annotation: pairs not yet in it are appended, and it is linked to every object. Existing
  annotations of that namespace (those the caller's group already holds) take part, so a
  second run links to them instead of duplicating them. A row missing a primary key is an
  error, or is skipped with ``ignore_missing_primary_key``.

Everything that does not fit is :class:`~pyomero.errors.InvalidInput`, before anything is
written. This module reads no database.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pyomero.errors import InvalidInput

NS_BULK = "openmicroscopy.org/omero/bulk_annotations"
NS_BULK_CONFIG = NS_BULK + "/config"

#: Every column option and its default (omero-py's ``get_default_cfg``).
COLUMN_DEFAULTS: dict[str, Any] = {
    "clientvalue": None,
    "includeclient": True,
    "include": True,
    "split": False,
    "type": "string",
    "visible": True,
    "position": -1,
    "clientname": None,
    "omitempty": False,
}
ADVANCED_KEYS = ("primary_group_keys", "ignore_missing_primary_key", "well_to_images")
_VALUE = re.compile(r"\{\{\s*value\s*\}\}")
_VALUE_URLENCODE = re.compile(r"\{\{\s*value\s*\|\s*urlencode\s*\}\}")
_ANY_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


def _fail(message: str) -> InvalidInput:
    return InvalidInput(f"bulkmap configuration: {message}", param="cfg")


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """One configured (or defaulted) column, every option filled in."""

    name: str
    clientname: str | None
    clientvalue: str | None
    include: bool
    split: str | None
    visible: bool
    position: int
    omitempty: bool

    def pairs(self, value: Any) -> list[tuple[str, str]]:
        """The (key, value) pairs this column gives for one cell."""
        key = self.clientname or self.name
        if not self.visible:
            key = f"__{key}"
        text = "" if value is None else str(value)
        values = [v.strip() for v in text.split(self.split)] if self.split else [text]
        if self.omitempty:
            values = [v for v in values if v.strip()]
        if self.clientvalue is not None:
            values = [_client_value(self.clientvalue, v) for v in values]
        return [(key, v) for v in values]


def _client_value(template: str, value: str) -> str:
    filled = _VALUE_URLENCODE.sub(lambda _: quote(value, safe="/"), template)
    return _VALUE.sub(lambda _: value, filled)


@dataclass(frozen=True, slots=True)
class Group:
    """The columns of one annotation per row, in output order, with their table index."""

    namespace: str
    columns: tuple[tuple[ColumnRule, int], ...]

    def pairs(self, row: Sequence[Any]) -> list[tuple[str, str]]:
        return [pair for rule, index in self.columns for pair in rule.pairs(row[index])]


@dataclass(frozen=True, slots=True)
class BulkmapConfig:
    defaults: dict[str, Any]
    columns: tuple[dict[str, Any], ...]  # top-level column options, as given
    groups: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]  # (namespace, columns)
    primary_keys: dict[str, tuple[str, ...]]
    ignore_missing_primary_key: bool = False
    well_to_images: bool = False

    @property
    def namespaces(self) -> list[str]:
        return [ns for ns, _ in self.groups] + [NS_BULK]


def parse_config(text: str) -> BulkmapConfig:
    """A YAML configuration, checked as omero-py checks it, with clear messages."""
    import yaml

    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise _fail(f"not valid YAML ({exc})") from None
    if len(documents) != 1:
        raise _fail(f"expected one YAML document, found {len(documents)}")
    (document,) = documents
    if not isinstance(document, dict):
        raise _fail("the document must be a mapping with defaults, columns and advanced")
    unknown = set(document) - {"version", "defaults", "columns", "advanced"}
    if unknown:
        raise _fail(f"unknown section(s) {sorted(map(str, unknown))}")
    defaults = _defaults(document.get("defaults"))
    raw_columns = document.get("columns") or []
    if not document.get("defaults") and not raw_columns:
        raise _fail("defaults and columns are both empty")
    if not isinstance(raw_columns, list):
        raise _fail("columns must be a list")
    columns: list[dict[str, Any]] = []
    groups: list[tuple[str, tuple[dict[str, Any], ...]]] = []
    for item in raw_columns:
        if isinstance(item, dict) and "group" in item:
            groups.append(_group(item))
        else:
            columns.append(_column(item, defaults))
    advanced = document.get("advanced") or {}
    if not isinstance(advanced, dict):
        raise _fail("advanced must be a mapping")
    unknown = set(advanced) - set(ADVANCED_KEYS)
    if unknown:
        raise _fail(f"unknown advanced option(s) {sorted(map(str, unknown))}")
    return BulkmapConfig(
        defaults=defaults,
        columns=tuple(columns),
        groups=tuple((ns, tuple(_column(c, defaults) for c in cols)) for ns, cols in groups),
        primary_keys=_primary_keys(advanced.get("primary_group_keys")),
        ignore_missing_primary_key=_flag(advanced, "ignore_missing_primary_key"),
        well_to_images=_flag(advanced, "well_to_images"),
    )


def _flag(options: Mapping[str, Any], name: str) -> bool:
    value = options.get(name, False)
    if not isinstance(value, bool):
        raise _fail(f"{name} must be yes or no, not {value!r}")
    return value


def _defaults(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _fail("defaults must be a mapping")
    invalid = set(raw) - set(COLUMN_DEFAULTS)
    if invalid:
        raise _fail(f"invalid key(s) in column defaults: {sorted(map(str, invalid))}")
    for option in ("include", "includeclient", "visible", "omitempty"):
        if not isinstance(raw.get(option, True), bool):
            raise _fail(f"option `{option}` of the defaults must be yes or no")
    return {**COLUMN_DEFAULTS, **raw}


def _group(item: dict[str, Any]) -> tuple[str, tuple[dict[str, Any], ...]]:
    group = item["group"]
    if len(item) != 1 or not isinstance(group, dict):
        raise _fail(f"a group must be {{group: {{namespace, columns}}}}, not {item!r}")
    missing = {"namespace", "columns"} - set(group)
    if missing:
        raise _fail(f"required key(s) missing from group configuration: {sorted(missing)}")
    invalid = set(group) - {"namespace", "columns"}
    if invalid:
        raise _fail(f"invalid key(s) in group configuration: {sorted(map(str, invalid))}")
    if not group["namespace"] or not isinstance(group["namespace"], str):
        raise _fail(f"empty namespace in group configuration: {group!r}")
    if not group["columns"] or not isinstance(group["columns"], list):
        raise _fail(f"empty columns in group configuration: {group!r}")
    nested = [c for c in group["columns"] if isinstance(c, dict) and "group" in c]
    if nested:
        raise _fail("groups cannot be nested")
    return group["namespace"], tuple(group["columns"])


def _column(raw: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(f"a column must be a mapping with a name, not {raw!r}")
    if "name" not in raw:
        raise _fail(f"required key(s) missing from column configuration: ['name'] in {raw!r}")
    if not raw["name"] or not isinstance(raw["name"], str):
        raise _fail(f"empty name in column configuration: {raw!r}")
    invalid = set(raw) - set(COLUMN_DEFAULTS) - {"name"}
    if invalid:
        raise _fail(f"invalid key(s) in column configuration: {sorted(map(str, invalid))}")
    filled = {**defaults, **raw}
    for option in ("include", "includeclient", "visible", "omitempty"):
        if not isinstance(filled[option], bool):
            raise _fail(f"option `{option}` of {raw['name']!r} must be yes or no")
    if filled["includeclient"] and not filled["include"]:
        raise _fail(f"option `includeclient` requires option `include` ({raw['name']!r})")
    if isinstance(filled["position"], bool) or not isinstance(filled["position"], int):
        raise _fail(f"option `position` of {raw['name']!r} must be an int")
    if filled["split"] is not False and not (isinstance(filled["split"], str) and filled["split"]):
        raise _fail(f"option `split` of {raw['name']!r} must be a separator string")
    for option in ("clientname", "clientvalue", "type"):
        if filled[option] is not None and not isinstance(filled[option], str):
            raise _fail(f"option `{option}` of {raw['name']!r} must be a string")
    template = filled["clientvalue"]
    if template is not None:
        leftover = _ANY_TEMPLATE.search(_VALUE.sub("", _VALUE_URLENCODE.sub("", template)))
        if leftover:
            raise _fail(
                f"clientvalue of {raw['name']!r}: {leftover.group()} is not supported "
                "(use {{ value }} or {{ value|urlencode }})"
            )
    return filled


def _primary_keys(raw: Any) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _fail("primary_group_keys must be a list")
    keys: dict[str, tuple[str, ...]] = {}
    for item in raw:
        if not isinstance(item, dict) or "namespace" not in item or "keys" not in item:
            raise _fail(f"invalid primary_group_keys: {item!r}")
        names = item["keys"]
        if not names:
            continue
        if not isinstance(names, list) or not all(isinstance(k, str) for k in names):
            raise _fail("primary_group_keys keys must be a list of names")
        if item["namespace"] in keys:
            raise _fail(f"duplicate namespace in primary_group_keys: {item['namespace']}")
        keys[item["namespace"]] = tuple(names)
    return keys


def _rule(options: Mapping[str, Any]) -> ColumnRule:
    return ColumnRule(
        name=options["name"],
        clientname=options["clientname"],
        clientvalue=options["clientvalue"],
        include=options["include"],
        split=options["split"] or None,
        visible=options["visible"],
        position=options["position"],
        omitempty=options["omitempty"],
    )


def output_groups(config: BulkmapConfig, headers: Sequence[str]) -> list[Group]:
    """One :class:`Group` per configured namespace, then the bulk-annotation namespace."""
    index = {name: i for i, name in enumerate(headers)}
    named: set[str] = set()

    def placed(columns: Iterable[Mapping[str, Any]], with_unnamed: bool) -> list[Any]:
        positioned: dict[int, tuple[ColumnRule, int]] = {}
        rest: deque[tuple[ColumnRule, int]] = deque()
        for options in columns:
            named.add(options["name"])
            if not options["include"]:
                continue
            if options["name"] not in index:
                raise _fail(f"column {options['name']!r} is not in the table")
            entry = (_rule(options), index[options["name"]])
            if options["position"] > 0:
                if options["position"] in positioned:
                    raise _fail(f"multiple columns for position {options['position']}")
                positioned[options["position"]] = entry
            else:
                rest.append(entry)
        if with_unnamed and config.defaults["include"]:
            for name in headers:
                if name not in named:
                    rest.append((_rule({**config.defaults, "name": name}), index[name]))
        ordered: list[tuple[ColumnRule, int]] = []
        for position in range(1, max(positioned, default=0) + 1):
            if position in positioned:
                ordered.append(positioned[position])
            elif rest:
                ordered.append(rest.popleft())
            else:
                raise _fail(f"no column for position {position}")
        return ordered + list(rest)

    groups = [Group(ns, tuple(placed(columns, False))) for ns, columns in config.groups]
    groups.append(Group(NS_BULK, tuple(placed(config.columns, True))))
    return groups


@dataclass(slots=True)
class PlannedMap:
    """One MapAnnotation to write (``existing_id`` None) or to extend and link."""

    namespace: str
    pairs: list[tuple[str, str]]
    parents: dict[tuple[str, int], None] = field(default_factory=dict)
    existing_id: int | None = None
    original_pairs: int = 0  # how many of ``pairs`` an existing annotation already had

    @property
    def changed(self) -> bool:
        return len(self.pairs) != self.original_pairs


class MapPlan:
    """Collects annotations row by row, merging those that share a primary key."""

    def __init__(self, primary_keys: Mapping[str, Sequence[str]]) -> None:
        self.primary_keys = {ns: frozenset(keys) for ns, keys in primary_keys.items()}
        self.keyed: dict[tuple[str, frozenset[tuple[str, str]]], PlannedMap] = {}
        self.unkeyed: list[PlannedMap] = []

    def _primary(
        self, namespace: str, pairs: Sequence[tuple[str, str]]
    ) -> tuple[str, frozenset[tuple[str, str]]] | None:
        keys = self.primary_keys.get(namespace)
        if not keys:
            return None
        missing = keys - {k for k, _ in pairs}
        if missing:
            raise KeyError(sorted(missing))
        return namespace, frozenset((k, v) for k, v in pairs if k in keys)

    def seed(self, annotation_id: int, namespace: str, pairs: Sequence[tuple[str, str]]) -> None:
        """An annotation already in the database that later rows may share."""
        try:
            primary = self._primary(namespace, pairs)
        except KeyError:
            return  # it cannot match any row, so it plays no part
        if primary is None or primary in self.keyed:
            return
        self.keyed[primary] = PlannedMap(
            namespace, list(pairs), existing_id=annotation_id, original_pairs=len(pairs)
        )

    def add(
        self, namespace: str, pairs: list[tuple[str, str]], parents: Iterable[tuple[str, int]]
    ) -> None:
        """Raises KeyError (the missing keys) when a primary key is absent."""
        if not pairs:
            return
        if len(set(pairs)) != len(pairs):
            raise InvalidInput(f"duplicate key-value pairs in one annotation: {pairs}")
        primary = self._primary(namespace, pairs)
        if primary is None:
            planned = PlannedMap(namespace, pairs)
            planned.parents.update(dict.fromkeys(parents))
            self.unkeyed.append(planned)
            return
        current = self.keyed.get(primary)
        if current is None:
            current = self.keyed[primary] = PlannedMap(namespace, pairs)
        else:
            have = set(current.pairs)
            current.pairs += [p for p in pairs if p not in have]
        current.parents.update(dict.fromkeys(parents))

    def annotations(self) -> list[PlannedMap]:
        return [m for m in self.keyed.values() if m.parents or m.changed] + self.unkeyed
