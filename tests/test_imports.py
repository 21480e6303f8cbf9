"""The import service on both backends: every format becomes Images (or a Plate) with
OME-Zarr pixels, statistics and a Fileset; bad input, killed imports and in-place
registration outside an import root leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from tests.apidata import PASSWORD, fast_passwords, new_group, new_user  # noqa: F401

from pyomero.errors import BadFile, InvalidInput, NotFound, SecurityViolation
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts, rendering
from pyomero.services.imports import ImportTarget, import_files, sweep_incoming
from pyomero.store import schema
from pyomero.testing import images

COUNTED = ("image", "pixels", "channel", "fileset", "originalfile", "plate", "well", "dataset")


@pytest.fixture
def alice(instance):
    new_group(instance, "lab", GroupLevel.READ_ANNOTATE)
    new_user(instance, "alice", ["lab"])
    return accounts.login(instance, username="alice", password=PASSWORD)


def counts(instance) -> dict[str, int]:
    with instance.db.read() as conn:
        return {
            name: conn.scalar(select(func.count()).select_from(schema.metadata.tables[name]))
            for name in COUNTED
        }


def leftovers(instance) -> list[str]:
    root = instance.settings.data_dir
    found = []
    for sub in ("pixels", "files", ".incoming"):
        base = root / sub
        if base.exists():
            found += [str(p.relative_to(root)) for p in base.iterdir()]
    return found


def pixels_of(ctx, image_id: int, *, c: int = 0, z: int = 0, t: int = 0, level: int = 0):
    view = rendering.open_image(ctx, image_id)
    size = view.levels[level]
    assert view.source is not None
    return view.source.region(
        level=level, z=z, c=c, t=t, x=0, y=0, width=size.size_x, height=size.size_y
    )


def test_ome_tiff_becomes_an_image_with_zarr_pixels_stats_and_fileset(instance, alice, tmp_path):
    path = images.write_ome_tiff(
        tmp_path / "cells.ome.tiff",
        size_x=300,
        size_y=200,
        size_z=3,
        size_c=2,
        dtype="uint16",
        channel_names=["DAPI", "GFP"],
        emission=[450.0, 520.0],
        physical_size=(0.5, 0.5, 2.0),
    )
    (created,) = import_files(alice, [path])
    assert created.kind == "Image"
    view = rendering.open_image(alice, created.id)
    record = view.record
    assert (record.size_x, record.size_y, record.size_z, record.size_c) == (300, 200, 3, 2)
    assert record.pixel_type == "uint16"
    assert record.channel_names == ("DAPI", "GFP")
    assert record.store == "ome-zarr"
    for c in range(2):
        for z in range(3):
            expected = images.expected_plane(size_x=300, size_y=200, c=c, z=z, t=0, dtype="uint16")
            np.testing.assert_array_equal(pixels_of(alice, created.id, c=c, z=z), expected)
    stack = [
        images.expected_plane(size_x=300, size_y=200, c=1, z=z, t=0, dtype="uint16")
        for z in range(3)
    ]
    info = record.info.channels[1]
    assert (info.stats_min, info.stats_max) == (float(np.min(stack)), float(np.max(stack)))
    # imported defaults: wavelengths 450/520 -> blue, green; window = statistics
    assert [b.color.hex for b in view.rdef.channels] == ["0000FF", "00FF00"]
    assert view.rdef.channels[1].start == info.stats_min
    # the original file is kept, byte for byte, under files/
    stored = list((instance.settings.data_dir / "files").rglob("cells.ome.tiff"))
    assert len(stored) == 1 and stored[0].read_bytes() == path.read_bytes()
    assert counts(instance)["fileset"] == 1 and counts(instance)["originalfile"] == 1
    assert not (instance.settings.data_dir / ".incoming").exists() or not list(
        (instance.settings.data_dir / ".incoming").iterdir()
    )


def test_png_and_plain_tiff_and_zarr(instance, alice, tmp_path):
    png = images.write_png(tmp_path / "photo.png", size_x=64, size_y=48, size_c=3)
    tif = images.write_tiff(tmp_path / "stack.tif", size_x=32, size_y=16, pages=4)
    zarr = images.write_ome_zarr(tmp_path / "img.zarr", size_x=40, size_y=30, size_c=2)
    created = import_files(alice, [png, tif, zarr])
    assert [c.kind for c in created] == ["Image", "Image", "Image"]
    sizes = [rendering.open_image(alice, c.id).record for c in created]
    assert (sizes[0].size_x, sizes[0].size_y, sizes[0].size_c) == (64, 48, 3)
    assert (sizes[1].size_x, sizes[1].size_z) == (32, 4)
    assert (sizes[2].size_x, sizes[2].size_y, sizes[2].size_c) == (40, 30, 2)


def test_large_image_gets_a_pyramid(instance, alice, tmp_path):
    path = images.write_ome_tiff(tmp_path / "big.ome.tiff", size_x=2100, size_y=1300, dtype="uint8")
    (created,) = import_files(alice, [path])
    view = rendering.open_image(alice, created.id)
    sizes = [(lv.size_x, lv.size_y) for lv in view.levels]
    assert sizes[0] == (2100, 1300)
    assert len(sizes) >= 3 and max(sizes[-1]) <= 256
    assert all(a[0] > b[0] for a, b in zip(sizes, sizes[1:], strict=False))


def test_hcs_zarr_plate_becomes_plate_wells_and_samples_linked_to_screen(instance, alice, tmp_path):
    from pyomero.model.commands import SaveRequest  # noqa: F401 - the screen via services
    from pyomero.services import objects

    screen = objects.save_container(
        alice,
        SaveRequest(kind="Screen", id=None, values={"name": "s"}, group_id=alice.actor.group_id),
    )
    plate = images.write_ome_zarr_plate(tmp_path / "plate.zarr", rows=2, columns=3, fields=2)
    (created,) = import_files(alice, [plate], target=ImportTarget(screen_id=screen.id))
    assert created.kind == "Plate"
    with instance.db.read() as conn:
        wells = conn.scalar(
            select(func.count()).select_from(schema.well).where(schema.well.c.plate == created.id)
        )
        samples = conn.scalar(select(func.count()).select_from(schema.wellsample))
        linked = conn.scalar(
            select(func.count())
            .select_from(schema.screenplatelink)
            .where(schema.screenplatelink.c.parent == screen.id)
        )
    assert wells >= 1 and samples == counts(instance)["image"] and linked == 1


def test_dataset_target_by_id_and_by_name(instance, alice, tmp_path):
    a = images.write_png(tmp_path / "a.png", size_x=8, size_y=8)
    b = images.write_png(tmp_path / "b.png", size_x=8, size_y=8)
    (first,) = import_files(alice, [a], target=ImportTarget(dataset_name="new set"))
    (second,) = import_files(alice, [b], target=ImportTarget(dataset_name="new set"))
    with instance.db.read() as conn:
        rows = conn.execute(
            select(schema.datasetimagelink.c.parent, schema.datasetimagelink.c.child)
        ).all()
    assert counts(instance)["dataset"] == 1
    assert {r.child for r in rows} == {first.id, second.id} and len({r.parent for r in rows}) == 1
    with pytest.raises(NotFound):
        import_files(alice, [a], target=ImportTarget(dataset_id=999999))


def test_cannot_link_into_anothers_dataset_in_a_read_only_group(instance, tmp_path):
    from pyomero.model.commands import SaveRequest
    from pyomero.services import objects

    new_group(instance, "ro", GroupLevel.READ_ONLY)
    new_user(instance, "owner", ["ro"])
    new_user(instance, "other", ["ro"])
    owner = accounts.login(instance, username="owner", password=PASSWORD)
    other = accounts.login(instance, username="other", password=PASSWORD)
    dataset = objects.save_container(
        owner,
        SaveRequest(kind="Dataset", id=None, values={"name": "d"}, group_id=owner.actor.group_id),
    )
    before = counts(instance)
    png = images.write_png(tmp_path / "a.png", size_x=8, size_y=8)
    with pytest.raises(SecurityViolation):
        import_files(other, [png], target=ImportTarget(dataset_id=dataset.id))
    assert counts(instance) == before and leftovers(instance) == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "unsupported", "broken-zarr"])
def test_bad_files_fail_cleanly_and_leave_nothing(instance, alice, tmp_path, damage):
    good = images.write_png(tmp_path / "good.png", size_x=8, size_y=8)
    if damage == "truncated":
        bad = images.write_ome_tiff(tmp_path / "bad.ome.tiff", size_x=512, size_y=512, size_c=2)
        images.truncate(bad, 0.5)
    elif damage == "garbage":
        bad = tmp_path / "bad.tif"
        bad.write_bytes(b"II*\x00" + os.urandom(2000))
    elif damage == "unsupported":
        bad = tmp_path / "notes.txt"
        bad.write_text("not an image")
    else:
        bad = images.write_ome_zarr(tmp_path / "bad.zarr", size_x=40, size_y=30)
        for chunk in bad.rglob("*"):
            if chunk.is_file() and chunk.name[0].isdigit():
                chunk.write_bytes(b"\x00garbage")
    before = counts(instance)
    with pytest.raises(BadFile) as failure:
        import_files(alice, [good, bad])
    assert bad.name in str(failure.value)
    assert counts(instance) == before
    assert leftovers(instance) == []
    assert good.exists() and bad.exists()  # a copy import never touches the sources


def test_missing_path_and_bad_transfer(instance, alice, tmp_path):
    with pytest.raises(BadFile):
        import_files(alice, [tmp_path / "nowhere.tif"])
    with pytest.raises(InvalidInput):
        import_files(alice, [tmp_path], transfer="teleport")


def test_in_place_registration_reads_the_file_where_it_is(instance, alice, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    path = images.write_ome_tiff(root / "inplace.ome.tiff", size_x=64, size_y=32, size_c=2)
    outside = images.write_png(tmp_path / "outside.png", size_x=8, size_y=8)
    (root / "escape.png").symlink_to(outside)
    with pytest.raises(SecurityViolation):  # no import root configured
        import_files(alice, [path], transfer="ln_s")
    instance.settings = instance.settings.with_values(import_roots=str(root))
    for refused in (outside, root / ".." / "outside.png", root / "escape.png"):
        with pytest.raises(SecurityViolation):
            import_files(alice, [refused], transfer="ln_s")
    with pytest.raises(InvalidInput):
        import_files(alice, [Path("root/inplace.ome.tiff")], transfer="ln_s")
    (created,) = import_files(alice, [path], transfer="ln_s")
    record = rendering.open_image(alice, created.id).record
    assert record.store != "ome-zarr" and record.path == str(path.resolve())
    expected = images.expected_plane(size_x=64, size_y=32, c=1, z=0, t=0, dtype="uint16")
    np.testing.assert_array_equal(pixels_of(alice, created.id, c=1), expected)
    assert not any((instance.settings.data_dir / "pixels").iterdir())  # nothing copied


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from pyomero.services import accounts, imports
    from pyomero.services.instance import load_instance

    instance = load_instance(Path(sys.argv[1]))
    ctx = accounts.login(instance, username="alice", password=sys.argv[3])
    where = sys.argv[4]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "rename":
        original = Path.rename

        def rename(self, target):
            result = original(self, target)
            die()
            return result

        Path.rename = rename
        imports.import_files(ctx, [Path(sys.argv[2])])
    else:
        imports.import_files(ctx, [Path(sys.argv[2])], progress=die)
    """
)


@pytest.mark.parametrize("where", ["writing", "rename"])
def test_a_killed_import_is_swept_at_the_next_start(instance, alice, tmp_path, where):
    path = images.write_ome_tiff(tmp_path / "k.ome.tiff", size_x=1500, size_y=1500, size_c=2)
    before = counts(instance)
    script = tmp_path / "killer.py"
    script.write_text(_KILLER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, str(script), str(instance.settings.data_dir), str(path), PASSWORD, where],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert leftovers(instance) != []  # the kill left staging (and maybe moved) directories
    assert sweep_incoming(instance) == 1
    assert leftovers(instance) == []
    assert counts(instance) == before
