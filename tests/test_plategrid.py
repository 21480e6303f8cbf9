"""Plate grid shaping (wire/plategrid.py; spec 4.2, assertions 54-62)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyomero.errors import InvalidInput
from pyomero.model.plates import row_letters
from pyomero.wire import plategrid as pg


@pytest.mark.parametrize(
    ("index", "label"),
    [
        (0, "A"),
        (1, "B"),
        (25, "Z"),
        (26, "AA"),
        (27, "AB"),
        (51, "AZ"),
        (52, "BA"),
        (100, "CW"),
        (701, "ZZ"),
        (702, "AAA"),
    ],
)
def test_letter_labels(index, label):
    assert row_letters(index) == label
    assert pg.row_label(index, None) == label
    assert pg.row_label(index, "letter") == label
    assert pg.column_label(index, "Letter") == label


def test_number_labels_are_integers():
    assert pg.row_label(0, "number") == 1
    assert pg.row_label(7, "NUMBER") == 8
    assert pg.column_label(0, None) == 1
    assert pg.column_label(11, "number") == 12


@given(st.integers(0, 20000), st.integers(0, 20000))
def test_letter_labels_are_injective(a, b):
    assert (row_letters(a) == row_letters(b)) == (a == b)


def wells(rows: int, cols: int) -> list[tuple[int, int]]:
    return [(r, c) for r in range(rows) for c in range(cols)]


@pytest.mark.parametrize(
    ("positions", "shape"),
    [
        (wells(8, 12), (0, 0, 8, 12)),
        (wells(16, 24), (0, 0, 16, 24)),
        (wells(32, 48), (0, 0, 32, 48)),
        ([(0, 0)], (0, 0, 8, 12)),
        ([(2, 3), (4, 5)], (0, 0, 8, 12)),
        ([(8, 0)], (0, 0, 16, 24)),
        ([(0, 12)], (0, 0, 16, 24)),
        ([(0, 30)], (0, 0, 32, 48)),
        ([], (0, 0, 8, 12)),
    ],
)
def test_expand(positions, shape):
    assert pg.grid_shape("expand", positions, None, None) == shape


def test_trim_and_shrink():
    positions = [(2, 3), (4, 5), (3, 9)]
    assert pg.grid_shape("trim", positions, 16, 24) == (0, 0, 5, 10)
    assert pg.grid_shape("shrink", positions, 16, 24) == (2, 3, 3, 7)
    # a plate without wells: OMERO fails; the declared size is used instead
    assert pg.grid_shape("trim", [], 16, 24) == (0, 0, 16, 24)
    assert pg.grid_shape("shrink", [], None, None) == (0, 0, 0, 0)


def test_unknown_layout():
    assert pg.parse_plate_layout("bogus") == "expand"
    assert pg.parse_plate_layout(None, "trim") == "trim"
    assert pg.parse_plate_layout("shrink") == "shrink"
    with pytest.raises(InvalidInput) as info:
        pg.grid_shape("bogus", [], None, None)
    assert info.value.param == "layout"


def cell(row: int, col: int, image_id: int, **kw: object) -> pg.GridCell:
    values: dict[str, object] = {
        "row": row,
        "column": col,
        "well_id": 1000 + image_id,
        "image_id": image_id,
        "name": f"img{image_id}",
        "description": None,
        "author": "Ada Lovelace",
        "date_seconds": 1_600_000_000,
        "size_x": 696,
        "size_y": 520,
    }
    values.update(kw)
    return pg.GridCell(**values)  # type: ignore[arg-type]


def grid(cells, **kw):
    args = {
        "layout": "expand",
        "row_naming": "letter",
        "column_naming": "number",
        "plate_rows": 8,
        "plate_columns": 12,
        "field": 0,
        "thumb_size": None,
    }
    args.update(kw)
    return pg.plate_grid(cells, **args)


def test_plate_grid_shape_and_cells():
    cells = [cell(0, 0, 11, description="d"), cell(1, 2, 12), cell(7, 11, 13)]
    out = grid(cells)
    assert set(out) == {"grid", "collabels", "rowlabels", "image_sizes"}
    assert out["rowlabels"] == list("ABCDEFGH")
    assert out["collabels"] == list(range(1, 13))
    assert len(out["grid"]) == len(out["rowlabels"])
    assert all(len(row) == len(out["collabels"]) for row in out["grid"])
    assert out["grid"][0][0] == {
        "type": "Image",
        "id": 11,
        "name": "img11",
        "description": "d",
        "author": "Ada Lovelace",
        "date": 1_600_000_000,
        "wellId": 1011,
        "field": 0,
        "thumb_url": "/webgateway/render_thumbnail/11/",
    }
    assert out["grid"][1][2]["description"] == ""
    assert out["grid"][7][11]["id"] == 13
    assert sum(c is not None for row in out["grid"] for c in row) == 3
    assert out["image_sizes"] == [{"x": 696, "y": 520, "image_id": 11}]


def test_thumb_size_and_field():
    out = grid([cell(0, 0, 5)], thumb_size=64, field=2)
    assert out["grid"][0][0]["thumb_url"] == "/webgateway/render_thumbnail/5/64/"
    assert out["grid"][0][0]["field"] == 2


def test_empty_field_has_null_cells_and_no_image_sizes():
    out = grid([], wells=wells(8, 12))
    assert (len(out["grid"]), len(out["grid"][0])) == (8, 12)
    assert all(c is None for row in out["grid"] for c in row)
    assert out["image_sizes"] == []


def test_384_well_plate_expands_to_16_by_24():
    out = grid([cell(10, 20, 1)], wells=wells(16, 24))
    assert (len(out["rowlabels"]), len(out["collabels"])) == (16, 24)
    assert out["rowlabels"][-1] == "P"


def test_trim_and_shrink_labels_and_offsets():
    cells = [cell(2, 3, 1), cell(4, 5, 2)]
    trimmed = grid(cells, layout="trim")
    assert trimmed["rowlabels"] == list("ABCDE")
    assert trimmed["collabels"] == [1, 2, 3, 4, 5, 6]
    shrunk = grid(cells, layout="shrink", wells=[(2, 4), (3, 3)])
    assert shrunk["rowlabels"] == ["C", "D", "E"]
    assert shrunk["collabels"] == [4, 5, 6]
    assert shrunk["grid"][0][0]["id"] == 1
    assert shrunk["grid"][2][2]["id"] == 2


def test_number_rows_and_letter_columns():
    out = grid([cell(0, 0, 1)], layout="trim", row_naming="number", column_naming="letter")
    assert (out["rowlabels"], out["collabels"]) == ([1], ["A"])


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 60)), min_size=1, max_size=30))
def test_every_cell_lands_in_the_grid(positions):
    cells = [cell(r, c, i) for i, (r, c) in enumerate(positions)]
    for layout in pg.LAYOUTS:
        out = grid(cells, layout=layout)
        ids = {c["id"] for row in out["grid"] for c in row if c is not None}
        last = {}
        for i, pos in enumerate(positions):
            last[pos] = i
        assert ids == set(last.values())
        assert len(out["grid"]) == len(out["rowlabels"])
        assert all(len(row) == len(out["collabels"]) for row in out["grid"])
