"""Wells, plate acquisitions (runs) and wellsample indices (spec assertions 52-56, 2.6)."""

from __future__ import annotations

from apidata import (
    SCHEMA,
    M,
    add_empty_well,
    add_plate,
    add_run,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    make_lab,
    names,
    sqlite_only,
    unsafe_json,
    url,
)


@sqlite_only
def test_plate_wells(instance, make_client):
    """52-53. Wells of two plates: samples with images (no Pixels), runs iff the plate has
    runs, column-major order."""
    lab = make_lab(instance, make_client)
    plates = [  # (ids, rows, columns, runs)
        (
            add_plate(instance, lab.uid, lab.gid, "No runs", rows=1, columns=2, acquisitions=0),
            1,
            2,
            0,
        ),
        (
            add_plate(instance, lab.uid, lab.gid, "One run", rows=2, columns=3, acquisitions=1),
            2,
            3,
            1,
        ),
    ]
    body = get_json(lab.api, f"{M}/wells/")
    assert len(body["data"]) == 8 and body["meta"]["totalCount"] == 8
    for plate, rows, columns, runs in plates:
        body = get_json(lab.api, f"{M}/wells/?plate={plate.plate_id}")
        wells = body["data"]
        assert len(wells) == rows * columns
        assert body["meta"]["totalCount"] == rows * columns
        sample = wells[0]["WellSamples"][0]
        assert sample["@type"] == f"{SCHEMA}#WellSample"
        assert "Image" in sample
        assert "Pixels" not in sample["Image"]
        assert ("PlateAcquisition" in sample) is bool(runs)
        if runs:
            assert sample["PlateAcquisition"]["@id"] == plate.acquisition_ids[0]
            assert sample["PlateAcquisition"]["Name"] == "Run 1"
        for well in wells:
            assert well["url:well"] == url(f"wells/{well['@id']}/")
            assert well["@type"] == f"{SCHEMA}#Well"
            (only,) = well["WellSamples"]
            assert only["Image"]["url:image"] == url(f"images/{only['Image']['@id']}/")
        # column first, then row; bulk ids are row-major (well_ids[row * columns + column])
        column_major = [(c, r) for c in range(columns) for r in range(rows)]
        assert [(w["Column"], w["Row"]) for w in wells] == column_major
        assert ids(wells) == [plate.well_ids[r * columns + c] for c, r in column_major]
        assert get_json(lab.api, f"{M}/plates/{plate.plate_id}/wells/")["data"] == wells


def test_plate_index_wells(instance, make_client):
    """54-55. Two runs x three fields: the plate's and each run's wellsample indices."""
    lab = make_lab(instance, make_client)
    plate = add_plate(
        instance, lab.uid, lab.gid, "Plate", rows=2, columns=1, fields=3, acquisitions=2
    )
    pid = plate.plate_id
    single = get_json(lab.api, f"{M}/plates/{pid}/")["data"]
    assert single["url:plateacquisitions"] == url(f"plates/{pid}/plateacquisitions/")
    assert single["url:wells"] == url(f"plates/{pid}/wells/")
    assert single["url:screens"] == url(f"plates/{pid}/screens/")
    assert single["omero:wellsampleIndex"] == [0, 5]
    assert single["url:wellsampleindex_wells"] == [
        url(f"plates/{pid}/wellsampleindex/{i}/wells/") for i in range(6)
    ]
    assert (single["Rows"], single["Columns"], single["FieldIndex"]) == (2, 1, 0)
    body = get_json(lab.api, single["url:plateacquisitions"])
    runs = body["data"]
    assert names(runs) == ["Run 1", "Run 2"]
    assert ids(runs) == plate.acquisition_ids
    assert body["meta"]["totalCount"] == 2
    for p, run in enumerate(runs):
        assert run["@type"] == f"{SCHEMA}#PlateAcquisition"
        assert run["omero:wellsampleIndex"] == [3 * p, 3 * p + 2]
        assert run["url:wellsampleindex_wells"] == [
            url(f"plateacquisitions/{run['@id']}/wellsampleindex/{i}/wells/")
            for i in range(3 * p, 3 * p + 3)
        ]
        assert run["url:plateacquisition"] == url(f"plateacquisitions/{run['@id']}/")
        assert run["MaximumFieldCount"] == 3
        one = get_json(lab.api, run["url:plateacquisition"])["data"]
        assert one["omero:wellsampleIndex"] == run["omero:wellsampleIndex"]
        assert one["url:wellsampleindex_wells"] == run["url:wellsampleindex_wells"]
        assert set(k for k in one if k.startswith("url:")) == {"url:wellsampleindex_wells"}
    # the wells of one index embed only that sample
    wells = get_json(lab.api, single["url:wellsampleindex_wells"][4])["data"]
    assert ids(wells) == plate.well_ids
    for well in wells:
        (sample,) = well["WellSamples"]
        assert sample["PlateAcquisition"]["@id"] == plate.acquisition_ids[1]
    # the wells of a run embed only the run's samples
    wells = get_json(lab.api, f"{M}/plateacquisitions/{runs[0]['@id']}/wells/")["data"]
    assert ids(wells) == plate.well_ids
    for well in wells:
        assert len(well["WellSamples"]) == 3
        assert {s["PlateAcquisition"]["@id"] for s in well["WellSamples"]} == {runs[0]["@id"]}
    # a run's index URL embeds the one sample at that index
    wells = get_json(lab.api, runs[1]["url:wellsampleindex_wells"][0])["data"]
    assert ids(wells) == plate.well_ids
    assert [len(w["WellSamples"]) for w in wells] == [1, 1]
    # an index past the end
    body = get_json(lab.api, f"{M}/plates/{pid}/wellsampleindex/6/wells/")
    assert body["data"] == [] and body["meta"]["totalCount"] == 0


@sqlite_only
def test_run_index_outside_the_run(instance, make_client):
    """A run's index URL lists only wells with a sample of that run *at* that index."""
    lab = make_lab(instance, make_client)
    plate = add_plate(
        instance, lab.uid, lab.gid, "Plate", rows=2, columns=1, fields=3, acquisitions=2
    )
    first_run = plate.acquisition_ids[0]  # indices 0..2; index 4 belongs to the second run
    body = get_json(lab.api, f"{M}/plateacquisitions/{first_run}/wellsampleindex/4/wells/")
    assert body["data"] == []
    assert body["meta"]["totalCount"] == 0


@sqlite_only
def test_well(instance, make_client):
    """56. A single well loads its images' Pixels; an empty well has no WellSamples key."""
    lab = make_lab(instance, make_client)
    plate = add_plate(instance, lab.uid, lab.gid, "Plate", fields=3)
    (wid,) = plate.well_ids
    well = get_json(lab.api, f"{M}/wells/{wid}/")["data"]
    assert len(well["WellSamples"]) == 3
    assert ids(well["WellSamples"]) == plate.wellsample_ids
    image = well["WellSamples"][0]["Image"]
    assert image["@id"] == plate.image_ids[0]
    assert image["Pixels"]["Type"]["value"] == "uint8"
    assert image["url:image"] == url(f"images/{plate.image_ids[0]}/")
    assert well["url:plates"] == url(f"wells/{wid}/plates/")
    assert (well["Column"], well["Row"]) == (0, 0)
    empty = add_empty_well(instance, lab.uid, lab.gid, plate.plate_id, row=0, column=1)
    body = get_json(lab.api, f"{M}/wells/{empty}/")["data"]
    assert "WellSamples" not in body
    assert (body["@id"], body["Column"], body["Row"]) == (empty, 1, 0)
    # the empty well is listed too, after the first column
    assert ids(get_json(lab.api, f"{M}/plates/{plate.plate_id}/wells/")["data"]) == [wid, empty]
    error_body(get_json(lab.api, f"{M}/wells/999999/", 404), "Well 999999 not found")


@sqlite_only
def test_plate_acquisition_without_samples(instance, make_client):
    """A run without samples has ``omero:wellsampleIndex: []`` (OMERO raises a 500); DELETE
    of a run takes its samples."""
    lab = make_lab(instance, make_client)
    plate = add_plate(instance, lab.uid, lab.gid, "Plate", acquisitions=1)
    empty_run = add_run(instance, lab.uid, lab.gid, plate.plate_id, "Another run")
    body = get_json(lab.api, f"{M}/plates/{plate.plate_id}/plateacquisitions/")
    assert names(body["data"]) == ["Another run", "Run 1"]
    empty = body["data"][0]
    assert empty["omero:wellsampleIndex"] == []
    assert empty["url:wellsampleindex_wells"] == []
    single = get_json(lab.api, f"{M}/plateacquisitions/{empty_run}/")["data"]
    assert single["omero:wellsampleIndex"] == [] and single["url:wellsampleindex_wells"] == []
    assert get_json(lab.api, f"{M}/plateacquisitions/{empty_run}/wells/")["data"] == []
    # a plate without any sample
    bare = add_plate(instance, lab.uid, lab.gid, "Bare plate")
    run = bare.acquisition_ids[0]
    deleted = unsafe_json(lab.api, "DELETE", f"{M}/plateacquisitions/{run}/", 200)["data"]
    assert deleted["@id"] == run
    error_body(
        get_json(lab.api, f"{M}/plateacquisitions/{run}/", 404), f"PlateAcquisition {run} not found"
    )
    plate_json = get_json(lab.api, f"{M}/plates/{bare.plate_id}/")["data"]
    assert (
        plate_json["omero:wellsampleIndex"] == [] and plate_json["url:wellsampleindex_wells"] == []
    )
    (well,) = get_json(lab.api, f"{M}/plates/{bare.plate_id}/wells/")["data"]
    assert "WellSamples" not in well
