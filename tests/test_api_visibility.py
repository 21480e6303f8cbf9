"""Lists, counts, single GETs and childCount never reveal what the caller may not read.

Spec: service-api.md 3.3 (read visibility), omero-json-api.md 2.9; issue: "lists, single GETs,
counts and meta.totalCount never reveal an object the caller may not read".
"""

from __future__ import annotations

from apidata import (
    M,
    add_datasets,
    add_images,
    get_json,
    ids,
    link_dataset_images,
    login,
    new_group,
    new_user,
    unsafe_json,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts


def _setup(instance, make_client):
    """A private group (owner ``pi``, members ``ann`` and ``ben``), a read-only group with
    ``ann`` only, and ``eve`` who belongs to neither."""
    private = new_group(instance, "private-lab", GroupLevel.PRIVATE)
    readonly = new_group(instance, "open-lab", GroupLevel.READ_ONLY)
    ann = new_user(instance, "ann", ["private-lab", "open-lab"])
    ben = new_user(instance, "ben", ["private-lab"])
    new_user(instance, "pi", ["private-lab"])
    new_user(instance, "eve", [new_group(instance, "elsewhere").name])
    accounts.add_to_group(instance, group="private-lab", usernames=["pi"], owner=True)
    (ann_dataset,) = add_datasets(instance, ann.id, private.id, ["ann's dataset"])
    ann_images = add_images(instance, ann.id, private.id, ["a1", "a2", "a3"])
    link_dataset_images(instance, ann.id, private.id, [(ann_dataset, i) for i in ann_images])
    (ben_dataset,) = add_datasets(instance, ben.id, private.id, ["ben's dataset"])
    (open_dataset,) = add_datasets(instance, ann.id, readonly.id, ["open dataset"])
    return {
        "private": private.id,
        "readonly": readonly.id,
        "ann_dataset": ann_dataset,
        "ann_images": ann_images,
        "ben_dataset": ben_dataset,
        "open_dataset": open_dataset,
        "clients": {name: login(make_client, name) for name in ("ann", "ben", "pi", "eve")},
    }


def test_private_group_members_see_only_their_own(instance, make_client):
    world = _setup(instance, make_client)
    ben = world["clients"]["ben"]
    body = get_json(ben, f"{M}/datasets/")
    assert ids(body["data"]) == [world["ben_dataset"]]
    assert body["meta"]["totalCount"] == 1
    images = get_json(ben, f"{M}/images/")
    assert images["data"] == [] and images["meta"]["totalCount"] == 0
    assert get_json(ben, f"{M}/images/?dataset={world['ann_dataset']}")["meta"]["totalCount"] == 0
    missing = get_json(ben, f"{M}/datasets/{world['ann_dataset']}/", 404)
    assert missing["message"] == f"Dataset {world['ann_dataset']} not found"
    get_json(ben, f"{M}/images/{world['ann_images'][0]}/", 404)
    get_json(ben, f"{M}/datasets/{world['ann_dataset']}/images/", 200)
    # nor may ben delete what he cannot see: the same 404
    unsafe_json(ben, "DELETE", f"{M}/datasets/{world['ann_dataset']}/", 404)
    assert get_json(world["clients"]["ann"], f"{M}/datasets/{world['ann_dataset']}/")["data"]


def test_group_owner_and_admin_see_everything(instance, make_client):
    world = _setup(instance, make_client)
    pi = world["clients"]["pi"]
    mine = f"{M}/datasets/?group={world['private']}&childCount=true"
    body = get_json(pi, mine)
    assert sorted(ids(body["data"])) == sorted([world["ann_dataset"], world["ben_dataset"]])
    counts = {d["@id"]: d["omero:childCount"] for d in body["data"]}
    assert counts[world["ann_dataset"]] == 3
    assert get_json(pi, f"{M}/images/{world['ann_images'][0]}/")["data"]["Name"] == "a1"
    root = login(make_client, "root", "root-password")
    assert get_json(root, f"{M}/datasets/")["meta"]["totalCount"] == 3
    assert get_json(root, f"{M}/images/")["meta"]["totalCount"] == 3


def test_non_members_see_nothing_and_group_context_narrows(instance, make_client):
    world = _setup(instance, make_client)
    eve = world["clients"]["eve"]
    assert get_json(eve, f"{M}/datasets/")["meta"]["totalCount"] == 0
    get_json(eve, f"{M}/datasets/{world['open_dataset']}/", 404)
    assert get_json(eve, f"{M}/datasets/?group={world['readonly']}")["data"] == []
    ann = world["clients"]["ann"]
    assert get_json(ann, f"{M}/datasets/")["meta"]["totalCount"] == 2
    only_open = get_json(ann, f"{M}/datasets/?group={world['readonly']}")
    assert ids(only_open["data"]) == [world["open_dataset"]]
    assert only_open["meta"]["totalCount"] == 1


def test_child_count_counts_only_visible_links(instance, make_client):
    """ben's image linked (by ben) into ann's dataset is counted for ann's owner view only
    where the link is readable: in a private group ann cannot see ben's link."""
    world = _setup(instance, make_client)
    ben_id = get_json(world["clients"]["ben"], f"{M}/experimenters/?limit=50")["data"]
    ben_id = next(u["@id"] for u in ben_id if u["UserName"] == "ben")
    (ben_image,) = add_images(instance, ben_id, world["private"], ["b1"])
    link_dataset_images(instance, ben_id, world["private"], [(world["ann_dataset"], ben_image)])
    ann = world["clients"]["ann"]
    single = get_json(ann, f"{M}/datasets/{world['ann_dataset']}/?childCount=true")["data"]
    assert single["omero:childCount"] == 3
    pi = world["clients"]["pi"]
    single = get_json(pi, f"{M}/datasets/{world['ann_dataset']}/?childCount=true")["data"]
    assert single["omero:childCount"] == 4
