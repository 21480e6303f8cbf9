"""The plate grid of ``/webgateway/plate/<id>/[<field>/]`` (spec webgateway-idr.md 4.2).

OMERO.web's ``PlateGrid.metadata`` shapes a plate into rows x columns of image cells, with
labels from ``PlateWrapper.getRowLabels``/``getColumnLabels``. The service gathers the wells and
images; this module only arranges them, so the rules (grid size per layout, label conventions,
cell keys) are in one testable place.

Grid size follows ``PlateWrapper.getGridSize``: ``max(row)+1`` x ``max(column)+1`` over every
well of the plate. OMERO does not look at the plate's declared ``rows``/``columns``; they are
used here only for a plate without wells, where OMERO fails with a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyomero.errors import InvalidInput
from pyomero.model.plates import row_letters

LAYOUTS = ("expand", "shrink", "trim")
#: ``omero.web.plate_layout`` default.
DEFAULT_LAYOUT = "expand"
#: ``PlateGrid`` expands to ``8*2^k x 12*2^k`` (``setGridSizeConstraints(8, 12)``).
BASE_ROWS, BASE_COLUMNS = 8, 12
THUMB_PREFIX = "/webgateway/render_thumbnail/"

Label = str | int


def row_label(index: int, convention: str | None) -> Label:
    """Rows are letters unless the plate's ``rowNamingConvention`` is ``number`` (any case);
    numbers are JSON integers from 1, as OMERO returns ``range(1, n + 1)``."""
    if convention is not None and convention.lower() == "number":
        return index + 1
    return row_letters(index)


def column_label(index: int, convention: str | None) -> Label:
    """Columns are integers from 1 unless ``columnNamingConvention`` is ``letter`` (any case)."""
    if convention is not None and convention.lower() == "letter":
        return row_letters(index)
    return index + 1


def parse_plate_layout(value: str | None, default: str = DEFAULT_LAYOUT) -> str:
    """``?layout=``: anything but ``expand``, ``shrink`` or ``trim`` means the configured
    default, as in ``plateGrid_json``."""
    return value if value in LAYOUTS else default


def _expand(rows: int, columns: int) -> tuple[int, int]:
    """The smallest ``8*2^k x 12*2^k`` holding ``rows x columns``."""
    factor = 1
    while rows > BASE_ROWS * factor or columns > BASE_COLUMNS * factor:
        factor *= 2
    return BASE_ROWS * factor, BASE_COLUMNS * factor


def grid_shape(
    layout: str,
    rows_cols: Sequence[tuple[int, int]],
    plate_rows: int | None,
    plate_columns: int | None,
) -> tuple[int, int, int, int]:
    """``(row_offset, col_offset, n_rows, n_cols)`` of the grid for the positions of all wells.

    ``trim``: 0..max; ``expand``: trim grown to ``8*2^k x 12*2^k``; ``shrink``: trim without the
    rows and columns before the first well (offsets = minimum row and column).
    """
    if layout not in LAYOUTS:
        raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}", param="layout")
    if rows_cols:
        rows = max(r for r, _ in rows_cols) + 1
        columns = max(c for _, c in rows_cols) + 1
    else:
        rows, columns = plate_rows or 0, plate_columns or 0
    if layout == "expand":
        return (0, 0, *_expand(rows, columns))
    if layout == "shrink" and rows_cols:
        row_offset = min(r for r, _ in rows_cols)
        col_offset = min(c for _, c in rows_cols)
        return row_offset, col_offset, rows - row_offset, columns - col_offset
    return 0, 0, rows, columns


@dataclass(frozen=True, slots=True)
class GridCell:
    """One well's image at the requested field, as the service found it."""

    row: int
    column: int
    well_id: int
    image_id: int
    name: str
    description: str | None
    author: str  # "First Last" of the image owner
    date_seconds: int  # acquisition date if > 0, else creation time; seconds
    size_x: int | None = None
    size_y: int | None = None


def _cell(cell: GridCell, *, field: int, thumb_url: str) -> dict[str, object]:
    return {
        "type": "Image",
        "id": cell.image_id,
        "name": cell.name,
        "description": cell.description or "",
        "author": cell.author,
        "date": cell.date_seconds,
        "wellId": cell.well_id,
        "field": field,
        "thumb_url": thumb_url,
    }


def thumb_url(image_id: int, size: int | None, prefix: str = THUMB_PREFIX) -> str:
    """``reverse("webgateway_render_thumbnail", args=(id[, size]))``."""
    return f"{prefix}{image_id}/" if size is None else f"{prefix}{image_id}/{size}/"


def plate_grid(
    cells: Sequence[GridCell],
    *,
    layout: str,
    row_naming: str | None,
    column_naming: str | None,
    plate_rows: int | None,
    plate_columns: int | None,
    field: int,
    thumb_size: int | None,
    wells: Sequence[tuple[int, int]] | None = None,
    thumb_prefix: str = THUMB_PREFIX,
) -> dict[str, object]:
    """``{"grid", "collabels", "rowlabels", "image_sizes"}`` as ``PlateGrid.metadata``.

    ``wells`` are the (row, column) of every well of the plate, with or without an image at
    this field: they size the grid and, for ``shrink``, its offsets. Default: the cells'.
    ``image_sizes`` describes the first cell (OMERO takes the first query row) or is empty.
    """
    positions = list(wells) if wells is not None else []
    positions.extend((c.row, c.column) for c in cells)
    row_offset, col_offset, n_rows, n_cols = grid_shape(
        layout, positions, plate_rows, plate_columns
    )
    grid: list[list[dict[str, object] | None]] = [[None] * n_cols for _ in range(n_rows)]
    for cell in cells:
        url = thumb_url(cell.image_id, thumb_size, thumb_prefix)
        grid[cell.row - row_offset][cell.column - col_offset] = _cell(
            cell, field=field, thumb_url=url
        )
    image_sizes: list[dict[str, int]] = []
    first = cells[0] if cells else None
    if first is not None and first.size_x is not None and first.size_y is not None:
        image_sizes.append({"x": first.size_x, "y": first.size_y, "image_id": first.image_id})
    return {
        "grid": grid,
        "collabels": [
            column_label(i, column_naming) for i in range(col_offset, col_offset + n_cols)
        ],
        "rowlabels": [row_label(i, row_naming) for i in range(row_offset, row_offset + n_rows)],
        "image_sizes": image_sizes,
    }
