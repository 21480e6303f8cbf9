"""A CSV as omero-metadata's ``populate`` reads it, turned into bulk-annotation columns.

The rules are omero-metadata's (``omero_metadata/populate.py``: ``HeaderResolver``,
``ValueResolver``):

- An optional first row ``# header s,well,plate,d,l,b,image,dataset,roi`` gives the type of
  each column (``d`` double, ``l`` long, ``s`` string, ``b`` boolean; the others are ids).
- Without it, the types are detected as omero-metadata's ``detect_headers`` does (its
  default since 0.11): ``Plate``, ``Well``, ``Image``, ``Dataset``, ``Roi``, ``Image ID``,
  ``Dataset ID``, ``Roi ID``, ``Plate Name`` and ``Well Name`` (any case; space, underscore
  or nothing before ``ID``/``Name``) name objects; every other column is ``l`` when all its
  cells are integers, ``d`` when all are numbers, ``b`` when all are ``true``/``false``,
  else ``s``. Where pandas would make a number column with empty cells a double column of
  NaNs, which omero-metadata then refuses, a column with an empty cell is ``s`` here.
- With ``manual_header`` (omero-metadata's ``--manual_header``) and no ``# header`` row,
  only the known names of the target are typed, by name (case-insensitive): for a Screen
  ``plate``, ``well``, ``image``/``field``/``wellsample``, ``row``/``column``; for a Plate
  the same without ``plate``; for a Dataset or Project ``image``; every other column is a
  string.
- ``Name%%description`` gives a column its description (``key=value`` becomes JSON).
- Id columns are renamed ``Plate``, ``Well``, ``Image``, ``Roi`` and get a name column
  appended (``Plate Name``, ``Well Name``, ``Image Name``, ``Roi Name``); an ``Image Name``
  column gets an ``Image`` id column appended. Well and Image columns together are refused.
- Wells are written ``A1``/``b12``; a Screen's wells are found in the plate of the row's
  Plate column. ``row``/``column`` long columns are 1-based (or letters) in the CSV and
  stored 0-based. Booleans are true for ``yes``, ``true``, ``t``, ``1``.

Where omero-metadata quietly writes ``-1`` for a well or image it cannot find (or skips the
row), pyomero refuses the whole CSV and names the rows, so that no half-resolved table is
ever attached. Names are resolved through a :class:`Resolver` the service passes in: this
module reads no database.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pyomero.errors import InvalidInput
from pyomero.model.plates import row_index, row_letters
from pyomero.tables.storage import Column

HEADER_PREFIX = re.compile(r"^\s*#\s*header\s+", re.IGNORECASE)
TYPE_CODES = {
    "plate": "PlateColumn",
    "well": "WellColumn",
    "image": "ImageColumn",
    "dataset": "DatasetColumn",
    "roi": "RoiColumn",
    "d": "DoubleColumn",
    "l": "LongColumn",
    "s": "StringColumn",
    "b": "BoolColumn",
}
_SPW_KEYS = {
    "well": "WellColumn",
    "field": "ImageColumn",
    "row": "LongColumn",
    "column": "LongColumn",
    "wellsample": "ImageColumn",
    "image": "ImageColumn",
}
#: Columns typed by name when the CSV has no ``# header`` row, per target.
KEYS = {
    "Screen": {"plate": "PlateColumn", **_SPW_KEYS},
    "Plate": _SPW_KEYS,
    "Dataset": {"image": "ImageColumn"},
    "Project": {"image": "ImageColumn"},
}
BOOLEAN_TRUE = ("yes", "true", "t", "1")
#: Names that automatic detection types as object columns (``detect_headers``).
DETECTED_NAMES = {
    **{kind: kind for kind in ("well", "plate", "image", "dataset", "roi")},
    **{f"{kind}{sep}id": kind for kind in ("image", "dataset", "roi") for sep in (" ", "", "_")},
    **{f"{kind}{sep}name": kind for kind in ("plate", "well") for sep in (" ", "", "_")},
}
#: The spellings of booleans that pandas reads as such.
DETECTED_BOOLEANS = ("True", "TRUE", "true", "False", "FALSE", "false")
INTEGER = re.compile(r"^[+-]?\d+$")
LONG_RANGE = (-(2**63), 2**63 - 1)
WELL = re.compile(r"^([a-zA-Z]+)(\d+)$")
MAX_COLUMNS = 512
#: How many unresolved references an error lists before "and N more".
MAX_REPORTED = 10

ID_NAMES = {
    "PlateColumn": ("Plate", "Plate Name"),
    "WellColumn": ("Well", "Well Name"),
    "ImageColumn": ("Image", "Image Name"),
    "RoiColumn": ("Roi", "Roi Name"),
}


class Resolver(Protocol):
    """Finds the objects a CSV names, inside the target only; each returns (id, name) or None.

    A value of digits may be an id or a name; the resolver decides (name first).
    """

    def plate(self, value: str) -> tuple[int, str] | None: ...

    def well(self, plate_id: int | None, row: int, column: int) -> int | None: ...

    def well_position(self, well_id: int, plate_id: int | None) -> tuple[int, int] | None:
        """(row, column) of a well given by id, or None."""
        ...

    def image(
        self, value: str, *, plate_id: int | None, dataset_id: int | None
    ) -> tuple[int, str] | None: ...

    def dataset(self, value: str) -> tuple[int, str] | None: ...

    def roi(self, value: str) -> tuple[int, str] | None: ...


@dataclass(frozen=True, slots=True)
class _Header:
    name: str
    kind: str
    description: str
    source: int | None  # the CSV column it comes from; None for an added name/id column


def read_csv(text: str) -> tuple[list[str] | None, list[str], list[list[str]]]:
    """The ``# header`` types (or None), the column names and the data rows of a CSV."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise InvalidInput("the CSV is empty", param="file")
    types: list[str] | None = None
    if HEADER_PREFIX.match(rows[0][0]):
        types = [HEADER_PREFIX.sub("", rows[0][0]).strip().lower()]
        types += [cell.strip().lower() for cell in rows[0][1:]]
        rows = rows[1:]
        if not rows:
            raise InvalidInput("the CSV has a # header row but no column names", param="file")
    names = [n.strip() for n in rows[0]]
    data = rows[1:]
    if types is not None:
        unknown = [t for t in types if t not in TYPE_CODES]
        if unknown:
            raise InvalidInput(
                f"unknown column type {unknown[0]!r} in # header (known: {', '.join(TYPE_CODES)})",
                param="file",
            )
        if len(types) != len(names):
            raise InvalidInput("Number of columns and column types not equal.", param="file")
    if len(names) > MAX_COLUMNS:
        raise InvalidInput(f"the CSV has more than {MAX_COLUMNS} columns", param="file")
    for number, row in enumerate(data, start=2 + (types is not None)):
        if len(row) != len(names):
            raise InvalidInput(
                f"line {number} has {len(row)} fields; the header has {len(names)}",
                param="file",
            )
    return types, names, data


def detect_types(names: Sequence[str], data: Sequence[Sequence[str]]) -> list[str]:
    """The ``# header`` codes omero-metadata's automatic detection gives these columns."""
    return [
        DETECTED_NAMES.get(name.strip().lower()) or _detected_code([row[i] for row in data])
        for i, name in enumerate(names)
    ]


def _detected_code(cells: Sequence[str]) -> str:
    values = [cell.strip() for cell in cells]
    if not values or any(not value for value in values):
        return "s"
    if all(INTEGER.match(v) and LONG_RANGE[0] <= int(v) <= LONG_RANGE[1] for v in values):
        return "l"
    if all(_is_number(v) for v in values):
        return "d"
    if all(v in DETECTED_BOOLEANS for v in values):
        return "b"
    return "s"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _headers(target: str, types: list[str] | None, names: list[str]) -> list[_Header]:
    keys = KEYS[target]
    headers: list[_Header] = []
    for i, raw in enumerate(names):
        name, description = raw, ""
        if "%%" in raw:
            name, description = (part.strip() for part in raw.split("%%", 1))
            if "=" in description:
                key, value = description.split("=", 1)
                description = json.dumps({key.strip(): value.strip()})
        if not name:
            raise InvalidInput(f"column {i + 1} has no name", param="file")
        kind = TYPE_CODES[types[i]] if types is not None else keys.get(name.lower(), "StringColumn")
        headers.append(_Header(name, kind, description, i))
    kinds = {h.kind for h in headers}
    if "WellColumn" in kinds and "ImageColumn" in kinds:
        raise InvalidInput(
            "Well Column and Image Column cannot be resolved at the same time. Pick one.",
            param="file",
        )
    appended: list[_Header] = []
    for index, header in enumerate(headers):
        if header.kind in ID_NAMES:
            id_name, name_column = ID_NAMES[header.kind]
            headers[index] = _Header(id_name, header.kind, header.description, header.source)
            appended.append(_Header(name_column, "StringColumn", "", None))
        elif header.name == "Image Name" and header.kind == "StringColumn":
            appended.append(_Header("Image", "ImageColumn", "", None))
    final = headers + appended
    seen: set[str] = set()
    for header in final:
        if header.name in seen:
            raise InvalidInput(f"the column {header.name!r} appears twice", param="file")
        seen.add(header.name)
    return final


def _value(kind: str, name: str, text: str, where: str) -> Any:
    text = text.strip()
    if kind == "StringColumn":
        return text
    if kind == "BoolColumn":
        return text.lower() in BOOLEAN_TRUE
    if not text:
        raise InvalidInput(f"{where}: empty value in {kind[:-6].lower()} column {name!r}")
    try:
        if kind == "DoubleColumn":
            return float(text)
        if kind == "LongColumn" and name.lower() in ("row", "column") and text.isalpha():
            return row_index(text)
        value = int(text)
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a number (column {name!r})") from None
    return value - 1 if name.lower() in ("row", "column") else value


@dataclass
class _Row:
    number: int
    cells: list[str]
    values: dict[str, Any]


def columns_from_csv(
    text: str, *, target: str, resolver: Resolver, target_name: str, manual_header: bool = False
) -> list[Column]:
    """The table columns of a CSV for a ``target`` ("Screen", "Plate", "Dataset",
    "Project") named ``target_name``; :class:`InvalidInput` naming every unresolved row.

    Without a ``# header`` row the column types are detected from names and values, or,
    with ``manual_header``, only the target's known names are typed."""
    if target not in KEYS:
        raise InvalidInput(f"cannot populate a {target}", param="target")
    types, names, data = read_csv(text)
    first_line = 3 if types is not None else 2
    if types is None and not manual_header:
        types = detect_types(names, data)
    headers = _headers(target, types, names)
    rows = [_Row(first_line + i, cells, {}) for i, cells in enumerate(data)]
    plate_header = next((h for h in headers if h.kind == "PlateColumn"), None)
    if target == "Plate" and plate_header is not None and plate_header.source is not None:
        # A Plate's table keeps only its own rows of a screen-wide CSV (omero-metadata).
        column = plate_header.source
        rows = [r for r in rows if r.cells[column].strip() == target_name]
    if not rows:
        raise InvalidInput("the CSV has no data rows", param="file")
    missing: list[str] = []
    for row in rows:
        _resolve_row(row, headers, resolver, missing)
    if missing:
        shown = "; ".join(missing[:MAX_REPORTED])
        more = f" (and {len(missing) - MAX_REPORTED} more)" if len(missing) > MAX_REPORTED else ""
        raise InvalidInput(
            f"the CSV names objects not found in {target} {target_name!r}: "
            f"{shown}{more}; nothing was created",
            param="file",
        )
    return [
        Column(h.name, h.kind, [r.values[h.name] for r in rows], h.description) for h in headers
    ]


def _resolve_row(
    row: _Row, headers: Sequence[_Header], resolver: Resolver, missing: list[str]
) -> None:
    """Fill ``row.values``: plain values first, then plates, datasets, wells, images, ROIs
    (each may need the one before), then the added name columns."""
    where = f"line {row.number}"
    names: dict[str, str] = {}
    plate_id: int | None = None
    dataset_id: int | None = None
    by_kind = sorted(headers, key=lambda h: _ORDER.get(h.kind, 0))
    for header in by_kind:
        if header.source is None:
            continue
        cell = row.cells[header.source].strip()
        kind = header.kind
        if kind not in ("PlateColumn", "WellColumn", "ImageColumn", "DatasetColumn", "RoiColumn"):
            row.values[header.name] = _value(kind, header.name, cell, where)
            if header.name.lower() in ("dataset", "dataset name") and kind == "StringColumn":
                found = resolver.dataset(cell)
                dataset_id = found[0] if found else None
            continue
        found_id: int | None = None
        if kind == "PlateColumn":
            plate = resolver.plate(cell)
            if plate is not None:
                found_id, names["Plate Name"] = plate
                plate_id = found_id
            else:
                missing.append(f"{where}: Plate {cell!r}")
        elif kind == "DatasetColumn":
            dataset = resolver.dataset(cell)
            if dataset is not None:
                found_id, dataset_id = dataset[0], dataset[0]
            else:
                missing.append(f"{where}: Dataset {cell!r}")
        elif kind == "WellColumn":
            found_id = _well(cell, plate_id, resolver, names)
            if found_id is None:
                missing.append(f"{where}: Well {cell!r}")
        elif kind == "ImageColumn":
            image = resolver.image(cell, plate_id=plate_id, dataset_id=dataset_id)
            if image is not None:
                found_id, names["Image Name"] = image
            else:
                missing.append(f"{where}: Image {cell!r}")
        else:
            roi = resolver.roi(cell)
            if roi is not None:
                found_id, names["Roi Name"] = roi
            else:
                missing.append(f"{where}: Roi {cell!r}")
        row.values[header.name] = -1 if found_id is None else found_id
    for header in headers:
        if header.source is not None:
            continue
        if header.kind == "ImageColumn":  # from an Image Name column
            image = resolver.image(
                str(row.values.get("Image Name", "")), plate_id=plate_id, dataset_id=dataset_id
            )
            if image is None:
                missing.append(f"{where}: Image {row.values.get('Image Name')!r}")
            row.values[header.name] = image[0] if image else -1
        else:
            row.values[header.name] = names.get(header.name, "")


_ORDER = {"PlateColumn": 1, "DatasetColumn": 1, "WellColumn": 2, "ImageColumn": 3, "RoiColumn": 4}


def _well(cell: str, plate_id: int | None, resolver: Resolver, names: dict[str, str]) -> int | None:
    """A well written ``A1`` (in the row's plate, or the target plate), or a well id."""
    match = WELL.match(cell)
    if match is not None:
        row, column = row_index(match.group(1)), int(match.group(2)) - 1
        found = resolver.well(plate_id, row, column)
        if found is not None:
            names["Well Name"] = f"{row_letters(row).lower()}{column + 1}"
        return found
    if cell.isdigit():
        position = resolver.well_position(int(cell), plate_id)
        if position is not None:
            names["Well Name"] = f"{row_letters(position[0]).lower()}{position[1] + 1}"
            return int(cell)
    return None
