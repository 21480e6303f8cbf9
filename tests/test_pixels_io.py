"""Reading image files and the instance's OME-Zarr pixel store (pixels/formats, zarr_store).

Every writer of ``pyomero.testing.images`` stores a known formula, so each round trip checks
exact pixel values, not just shapes.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pyomero.errors import BadFile
from pyomero.model.rendering import NUMPY_DTYPE, PIXEL_TYPES
from pyomero.pixels.formats import group_filesets, open_fileset, open_in_place
from pyomero.pixels.source import Level, PixelSource
from pyomero.pixels.zarr_store import (
    StoredSource,
    level_sizes,
    open_stored,
    quick_stats,
    write_ome_zarr,
)
from pyomero.testing import images as ti


def whole(source: PixelSource, *, level: int = 0, z: int = 0, c: int = 0, t: int = 0) -> np.ndarray:
    size = source.levels[level]
    return source.region(
        level=level, z=z, c=c, t=t, x=0, y=0, width=size.size_x, height=size.size_y
    )


def reference_downsample(a: np.ndarray) -> np.ndarray:
    """2x2 mean rounded half up (integers), mean (floats), or (bit); odd edges dropped."""
    h, w = (
        a.shape[0] // 2 * 2 if a.shape[0] > 1 else 1,
        a.shape[1] // 2 * 2 if a.shape[1] > 1 else 1,
    )
    fy, fx = (2 if a.shape[0] > 1 else 1), (2 if a.shape[1] > 1 else 1)
    parts = [a[dy:h:fy, dx:w:fx] for dy in range(fy) for dx in range(fx)]
    if a.dtype == np.bool_:
        return np.logical_or.reduce(parts)
    if a.dtype.kind == "f":
        return (sum(p.astype(np.float64) for p in parts) / len(parts)).astype(a.dtype)
    total = sum(p.astype(np.int64) for p in parts)
    return ((total + len(parts) // 2) // len(parts)).astype(a.dtype)


# --- OME-TIFF -------------------------------------------------------------------------------


def test_ome_tiff_metadata_and_pixels(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "cells.ome.tiff", size_x=70, size_y=50, size_z=3, size_c=2, size_t=2,
        channel_names=["DAPI", "GFP"], channel_colors=[(0, 0, 255, 255), (0, 255, 0, 128)],
        emission=[461.0, 510.0], physical_size=(0.25, 0.5, 2.0),
        acquisition_date=datetime(2021, 3, 4, 5, 6, 7),
    )  # fmt: skip
    fileset = open_fileset([path])
    assert fileset.format == "OME-TIFF"
    assert fileset.files == [path]
    assert fileset.plate is None
    (ref,) = fileset.images
    meta = ref.meta
    assert meta.name == "cells.ome.tiff"
    assert meta.acquisition_date == datetime(2021, 3, 4, 5, 6, 7)
    assert (meta.physical_size_x, meta.physical_size_y, meta.physical_size_z) == (0.25, 0.5, 2.0)
    assert [c.name for c in meta.channels] == ["DAPI", "GFP"]
    assert [c.color for c in meta.channels] == [(0, 0, 255, 255), (0, 255, 0, 128)]
    assert [c.emission_wavelength for c in meta.channels] == [461.0, 510.0]
    source = fileset.open_series(ref.series)
    assert (source.size_x, source.size_y, source.size_z, source.size_c, source.size_t) == (
        70, 50, 3, 2, 2,
    )  # fmt: skip
    assert source.pixel_type == "uint16"
    region = source.region(level=0, z=2, c=1, t=1, x=5, y=7, width=40, height=30)
    expected = ti.expected_plane(size_x=70, size_y=50, z=2, c=1, t=1, x=5, y=7, width=40, height=30)
    np.testing.assert_array_equal(region, expected)
    fileset.close()


def test_ome_tiff_units_are_converted(tmp_path: Path) -> None:
    import tifffile

    meta = {"axes": "YX", "PhysicalSizeX": 250, "PhysicalSizeXUnit": "nm",
            "PhysicalSizeY": 0.001, "PhysicalSizeYUnit": "mm",
            "Channel": {"EmissionWavelength": [0.52], "EmissionWavelengthUnit": ["µm"]}}  # fmt: skip
    path = tmp_path / "units.ome.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), ome=True, metadata=meta)
    image = open_fileset([path]).images[0].meta
    assert image.physical_size_x == pytest.approx(0.25)
    assert image.physical_size_y == pytest.approx(1.0)
    assert image.channels[0].emission_wavelength == pytest.approx(520.0)


def test_multi_series_ome_tiff_names_and_values(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(tmp_path / "multi.ome.tif", size_x=40, size_y=30, series=3)
    fileset = open_fileset([path])
    assert [r.meta.name for r in fileset.images] == [
        "multi.ome.tif [Image0]", "multi.ome.tif [Image1]", "multi.ome.tif [Image2]",
    ]  # fmt: skip
    for ref in fileset.images:
        source = fileset.open_series(ref.series)
        expected = ti.expected_plane(size_x=40, size_y=30, series=ref.series)
        np.testing.assert_array_equal(whole(source), expected)


def test_pyramidal_tiled_ome_tiff_levels(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "pyr.ome.tif", size_x=1100, size_y=600, size_c=2, pyramid_levels=2,
        tile=(256, 256), compression="zlib",
    )  # fmt: skip
    source = open_fileset([path]).open_series(0)
    assert source.levels == (Level(1100, 600), Level(550, 300), Level(275, 150))
    assert source.tile_size == (256, 256)
    for level in range(3):
        expected = ti.expected_plane(size_x=1100, size_y=600, c=1, level=level)
        np.testing.assert_array_equal(whole(source, level=level, c=1), expected)


def test_multi_file_ome_tiff_is_one_fileset(tmp_path: Path) -> None:
    files = ti.write_multifile_ome_tiff(tmp_path, size_x=32, size_y=24, size_z=3)
    other = ti.write_png(tmp_path / "other.png", size_x=8, size_y=8)
    groups = group_filesets([files[1], other, files[0], files[2]])
    assert [sorted(g) for g in groups] == [sorted(files), [other]]
    fileset = open_fileset(groups[0])
    assert fileset.format == "OME-TIFF"
    assert sorted(fileset.files) == sorted(files)
    (ref,) = fileset.images
    source = fileset.open_series(ref.series)
    assert source.size_z == 3
    for z in range(3):
        np.testing.assert_array_equal(
            whole(source, z=z), ti.expected_plane(size_x=32, size_y=24, z=z)
        )


def test_multi_file_ome_tiff_with_missing_companion(tmp_path: Path) -> None:
    files = ti.write_multifile_ome_tiff(tmp_path, size_x=16, size_y=16, size_z=2)
    files[1].unlink()
    with pytest.raises(BadFile, match="missing"):
        open_fileset([files[0]])


def test_stray_files_are_not_one_fileset(tmp_path: Path) -> None:
    a = ti.write_png(tmp_path / "a.png", size_x=8, size_y=8)
    b = ti.write_png(tmp_path / "b.png", size_x=8, size_y=8)
    with pytest.raises(BadFile, match="do not belong"):
        open_fileset([a, b])


def test_ome_tiff_plate_metadata(tmp_path: Path) -> None:
    import tifffile

    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        '<Plate ID="Plate:0" Name="P1" Rows="2" Columns="3" RowNamingConvention="letter" '
        'ColumnNamingConvention="number"><Well ID="Well:0" Row="1" Column="2">'
        '<WellSample ID="WellSample:0" Index="0" PositionX="5" PositionXUnit="mm">'
        '<ImageRef ID="Image:1"/></WellSample>'
        '<WellSample ID="WellSample:1" Index="1"><ImageRef ID="Image:0"/></WellSample></Well>'
        '<PlateAcquisition ID="PlateAcquisition:0" Name="run" MaximumFieldCount="2">'
        '<WellSampleRef ID="WellSample:1"/></PlateAcquisition></Plate>'
        + "".join(
            f'<Image ID="Image:{i}" Name="f{i}"><Pixels ID="Pixels:{i}" DimensionOrder="XYZCT" '
            'Type="uint8" SizeX="8" SizeY="8" SizeZ="1" SizeC="1" SizeT="1">'
            f'<Channel ID="Channel:{i}:0"/><TiffData IFD="{i}" PlaneCount="1"/></Pixels></Image>'
            for i in range(2)
        )
        + "</OME>"
    )
    path = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((8, 8), np.uint8), description=xml, metadata=None)
        tw.write(np.ones((8, 8), np.uint8), metadata=None)
    fileset = open_fileset([path])
    plate = fileset.plate
    assert plate is not None
    assert (plate.name, plate.rows, plate.columns) == ("P1", 2, 3)
    (well,) = plate.wells
    assert (well.row, well.column) == (1, 2)
    assert [f.series for f in well.fields] == [1, 0]
    assert [f.acquisition for f in well.fields] == [None, 0]
    assert well.fields[0].position_x == pytest.approx(5000.0)
    assert plate.acquisitions[0].name == "run"
    assert whole(fileset.open_series(1)).max() == 1


# --- plain TIFF, PNG, JPEG --------------------------------------------------------------------


def test_plain_tiff_single_page(tmp_path: Path) -> None:
    path = ti.write_tiff(tmp_path / "one.tif", size_x=33, size_y=17, dtype="uint8")
    fileset = open_fileset([path])
    assert fileset.format == "TIFF"
    assert fileset.images[0].meta.name == "one.tif"
    source = fileset.open_series(0)
    assert (source.size_z, source.size_c, source.pixel_type) == (1, 1, "uint8")
    np.testing.assert_array_equal(
        whole(source), ti.expected_plane(size_x=33, size_y=17, dtype="uint8")
    )


@pytest.mark.parametrize("shaped", [False, True])
def test_multi_page_tiff_pages_are_z(tmp_path: Path, shaped: bool) -> None:
    path = ti.write_tiff(tmp_path / "stack.tif", size_x=20, size_y=10, pages=4, shaped=shaped)
    source = open_fileset([path]).open_series(0)
    assert (source.size_z, source.size_c, source.size_t) == (4, 1, 1)
    np.testing.assert_array_equal(whole(source, z=3), ti.expected_plane(size_x=20, size_y=10, z=3))


@pytest.mark.parametrize("samples", [3, 4])
def test_rgb_tiff_samples_are_channels(tmp_path: Path, samples: int) -> None:
    path = ti.write_tiff(
        tmp_path / "rgb.tif", size_x=24, size_y=16, pages=2, samples=samples, dtype="uint8"
    )
    source = open_fileset([path]).open_series(0)
    assert (source.size_z, source.size_c) == (2, samples)
    for c in range(samples):
        np.testing.assert_array_equal(
            whole(source, z=1, c=c),
            ti.expected_plane(size_x=24, size_y=16, dtype="uint8", z=1, c=c),
        )


@pytest.mark.parametrize(
    ("size_c", "dtype"), [(1, "uint8"), (3, "uint8"), (4, "uint8"), (1, "uint16")]
)
def test_png(tmp_path: Path, size_c: int, dtype: str) -> None:
    path = ti.write_png(tmp_path / "p.png", size_x=30, size_y=20, size_c=size_c, dtype=dtype)
    fileset = open_fileset([path])
    assert fileset.format == "PNG"
    assert fileset.images[0].meta.name == "p.png"
    source = fileset.open_series(0)
    assert (source.size_c, source.pixel_type) == (size_c, dtype)
    for c in range(size_c):
        np.testing.assert_array_equal(
            whole(source, c=c), ti.expected_plane(size_x=30, size_y=20, dtype=dtype, c=c)
        )


def test_png_16bit_rgb(tmp_path: Path) -> None:
    import imagecodecs

    data = np.stack([ti.expected_plane(size_x=12, size_y=9, c=c) for c in range(3)], axis=-1)
    path = tmp_path / "rgb16.png"
    path.write_bytes(imagecodecs.png_encode(data))
    source = open_fileset([path]).open_series(0)
    assert (source.size_c, source.pixel_type) == (3, "uint16")
    np.testing.assert_array_equal(whole(source, c=2), data[:, :, 2])


@pytest.mark.parametrize("size_c", [1, 3])
def test_jpeg(tmp_path: Path, size_c: int) -> None:
    path = ti.write_jpeg(tmp_path / "j.jpg", size_x=40, size_y=24, size_c=size_c)
    fileset = open_fileset([path])
    assert fileset.format == "JPEG"
    source = fileset.open_series(0)
    assert (source.size_x, source.size_y, source.size_c, source.pixel_type) == (
        40, 24, size_c, "uint8",
    )  # fmt: skip
    decoded = np.asarray(Image.open(path))
    for c in range(size_c):
        plane = decoded if size_c == 1 else decoded[:, :, c]
        np.testing.assert_array_equal(whole(source, c=c), plane)


def test_format_is_detected_by_content(tmp_path: Path) -> None:
    path = ti.write_png(tmp_path / "really_a_png.tif", size_x=8, size_y=8)
    assert open_fileset([path]).format == "PNG"


# --- OME-Zarr ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.4", "0.5"])
@pytest.mark.parametrize(
    ("axes", "sizes"),
    [
        ("yx", {}),
        ("cyx", {"size_c": 2}),
        ("zyx", {"size_z": 3}),
        ("tczyx", {"size_t": 2, "size_c": 2, "size_z": 2}),
    ],
)
def test_ome_zarr_image(tmp_path: Path, version: str, axes: str, sizes: dict[str, int]) -> None:
    path = ti.write_ome_zarr(
        tmp_path / "img.zarr", size_x=40, size_y=30, axes=axes, version=version, levels=2,
        chunk=16, **sizes,
    )  # fmt: skip
    fileset = open_fileset([path])
    assert fileset.format == "OME-Zarr"
    assert path / ("zarr.json" if version == "0.5" else ".zattrs") in fileset.files
    assert all(f.is_file() for f in fileset.files)
    (ref,) = fileset.images
    assert ref.meta.name == "img.zarr"
    assert ref.meta.physical_size_x == 1.0
    source = fileset.open_series(0)
    assert source.levels == (Level(40, 30), Level(20, 15))
    assert (source.size_t, source.size_c, source.size_z) == (
        sizes.get("size_t", 1), sizes.get("size_c", 1), sizes.get("size_z", 1),
    )  # fmt: skip
    last = {k: sizes.get(f"size_{k}", 1) - 1 for k in "tcz"}
    for level in range(2):
        np.testing.assert_array_equal(
            whole(source, level=level, **last),
            ti.expected_plane(size_x=40, size_y=30, level=level, **last),
        )


def test_ome_zarr_omero_channels(tmp_path: Path) -> None:
    path = ti.write_ome_zarr(
        tmp_path / "ch.zarr", size_x=8, size_y=8, size_c=2, axes="cyx",
        channel_names=["a", "b"], channel_colors=["FF0000", "00FF00"],
    )  # fmt: skip
    channels = open_fileset([path]).images[0].meta.channels
    assert [c.name for c in channels] == ["a", "b"]
    assert [c.color for c in channels] == [(255, 0, 0, 255), (0, 255, 0, 255)]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_plate(tmp_path: Path, version: str) -> None:
    path = ti.write_ome_zarr_plate(
        tmp_path / "plate.zarr", rows=2, columns=3, fields=2, acquisitions=2, version=version
    )
    fileset = open_fileset([path])
    plate = fileset.plate
    assert plate is not None
    assert (plate.name, plate.rows, plate.columns) == ("plate", 2, 3)
    assert (plate.row_naming, plate.column_naming) == ("letter", "number")
    assert [a.name for a in plate.acquisitions] == ["Run 0", "Run 1"]
    assert [(w.row, w.column) for w in plate.wells] == [(r, c) for r in range(2) for c in range(3)]
    assert len(fileset.images) == 12
    well = plate.wells[4]  # B2
    assert [(f.series, f.acquisition) for f in well.fields] == [(8, 0), (9, 1)]
    assert fileset.images[9].meta.name == "plate.zarr [Well B2, Field 2]"
    np.testing.assert_array_equal(
        whole(fileset.open_series(9)), ti.expected_plane(size_x=32, size_y=32, series=9)
    )


def test_broken_ome_zarr(tmp_path: Path) -> None:
    path = ti.write_ome_zarr(tmp_path / "b.zarr", size_x=16, size_y=16, levels=2)
    (path / "1" / ".zarray").unlink()
    with pytest.raises(BadFile, match="b.zarr"):
        open_fileset([path])
    ti.dump_json(path / ".zattrs", {"something": "else"})
    with pytest.raises(BadFile, match="not an OME-Zarr"):
        open_fileset([path])
    (path / ".zattrs").write_text("{not json")
    with pytest.raises(BadFile, match="not valid JSON"):
        open_fileset([path])


def test_corrupt_zarr_chunk_fails_the_copy_cleanly(tmp_path: Path) -> None:
    path = ti.write_ome_zarr(tmp_path / "c.zarr", size_x=64, size_y=64, chunk=32)
    chunk = next(p for p in (path / "0").rglob("*") if p.is_file() and not p.name.startswith("."))
    chunk.write_bytes(b"garbage" * 10)
    source = open_fileset([path]).open_series(0)
    dest = tmp_path / "out.zarr"
    with pytest.raises(BadFile):
        write_ome_zarr(source, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == [path]


# --- bad input ----------------------------------------------------------------------------------


def test_truncated_tiff(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(tmp_path / "t.ome.tif", size_x=256, size_y=256, size_z=4)
    ti.truncate(path, 0.6)
    with pytest.raises(BadFile, match="truncated|corrupt"):
        open_fileset([path])


def test_truncated_tiled_tiff(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "t.ome.tif", size_x=512, size_y=512, tile=(128, 128), compression="zlib"
    )
    ti.truncate(path, 0.5)
    with pytest.raises(BadFile):
        open_fileset([path])


def test_corrupt_tiff_data_fails_the_copy_cleanly(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "x.ome.tif", size_x=256, size_y=256, tile=(128, 128), compression="zlib"
    )
    import tifffile

    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[1]
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * 64)
    source = open_fileset([path]).open_series(0)
    dest = tmp_path / "out.zarr"
    with pytest.raises(BadFile, match="cannot read pixels"):
        write_ome_zarr(source, dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ome.tif"]


@pytest.mark.parametrize("name", ["garbage.tif", "garbage.png", "garbage.bin"])
def test_garbage_file(tmp_path: Path, name: str) -> None:
    path = ti.write_garbage(tmp_path / name)
    with pytest.raises(BadFile, match="not a supported image file"):
        open_fileset([path])


def test_unsupported_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(BadFile, match=r"notes.txt is not a supported image file \(supported:"):
        open_fileset([path])
    with pytest.raises(BadFile, match="does not exist"):
        open_fileset([tmp_path / "gone.tif"])
    with pytest.raises(BadFile):
        open_fileset([tmp_path])  # a directory that is not an OME-Zarr


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_truncated_picture(tmp_path: Path, kind: str) -> None:
    if kind == "png":
        path = ti.write_png(tmp_path / "t.png", size_x=200, size_y=200, size_c=3)
    else:
        path = ti.write_jpeg(tmp_path / "t.jpg", size_x=200, size_y=200)
    ti.truncate(path, 0.5)
    with pytest.raises(BadFile):
        open_fileset([path])


# --- grouping and in-place ----------------------------------------------------------------------


def test_group_filesets_walks_directories(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    a = ti.write_tiff(folder / "a.tif", size_x=8, size_y=8)
    z = ti.write_ome_zarr(folder / "z.zarr", size_x=8, size_y=8)
    (folder / "readme.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"")
    p = ti.write_png(tmp_path / "p.png", size_x=8, size_y=8)
    assert group_filesets([folder, p]) == [[a], [z], [p]]


@pytest.mark.parametrize("kind", ["tiff", "zarr", "png"])
def test_open_in_place(tmp_path: Path, kind: str) -> None:
    if kind == "tiff":
        path = ti.write_ome_tiff(tmp_path / "i.ome.tif", size_x=20, size_y=10, series=2)
        fmt, series = "OME-TIFF", 1
    elif kind == "zarr":
        path = ti.write_ome_zarr_plate(tmp_path / "p.zarr", rows=1, columns=2, fields=1)
        fmt, series = "OME-Zarr", 1
    else:
        path = ti.write_png(tmp_path / "i.png", size_x=20, size_y=10, dtype="uint16")
        fmt, series = "PNG", 0
    source = open_in_place(fmt, path, series)
    expected = ti.expected_plane(
        size_x=source.size_x, size_y=source.size_y, series=series if kind != "png" else 0
    )
    np.testing.assert_array_equal(whole(source), expected)
    source.close()


# --- the instance's store -----------------------------------------------------------------------


def test_level_sizes() -> None:
    assert level_sizes(1024, 1024) == [(1024, 1024)]
    assert level_sizes(3000, 2000) == [
        (3000, 2000),
        (1500, 1000),
        (750, 500),
        (375, 250),
        (187, 125),
    ]
    assert level_sizes(5000, 1) == [(5000, 1), (2500, 1), (1250, 1), (625, 1), (312, 1), (156, 1)]


def test_write_ome_zarr_pyramid_values_and_stats(tmp_path: Path) -> None:
    src_path = ti.write_ome_tiff(
        tmp_path / "big.ome.tif", size_x=3000, size_y=2000, size_c=2, tile=(512, 512)
    )
    source = open_fileset([src_path]).open_series(0)
    seen: list[int] = []
    stats = write_ome_zarr(source, tmp_path / "s.zarr", progress=seen.append)
    assert seen[-1] == 3000 * 2000 * 2 * 2
    assert seen == sorted(seen)
    stored = open_stored(tmp_path / "s.zarr")
    assert isinstance(stored, StoredSource)
    assert [(lv.size_x, lv.size_y) for lv in stored.levels] == level_sizes(3000, 2000)
    assert stored.tile_size == (512, 512)
    for c in range(2):
        plane = ti.expected_plane(size_x=3000, size_y=2000, c=c)
        assert stats[c] == (float(plane.min()), float(plane.max()))
        for level in range(len(stored.levels)):
            np.testing.assert_array_equal(whole(stored, level=level, c=c), plane)
            plane = reference_downsample(plane)
    region = stored.region(level=0, z=0, c=1, t=0, x=500, y=1000, width=700, height=600)
    np.testing.assert_array_equal(
        region,
        ti.expected_plane(size_x=3000, size_y=2000, c=1, x=500, y=1000, width=700, height=600),
    )
    assert open_stored(tmp_path / "s.zarr") is stored  # cached


def test_stored_store_is_valid_ngff_for_zarr(tmp_path: Path) -> None:
    import zarr

    source = open_fileset(
        [ti.write_ome_zarr(tmp_path / "in.zarr", size_x=1100, size_y=70, size_z=2, axes="zyx")]
    ).open_series(0)
    write_ome_zarr(source, tmp_path / "s.zarr")
    attrs = json.loads((tmp_path / "s.zarr" / ".zattrs").read_text())
    assert attrs["multiscales"][0]["version"] == "0.4"
    assert [a["name"] for a in attrs["multiscales"][0]["axes"]] == list("tczyx")
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")
    stored = open_stored(tmp_path / "s.zarr")
    for level, dataset in enumerate(attrs["multiscales"][0]["datasets"]):
        array = group[dataset["path"]]
        np.testing.assert_array_equal(array[0, 0, 1], whole(stored, level=level, z=1))
    # A store not in pyomero's layout is read through zarr-python.
    other = open_stored(tmp_path / "in.zarr")
    assert not isinstance(other, StoredSource)
    np.testing.assert_array_equal(whole(other, z=1), ti.expected_plane(size_x=1100, size_y=70, z=1))


@pytest.mark.parametrize("pixel_type", PIXEL_TYPES)
def test_every_pixel_type(tmp_path: Path, pixel_type: str) -> None:
    path = ti.write_ome_zarr(
        tmp_path / "in.zarr", size_x=1100, size_y=41, size_c=2, axes="cyx", dtype=pixel_type
    )
    source = open_fileset([path]).open_series(0)
    assert source.pixel_type == pixel_type
    stats = write_ome_zarr(source, tmp_path / "s.zarr")
    stored = open_stored(tmp_path / "s.zarr")
    assert stored.pixel_type == pixel_type
    assert len(stored.levels) == 4
    for c in range(2):
        plane = ti.expected_plane(size_x=1100, size_y=41, dtype=pixel_type, c=c)
        assert plane.dtype == np.dtype(NUMPY_DTYPE[pixel_type])
        assert stats[c] == (float(plane.min()), float(plane.max()))
        for level in range(4):
            got = whole(stored, level=level, c=c)
            assert got.dtype == plane.dtype
            np.testing.assert_array_equal(got, plane)
            plane = reference_downsample(plane)
    smallest = whole(stored, level=3, c=1)
    assert quick_stats(stored)[1] == (float(smallest.min()), float(smallest.max()))


@pytest.mark.parametrize("pixel_type", ["int8", "uint16", "float", "bit"])
def test_ome_tiff_pixel_types(tmp_path: Path, pixel_type: str) -> None:
    path = ti.write_ome_tiff(tmp_path / "p.ome.tif", size_x=20, size_y=9, dtype=pixel_type)
    source = open_fileset([path]).open_series(0)
    assert source.pixel_type == pixel_type
    np.testing.assert_array_equal(
        whole(source), ti.expected_plane(size_x=20, size_y=9, dtype=pixel_type)
    )


def test_quick_stats_uses_smallest_level(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "q.ome.tif", size_x=1024, size_y=512, size_c=2, size_z=2, pyramid_levels=2
    )
    source = open_fileset([path]).open_series(0)
    stats = quick_stats(source)
    for c in range(2):
        planes = [ti.expected_plane(size_x=1024, size_y=512, c=c, z=z, level=2) for z in range(2)]
        assert stats[c] == (
            float(min(p.min() for p in planes)),
            float(max(p.max() for p in planes)),
        )


def test_write_refuses_existing_dest_and_cleans_up_on_error(tmp_path: Path) -> None:
    source = open_fileset([ti.write_png(tmp_path / "a.png", size_x=8, size_y=8)]).open_series(0)
    (tmp_path / "exists.zarr").mkdir()
    with pytest.raises(FileExistsError):
        write_ome_zarr(source, tmp_path / "exists.zarr")

    def fail(done: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_ome_zarr(source, tmp_path / "new.zarr", progress=fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "exists.zarr"]


class _MemmapSource:
    """A 2-channel uint16 source over a raw file: reading it allocates nothing on the heap."""

    def __init__(self, path: Path, size: int) -> None:
        self._data = np.memmap(path, dtype=np.uint16, mode="r", shape=(2, size, size))
        self.size_x = self.size_y = size
        self.size_z = self.size_t = 1
        self.size_c = 2
        self.pixel_type = "uint16"
        self.levels = (Level(size, size),)
        self.tile_size = (512, 512)

    def region(
        self, *, level: int, z: int, c: int, t: int, x: int, y: int, width: int, height: int
    ) -> np.ndarray:
        return self._data[c, y : y + height, x : x + width]

    def close(self) -> None:
        pass


def test_write_memory_is_bounded(tmp_path: Path) -> None:
    size = 4096
    raw = np.memmap(tmp_path / "raw", dtype=np.uint16, mode="w+", shape=(2, size, size))
    for c in range(2):
        for y in range(0, size, 1024):
            raw[c, y : y + 1024] = ti.expected_plane(
                size_x=size, size_y=size, c=c, y=y, height=1024
            )
    raw.flush()
    del raw
    source = _MemmapSource(tmp_path / "raw", size)
    tracemalloc.start()
    try:
        write_ome_zarr(source, tmp_path / "s.zarr")  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"tracemalloc peak {peak / 2**20:.1f} MB")
    assert peak < 32 << 20, f"peak {peak >> 20} MB while writing a 64 MB image"
    stored = open_stored(tmp_path / "s.zarr")
    assert len(stored.levels) == 5
    np.testing.assert_array_equal(
        stored.region(level=0, z=0, c=1, t=0, x=4000, y=3000, width=96, height=1096),
        ti.expected_plane(size_x=size, size_y=size, c=1, x=4000, y=3000, width=96, height=1096),
    )
    shutil.rmtree(tmp_path / "s.zarr")


# --- direct TIFF reads (os.pread + the page's codec) ------------------------------------------


def _regions(size_x: int, size_y: int) -> list[tuple[int, int, int, int]]:
    """Whole level, one pixel at each corner, regions across segment edges, partial edges."""
    return [
        (0, 0, size_x, size_y),
        (0, 0, 1, 1),
        (size_x - 1, size_y - 1, 1, 1),
        (size_x // 3, size_y // 3, size_x // 2, size_y // 2),
        (size_x - 37, size_y - 21, 37, 21),
        (5, size_y - 1, size_x - 5, 1),
    ]


def _check_direct(path: Path, fmt: str, dtype: str = "uint16", *, direct: bool = True) -> None:
    from pyomero.pixels.array_source import ArraySource
    from pyomero.pixels.tiff_source import TiffSource

    source = open_in_place(fmt, path, 0)
    try:
        assert isinstance(source, TiffSource)
        assert all((d is not None) == direct for d in source._direct)
        for level, size in enumerate(source.levels):
            for t in range(source.size_t):
                for z in range(source.size_z):
                    for c in range(source.size_c):
                        for x, y, w, h in _regions(size.size_x, size.size_y):
                            where = dict(level=level, z=z, c=c, t=t, x=x, y=y, width=w, height=h)
                            got = source.region(**where)  # type: ignore[arg-type]
                            slow = ArraySource.region(source, **where)  # type: ignore[arg-type]
                            assert got.dtype == slow.dtype
                            np.testing.assert_array_equal(got, slow)
                            expected = ti.expected_plane(
                                size_x=source.size_x, size_y=source.size_y, dtype=dtype,
                                z=z, c=c, t=t, level=level, x=x, y=y, width=w, height=h,
                            )  # fmt: skip
                            np.testing.assert_array_equal(got, expected)
    finally:
        source.close()


@pytest.mark.parametrize("compression", [None, "zlib", "lzw", "zstd"])
@pytest.mark.parametrize("tile", [(128, 64), None])
def test_direct_tiff_reads_ome_tiff(
    tmp_path: Path, compression: str | None, tile: tuple[int, int] | None
) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "d.ome.tif", size_x=300, size_y=170, size_z=2, size_c=2, size_t=2,
        tile=tile, compression=compression, pyramid_levels=2 if tile else 0,
    )  # fmt: skip
    _check_direct(path, "OME-TIFF")


@pytest.mark.parametrize("samples", [1, 3])
@pytest.mark.parametrize("tile", [(32, 48), None])
def test_direct_tiff_reads_plain_tiff(
    tmp_path: Path, samples: int, tile: tuple[int, int] | None
) -> None:
    path = ti.write_tiff(
        tmp_path / "p.tif", size_x=100, size_y=70, pages=2, samples=samples, tile=tile,
        compression="zlib", dtype="uint8",
    )  # fmt: skip
    _check_direct(path, "TIFF", "uint8")


def test_direct_tiff_reads_planar_big_endian_and_predictor(tmp_path: Path) -> None:
    import tifffile

    planes = np.stack([ti.expected_plane(size_x=90, size_y=60, c=c) for c in range(3)])
    tifffile.imwrite(
        tmp_path / "sep.tif", planes, planarconfig="separate", photometric="rgb", tile=(32, 32)
    )
    tifffile.imwrite(
        tmp_path / "be.tif", planes[0], byteorder=">", compression="lzw", predictor=True,
        rowsperstrip=7,
    )  # fmt: skip
    _check_direct(tmp_path / "sep.tif", "TIFF")
    _check_direct(tmp_path / "be.tif", "TIFF")


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint32", "float", "double"])
def test_direct_tiff_reads_pixel_types(tmp_path: Path, dtype: str) -> None:
    path = ti.write_ome_tiff(
        tmp_path / "t.ome.tif", size_x=80, size_y=50, size_c=2, dtype=dtype, tile=(32, 32)
    )
    _check_direct(path, "OME-TIFF", dtype)


def test_direct_tiff_reads_fall_back_for_packed_bits(tmp_path: Path) -> None:
    path = ti.write_ome_tiff(tmp_path / "b.ome.tif", size_x=80, size_y=50, dtype="bit")
    _check_direct(path, "OME-TIFF", "bit", direct=False)


def test_direct_tiff_reads_are_thread_safe(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = ti.write_ome_tiff(
        tmp_path / "m.ome.tif", size_x=512, size_y=512, size_c=3, tile=(64, 64),
        compression="zlib",
    )  # fmt: skip
    source = open_in_place("OME-TIFF", path, 0)
    jobs = [(c, x, y) for c in range(3) for x in range(0, 448, 61) for y in range(0, 448, 53)]

    def read(job: tuple[int, int, int]) -> bool:
        c, x, y = job
        got = source.region(level=0, z=0, c=c, t=0, x=x, y=y, width=64, height=64)
        expected = ti.expected_plane(size_x=512, size_y=512, c=c, x=x, y=y, width=64, height=64)
        return bool(np.array_equal(got, expected))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(read, jobs * 3))
    source.close()
