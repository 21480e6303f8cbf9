"""Datasets, screens and plates; unsupported save/delete; browsing by ``url:`` keys
(spec assertions 26-42, sections 2.3-2.6)."""

from __future__ import annotations

from apidata import (
    API,
    OWNER,
    ROOT_PASSWORD,
    SCHEMA,
    M,
    add_datasets,
    add_images,
    add_plate,
    add_tag,
    annotation_count,
    container_expected,
    container_json,
    create,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    link_dataset_images,
    link_project_datasets,
    link_screen_plates,
    link_tag,
    login,
    make_lab,
    names,
    new_group,
    sqlite_only,
    strip_urls,
    unsafe_json,
    url,
)

META_6 = {"totalCount": 6, "limit": 200, "maxLimit": 500, "offset": 0}
META_1 = {"totalCount": 1, "limit": 200, "maxLimit": 500, "offset": 0}


@sqlite_only
def test_create_update_unsupported(instance, make_client):
    """26. Only Project, Dataset and Screen are savable; the type check comes first."""
    lab = make_lab(instance, make_client)
    for name in ("Plate", "Image", "Well", "Channel", "foo"):
        body = {"Name": "x", "@type": f"{SCHEMA}#{name}"}
        response = unsafe_json(lab.api, "POST", f"{M}/save/?group={lab.gid}", 405, json=body)
        error_body(response, f"Creation of {name} not supported")
        response = unsafe_json(lab.api, "PUT", f"{M}/save/?group={lab.gid}", 405, json=body)
        error_body(response, f"Update of {name} not supported")
    # no '#' in @type: the name is None
    body = {"Name": "x", "@type": "Project"}
    error_body(
        unsafe_json(lab.api, "POST", f"{M}/save/", 405, json=body), "Creation of None not supported"
    )
    error_body(
        unsafe_json(lab.api, "PUT", f"{M}/save/", 405, json=body), "Update of None not supported"
    )
    # the type is checked before @id
    body = {"Name": "x", "@type": f"{SCHEMA}#Plate", "@id": 1}
    error_body(
        unsafe_json(lab.api, "POST", f"{M}/save/", 405, json=body),
        "Creation of Plate not supported",
    )
    assert get_json(lab.api, f"{M}/plates/")["data"] == []


@sqlite_only
def test_delete_unsupported(instance, make_client):
    """27. Image, Plate and Well cannot be deleted, existing or not (checked first)."""
    lab = make_lab(instance, make_client)
    plate = add_plate(instance, lab.uid, lab.gid, "Plate")
    existing = {"plates": plate.plate_id, "images": plate.image_ids[0], "wells": plate.well_ids[0]}
    for segment, type_name in (("plates", "Plate"), ("images", "Image"), ("wells", "Well")):
        for object_id in (existing[segment], 999999):
            body = unsafe_json(lab.api, "DELETE", f"{M}/{segment}/{object_id}/", 405)
            error_body(body, f"Delete of {type_name} not supported")
    get_json(lab.api, f"{M}/plates/{plate.plate_id}/")
    get_json(lab.api, f"{M}/images/{plate.image_ids[0]}/")
    get_json(lab.api, f"{M}/wells/{plate.well_ids[0]}/")


@sqlite_only
def test_container_crud(instance, make_client):
    """28. As root, for each savable type: POST, GET, PUT a new name, GET, DELETE, GET 404."""
    group = new_group(instance, "lab")
    root = login(make_client, "root", ROOT_PASSWORD)
    for kind, segment in (("Project", "projects"), ("Dataset", "datasets"), ("Screen", "screens")):
        created = unsafe_json(
            root, "POST", f"{M}/save/?group={group.id}", 201, json=container_json(kind, f"{kind} 1")
        )["data"]
        oid = created["@id"]
        assert created["@type"] == f"{SCHEMA}#{kind}"
        obj = get_json(root, f"{API}/m/{segment}/{oid}/")["data"]
        assert strip_urls(obj) == created
        assert obj["omero:details"]["group"]["@id"] == group.id
        assert obj["omero:details"]["owner"]["UserName"] == "root"
        obj["Name"] = f"{kind} renamed"
        saved = unsafe_json(root, "PUT", f"{M}/save/", 200, json=obj)["data"]
        assert saved["Name"] == f"{kind} renamed"
        assert get_json(root, f"{M}/{segment}/{oid}/")["data"]["Name"] == f"{kind} renamed"
        deleted = unsafe_json(root, "DELETE", f"{M}/{segment}/{oid}/", 200)["data"]
        assert (deleted["@id"], deleted["Name"]) == (oid, f"{kind} renamed")
        error_body(get_json(root, f"{M}/{segment}/{oid}/", 404), f"{kind} {oid} not found")


def test_datasets_plates(instance, make_client):
    """29-35. childCount of parents, orphans, parent filters, paging of datasets and plates."""
    lab = make_lab(instance, make_client)
    uid, gid = lab.uid, lab.gid
    pid = create(lab.api, "Project", "Project", gid)["@id"]
    dataset_ids = add_datasets(instance, uid, gid, [f"Dataset{n}" for n in (3, 0, 4, 1, 2)])
    by_name = dict(zip([f"Dataset{n}" for n in (3, 0, 4, 1, 2)], dataset_ids, strict=True))
    datasets = [by_name[f"Dataset{n}"] for n in range(5)]
    (orphan,) = add_datasets(instance, uid, gid, ["Orphan"])
    link_project_datasets(instance, uid, gid, [(pid, d) for d in datasets])
    images = add_images(instance, uid, gid, [f"img{n}" for n in range(10)])
    links = []
    for n, did in enumerate(datasets):  # Dataset<n> holds n images
        links += [(did, images.pop()) for _ in range(n)]
    link_dataset_images(instance, uid, gid, links)
    sid = create(lab.api, "Screen", "Screen", gid)["@id"]
    plates = [add_plate(instance, uid, gid, f"Plate{n}", screen_id=sid).plate_id for n in range(5)]
    orphan_plate = add_plate(instance, uid, gid, "Orphan plate").plate_id

    # 29. the parents' childCount, in lists and single objects
    body = get_json(lab.api, f"{M}/projects/?childCount=true")
    assert [(p["@id"], p["omero:childCount"]) for p in body["data"]] == [(pid, 5)]
    assert (
        get_json(lab.api, f"{M}/projects/{pid}/?childCount=true")["data"]["omero:childCount"] == 5
    )
    body = get_json(lab.api, f"{M}/screens/?childCount=true")
    assert [(s["@id"], s["omero:childCount"]) for s in body["data"]] == [(sid, 5)]
    assert get_json(lab.api, f"{M}/screens/{sid}/?childCount=true")["data"]["omero:childCount"] == 5
    # 30. every dataset and plate
    body = get_json(lab.api, f"{M}/datasets/")
    assert ids(body["data"]) == [*datasets, orphan]
    assert body["meta"] == META_6
    body = get_json(lab.api, f"{M}/plates/")
    assert ids(body["data"]) == [orphan_plate, *plates]
    assert body["meta"] == META_6
    # 31. orphans only
    body = get_json(lab.api, f"{M}/datasets/?orphaned=true")
    assert ids(body["data"]) == [orphan] and body["meta"] == META_1
    body = get_json(lab.api, f"{M}/plates/?orphaned=true")
    assert ids(body["data"]) == [orphan_plate] and body["meta"] == META_1
    # orphaned with a parent filter is legal and empty
    body = get_json(lab.api, f"{M}/datasets/?project={pid}&orphaned=true")
    assert body["data"] == [] and body["meta"]["totalCount"] == 0
    # 32. the project's datasets in name order, with their image counts
    body = get_json(lab.api, f"{M}/datasets/?project={pid}")
    assert names(body["data"]) == [f"Dataset{n}" for n in range(5)]
    assert body["meta"]["totalCount"] == 5
    assert all("omero:childCount" not in d for d in body["data"])
    body = get_json(lab.api, f"{M}/datasets/?project={pid}&childCount=true")
    assert [d["omero:childCount"] for d in body["data"]] == [0, 1, 2, 3, 4]
    body = get_json(lab.api, f"{M}/projects/{pid}/datasets/?childCount=true")
    assert [d["omero:childCount"] for d in body["data"]] == [0, 1, 2, 3, 4]
    single = get_json(lab.api, f"{M}/datasets/{orphan}/?childCount=true")["data"]
    assert single["omero:childCount"] == 0
    # 33. plates never carry childCount
    body = get_json(lab.api, f"{M}/plates/?screen={sid}&childCount=true")
    assert ids(body["data"]) == plates
    assert all("omero:childCount" not in p for p in body["data"])
    # 34. a single plate: its wellsample index; single datasets honour childCount
    plate = get_json(lab.api, f"{M}/plates/{plates[0]}/?childCount=true")["data"]
    assert plate["omero:wellsampleIndex"] == [0, 0]
    assert plate["url:wellsampleindex_wells"] == [
        url(f"plates/{plates[0]}/wellsampleindex/0/wells/")
    ]
    assert "omero:childCount" not in plate
    assert (
        get_json(lab.api, f"{M}/datasets/{datasets[3]}/?childCount=true")["data"][
            "omero:childCount"
        ]
        == 3
    )
    assert "omero:childCount" not in get_json(lab.api, f"{M}/datasets/{datasets[3]}/")["data"]
    # list items carry no wellsample index
    assert all("omero:wellsampleIndex" not in p for p in get_json(lab.api, f"{M}/plates/")["data"])
    # 35. paging the project's datasets
    body = get_json(lab.api, f"{M}/datasets/?project={pid}&limit=3")
    assert ids(body["data"]) == datasets[:3]
    assert body["meta"] == {"totalCount": 5, "limit": 3, "maxLimit": 500, "offset": 0}
    body = get_json(lab.api, f"{M}/datasets/?project={pid}&limit=3&offset=3")
    assert ids(body["data"]) == datasets[3:]
    assert body["meta"] == {"totalCount": 5, "limit": 3, "maxLimit": 500, "offset": 3}


@sqlite_only
def test_plate_list_of_one_has_no_wellsample_index(instance, make_client):
    """A plate list with one item is still a list: no wellsample index (only the single
    GET adds it, spec 2.6)."""
    lab = make_lab(instance, make_client)
    pid = add_plate(instance, lab.uid, lab.gid, "Only plate").plate_id
    (item,) = get_json(lab.api, f"{M}/plates/")["data"]
    assert item["@id"] == pid
    assert set(k for k in item if k.startswith("url:")) == {
        "url:plate",
        "url:screens",
        "url:wells",
        "url:plateacquisitions",
    }
    assert "omero:wellsampleIndex" not in item


@sqlite_only
def test_screens(instance, make_client):
    """36. The user's screens in name order with ``url:screen`` and ``url:plates``."""
    lab = make_lab(instance, make_client)
    created = {
        n: create(lab.api, "Screen", n, lab.gid, Type="type", ProtocolIdentifier="pid")["@id"]
        for n in ["Screen3", "screen1", "Screen0", "screen4", "Screen2"]
    }
    body = get_json(lab.api, f"{M}/screens/")
    assert names(body["data"]) == ["Screen0", "screen1", "Screen2", "Screen3", "screen4"]
    for item in body["data"]:
        sid = created[item["Name"]]
        assert item == {
            **container_expected(
                "Screen",
                sid,
                item["Name"],
                lab.users[0],
                lab.group,
                Type="type",
                ProtocolIdentifier="pid",
            ),
            "url:screen": url(f"screens/{sid}/"),
            "url:plates": url(f"screens/{sid}/plates/"),
        }
    assert body["meta"]["totalCount"] == 5


@sqlite_only
def test_screen_plates_update(instance, make_client):
    """37. Renaming a screen with PUT keeps its plate links."""
    lab = make_lab(instance, make_client)
    sid = create(lab.api, "Screen", "Screen", lab.gid)["@id"]
    plates = [
        add_plate(instance, lab.uid, lab.gid, f"P{n}", screen_id=sid).plate_id for n in range(2)
    ]
    screen = get_json(lab.api, f"{M}/screens/{sid}/")["data"]
    screen["Name"] = "Renamed"
    screen["Plates"] = []  # child arrays in the body are ignored
    unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=screen)
    assert ids(get_json(lab.api, f"{M}/screens/{sid}/plates/")["data"]) == plates
    assert get_json(lab.api, f"{M}/screens/?childCount=true")["data"][0]["omero:childCount"] == 2


@sqlite_only
def test_container_tags_update(instance, make_client):
    """38. A PUT without ``Annotations`` keeps the tag link; listed annotations are added."""
    lab = make_lab(instance, make_client)
    tag = add_tag(instance, lab.uid, lab.gid, "tagged")
    for kind, segment in (("Project", "projects"), ("Dataset", "datasets"), ("Screen", "screens")):
        oid = create(lab.api, kind, kind, lab.gid)["@id"]
        link_tag(instance, lab.uid, lab.gid, kind.lower(), oid, tag)
        obj = get_json(lab.api, f"{M}/{segment}/{oid}/")["data"]
        assert "Annotations" not in obj  # the API never loads them
        obj["Name"] = "Renamed"
        unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=obj)
        assert annotation_count(instance, kind.lower(), oid) == 1, kind
        obj["Annotations"] = [{"@type": f"{SCHEMA}#TagAnnotation", "Value": f"new {kind}"}]
        unsafe_json(lab.api, "PUT", f"{M}/save/", 200, json=obj)
        assert annotation_count(instance, kind.lower(), oid) == 2, kind


@sqlite_only
def test_spw_urls(instance, make_client):
    """39. Browsing screens -> plates -> wells -> images by ``url:`` keys."""
    lab = make_lab(instance, make_client)
    sid = create(lab.api, "Screen", "Screen", lab.gid)["@id"]
    plate_b = add_plate(instance, lab.uid, lab.gid, "plate B", screen_id=sid)
    plate_a = add_plate(instance, lab.uid, lab.gid, "Plate A", screen_id=sid)
    base = get_json(lab.api, f"{API}/")
    (screen,) = get_json(lab.api, base["url:screens"])["data"]
    assert screen["url:screen"] == url(f"screens/{sid}/")
    assert screen["url:plates"] == url(f"screens/{sid}/plates/")
    single = get_json(lab.api, screen["url:screen"])["data"]
    assert single["url:plates"] == screen["url:plates"] and "url:screen" not in single
    plates = get_json(lab.api, screen["url:plates"])["data"]
    assert ids(plates) == [plate_a.plate_id, plate_b.plate_id]
    for item in plates:
        assert item["url:plate"] == url(f"plates/{item['@id']}/")
        assert item["url:wells"] == url(f"plates/{item['@id']}/wells/")
        assert item["url:screens"] == url(f"plates/{item['@id']}/screens/")
        assert item["url:plateacquisitions"] == url(f"plates/{item['@id']}/plateacquisitions/")
    pid = plate_a.plate_id
    plate = get_json(lab.api, plates[0]["url:plate"])["data"]
    assert plate["omero:wellsampleIndex"] == [0, 0]
    assert plate["url:wellsampleindex_wells"] == [url(f"plates/{pid}/wellsampleindex/0/wells/")]
    assert "url:plate" not in plate
    wells = get_json(lab.api, plates[0]["url:wells"])["data"]
    assert ids(wells) == plate_a.well_ids
    (well,) = wells
    assert well["url:well"] == url(f"wells/{well['@id']}/")
    (sample,) = well["WellSamples"]
    assert sample["Image"]["url:image"] == url(f"images/{plate_a.image_ids[0]}/")
    # the wellsample index URL gives the same well
    indexed = get_json(lab.api, plate["url:wellsampleindex_wells"][0])["data"]
    assert ids(indexed) == plate_a.well_ids


@sqlite_only
def test_spw_parent_urls(instance, make_client):
    """40. Wells -> their plate -> its screens, by ``url:plates`` and ``url:screens``."""
    lab = make_lab(instance, make_client)
    sid = create(lab.api, "Screen", "Screen", lab.gid)["@id"]
    plate = add_plate(instance, lab.uid, lab.gid, "Plate", rows=1, columns=2, screen_id=sid)
    wells = get_json(lab.api, f"{M}/wells/")["data"]
    assert ids(wells) == plate.well_ids
    for well in wells:
        assert well["url:plates"] == url(f"wells/{well['@id']}/plates/")
    wid = plate.well_ids[0]
    single = get_json(lab.api, f"{M}/wells/{wid}/")["data"]
    assert single["url:plates"] == url(f"wells/{wid}/plates/")
    assert "url:well" not in single
    (parent,) = get_json(lab.api, single["url:plates"])["data"]
    assert parent["@id"] == plate.plate_id
    assert parent["url:screens"] == url(f"plates/{plate.plate_id}/screens/")
    assert parent["url:plate"] == url(f"plates/{plate.plate_id}/")
    plate_json = get_json(lab.api, parent["url:plate"])["data"]
    assert plate_json["url:screens"] == parent["url:screens"]
    (screen,) = get_json(lab.api, plate_json["url:screens"])["data"]
    assert screen["@id"] == sid and screen["Name"] == "Screen"


@sqlite_only
def test_pdi_urls(instance, make_client):
    """41. Browsing projects -> datasets -> images by ``url:`` keys."""
    lab = make_lab(instance, make_client)
    pid = create(lab.api, "Project", "Project", lab.gid)["@id"]
    did = create(lab.api, "Dataset", "Dataset", lab.gid)["@id"]
    link_project_datasets(instance, lab.uid, lab.gid, [(pid, did)])
    (iid,) = add_images(instance, lab.uid, lab.gid, ["Image"])
    link_dataset_images(instance, lab.uid, lab.gid, [(did, iid)])
    base = get_json(lab.api, f"{API}/")
    (project,) = get_json(lab.api, base["url:projects"])["data"]
    assert project["url:project"] == url(f"projects/{pid}/")
    assert project["url:datasets"] == url(f"projects/{pid}/datasets/")
    single = get_json(lab.api, project["url:project"])["data"]
    assert single["url:datasets"] == project["url:datasets"]
    (dataset,) = get_json(lab.api, project["url:datasets"])["data"]
    assert dataset["url:dataset"] == url(f"datasets/{did}/")
    assert dataset["url:images"] == url(f"datasets/{did}/images/")
    assert dataset["url:projects"] == url(f"datasets/{did}/projects/")
    assert dataset == {
        **container_expected("Dataset", did, "Dataset", lab.users[0], lab.group, can=OWNER),
        "url:dataset": dataset["url:dataset"],
        "url:images": dataset["url:images"],
        "url:projects": dataset["url:projects"],
    }
    single = get_json(lab.api, dataset["url:dataset"])["data"]
    assert single["url:images"] == dataset["url:images"]
    assert single["url:projects"] == dataset["url:projects"]
    (image,) = get_json(lab.api, dataset["url:images"])["data"]
    assert image["url:image"] == url(f"images/{iid}/")
    full = get_json(lab.api, image["url:image"])["data"]
    assert full["@id"] == iid and full["Name"] == "Image"
    assert len(full["Pixels"]["Channels"]) == 1
    assert full["url:datasets"] == url(f"images/{iid}/datasets/")
    assert full["url:rois"] == url(f"images/{iid}/rois/")
    # the list item is the single image less its channels
    without_channels = {
        **full,
        "Pixels": {k: v for k, v in full["Pixels"].items() if k != "Channels"},
    }
    assert strip_urls(without_channels) == strip_urls(image)


@sqlite_only
def test_pdi_parent_urls(instance, make_client):
    """42. Images -> their datasets -> their projects, by ``url:datasets`` and ``url:projects``."""
    lab = make_lab(instance, make_client)
    pid = create(lab.api, "Project", "Project", lab.gid)["@id"]
    did = create(lab.api, "Dataset", "Dataset", lab.gid)["@id"]
    other = create(lab.api, "Dataset", "Other", lab.gid)["@id"]
    link_project_datasets(instance, lab.uid, lab.gid, [(pid, did)])
    images = add_images(instance, lab.uid, lab.gid, ["i1", "i2"])
    link_dataset_images(
        instance, lab.uid, lab.gid, [(did, i) for i in images] + [(other, images[0])]
    )
    for image in get_json(lab.api, f"{M}/images/?dataset={did}")["data"]:
        assert image["url:datasets"] == url(f"images/{image['@id']}/datasets/")
        single = get_json(lab.api, f"{M}/images/{image['@id']}/")["data"]
        assert single["url:datasets"] == image["url:datasets"]
        parents = get_json(lab.api, single["url:datasets"])["data"]
        expected = [did, other] if image["@id"] == images[0] else [did]
        assert ids(parents) == expected
    for dataset in get_json(lab.api, f"{M}/datasets/?project={pid}")["data"]:
        assert dataset["url:projects"] == url(f"datasets/{dataset['@id']}/projects/")
        single = get_json(lab.api, f"{M}/datasets/{dataset['@id']}/")["data"]
        assert single["url:projects"] == dataset["url:projects"]
        (project,) = get_json(lab.api, single["url:projects"])["data"]
        assert project["@id"] == pid
    assert get_json(lab.api, f"{M}/datasets/{other}/projects/")["data"] == []


@sqlite_only
def test_parent_and_child_filters(instance, make_client):
    """The filters of section 2.3, and path parameters winning over the same query parameter."""
    lab = make_lab(instance, make_client)
    uid, gid = lab.uid, lab.gid
    p1, p2 = (create(lab.api, "Project", n, gid)["@id"] for n in ("P1", "P2"))
    d1, d2, d3 = add_datasets(instance, uid, gid, ["D1", "D2", "D3"])
    link_project_datasets(instance, uid, gid, [(p1, d1), (p1, d2), (p2, d3)])
    i1, i2 = add_images(instance, uid, gid, ["I1", "I2"])
    link_dataset_images(instance, uid, gid, [(d1, i1), (d2, i2), (d3, i1)])
    s1, s2 = (create(lab.api, "Screen", n, gid)["@id"] for n in ("S1", "S2"))
    plate1 = add_plate(instance, uid, gid, "PL1", screen_id=s1)
    plate2 = add_plate(instance, uid, gid, "PL2", screen_id=s2)
    link_screen_plates(instance, uid, gid, [(s2, plate1.plate_id)])

    def listed(path: str) -> list[int]:
        return ids(get_json(lab.api, f"{M}/{path}")["data"])

    assert listed(f"projects/?dataset={d3}") == [p2]
    assert listed(f"datasets/{d1}/projects/") == [p1]
    assert listed(f"datasets/?project={p1}") == [d1, d2]
    assert listed(f"datasets/?image={i1}") == [d1, d3]
    assert listed(f"datasets/?project={p1}&image={i1}") == [d1]
    assert listed(f"projects/{p1}/datasets/?image={i1}") == [d1]
    assert listed(f"projects/{p1}/datasets/?project={p2}") == [d1, d2]  # the path wins
    assert listed(f"images/{i1}/datasets/") == [d1, d3]
    assert listed(f"images/{i1}/datasets/?project={p2}") == [d3]
    assert listed(f"images/?dataset={d2}") == [i2]
    assert listed(f"datasets/{d2}/images/?dataset={d1}") == [i2]  # the path wins
    assert listed(f"screens/?plate={plate1.plate_id}") == [s1, s2]
    assert listed(f"plates/{plate2.plate_id}/screens/") == [s2]
    assert listed(f"plates/?screen={s2}") == [plate1.plate_id, plate2.plate_id]
    assert listed(f"plates/?well={plate2.well_ids[0]}") == [plate2.plate_id]
    assert listed(f"screens/{s2}/plates/?well={plate1.well_ids[0]}") == [plate1.plate_id]
    assert listed(f"wells/{plate1.well_ids[0]}/plates/") == [plate1.plate_id]
    assert listed(f"wells/{plate1.well_ids[0]}/plates/?screen={s1}") == [plate1.plate_id]
    assert listed(f"wells/{plate2.well_ids[0]}/plates/?screen={s1}") == []
    # filters a route does not take are ignored (still parsed strictly)
    assert listed(f"projects/?image={i2}") == [p1, p2]
    assert listed(f"screens/?well={plate1.well_ids[0]}") == [s1, s2]
    # a parent that does not exist is an empty list, not a 404
    body = get_json(lab.api, f"{M}/projects/999999/datasets/")
    assert body == {
        "data": [],
        "meta": {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 0},
    }
