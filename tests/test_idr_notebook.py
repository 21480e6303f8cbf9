"""The IDR notebook, end to end, against a real ``pyomero serve`` (spec webgateway-idr.md 9).

An IDR-like instance is built the way a curator builds one, through the server and its
command line only: ``pyomero init``, a read-only group with a curator and a public user,
a Screen saved through the JSON API, two OME-Zarr HCS plates imported with
``pyomero import -r``, the study's key-value pairs saved through ``annotate_map``, and an
IDR-style CSV attached with ``pyomero metadata populate`` and turned into key-value pairs by
``--context bulkmap`` with an IDR-style configuration. A second user
in a private group has an image with the same gene, which the public must never see.

Then :func:`notebook` makes the notebook's requests in the notebook's order, with
``requests`` and no login (the public user), reading only what the notebook reads; its
URL templates are the notebook's with the base URL replaced. The ids the IDR hard-codes
(screen 102, plate 325, image 122770, well 45217) are taken from the earlier answers, as
the notebook's website version does.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import simplejpeg

from pyomero.testing.images import write_ome_zarr_plate, write_png
from pyomero.testing.server import pyomero_command, served

ROOT_PW = "notebook-root-pw"
CURATOR_PW = "notebook-curator-pw"
STUDY_NS = "idr.openmicroscopy.org/study/info"
STUDY = [
    ("Sample Type", "cell"),
    ("Organism", "Saccharomyces cerevisiae"),
    ("Study Title", "A genome-wide screen of yeast morphology"),
    ("Screen Type", "primary screen"),
    ("Imaging Method", "fluorescence microscopy"),
    ("Publication DOI", "https://doi.org/10.0000/example"),
    ("License", "CC BY 4.0"),
]
#: Gene of each well, by plate name and well; wells not named get "YFG1".
GENES = {("plate2", "A1"): "ADE8", ("plate2", "B3"): "ade8", ("plate1", "A2"): "ECT2"}
#: An IDR-style bulkmap configuration: genes and organisms in their mapr namespaces (one
#: annotation per gene, shared by its images), the phenotype in the bulk namespace.
BULKMAP_CONFIG = """\
defaults: {include: no, type: string, includeclient: yes, visible: yes, omitempty: yes}
columns:
  - {name: Phenotype, include: yes}
  - group:
      namespace: openmicroscopy.org/mapr/organism
      columns:
        - {name: Organism, include: yes}
  - group:
      namespace: openmicroscopy.org/mapr/gene
      columns:
        - {name: Gene Identifier, include: yes}
        - name: Gene Identifier
          clientname: Gene Identifier URL
          clientvalue: "https://www.ncbi.nlm.nih.gov/nuccore/{{ value|urlencode }}"
          include: yes
        - {name: Gene Symbol, include: yes}
advanced:
  ignore_missing_primary_key: yes
  primary_group_keys:
    - {namespace: openmicroscopy.org/mapr/gene, keys: [Gene Symbol]}
    - {namespace: openmicroscopy.org/mapr/organism, keys: [Organism]}
  well_to_images: yes
"""
PUBLIC_FILTER = r"^/(webclient|webgateway|searchengine|api)/"


def _run(*args: str) -> str:
    done = subprocess.run(pyomero_command(*args), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _wells(rows: int, columns: int) -> list[str]:
    return [f"{chr(ord('A') + r)}{c + 1}" for r in range(rows) for c in range(columns)]


@dataclass
class Idr:
    base: str
    screen: int
    plates: dict[str, int]
    private_image: int


def _webclient_login(client: httpx.Client, username: str, password: str) -> str:
    """Log in through the webclient's form as a browser does; the CSRF token for later posts."""
    page = client.get("/webclient/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page
    answer = client.post(
        "/webclient/login/",
        data={
            "username": username,
            "password": password,
            "server": "1",
            "csrfmiddlewaretoken": token.group(1),
        },
    )
    assert answer.status_code == 302, answer.text
    return token.group(1)


def _populate_csv(path: Path, plates: dict[str, tuple[int, int]]) -> Path:
    lines = [
        "# header plate,well,s,s,s,s",
        "Plate,Well,Gene Symbol,Gene Identifier,Organism,Phenotype",
    ]
    for plate, (rows, columns) in plates.items():
        for well in _wells(rows, columns):
            gene = GENES.get((plate, well), "YFG1")
            lines.append(
                f"{plate},{well},{gene},NM_{abs(hash(gene)) % 10**6:06d},"
                f"Saccharomyces cerevisiae,{'round cells' if gene.lower() == 'ade8' else 'wild type'}"
            )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def idr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idr]:
    work = tmp_path_factory.mktemp("idr-notebook")
    directory = work / "instance"
    data = ["--data", str(directory)]
    _run("init", str(directory), "--root-password", ROOT_PW)
    _run("group", "add", "idr-public", "--type", "read-only", *data)
    _run("group", "add", "someone-else", "--type", "private", *data)
    for user, group in (
        ("curator", "idr-public"),
        ("public", "idr-public"),
        ("other", "someone-else"),
    ):
        _run("user", "add", user, "--first", user.title(), "--last", "User", "--group", group,
             "--password", CURATOR_PW, *data)  # fmt: skip
    shapes = {"plate1": (2, 3), "plate2": (4, 6)}
    plates = [
        write_ome_zarr_plate(
            work / f"{name}.zarr",
            rows=r,
            columns=c,
            fields=1,
            size_c=2,
            size_x=48,
            size_y=40,
            name=name,
        )  # fmt: skip
        for name, (r, c) in shapes.items()
    ]
    env = {"PYOMERO_PUBLIC_USER": "public", "PYOMERO_PUBLIC_URL_FILTER": PUBLIC_FILTER}
    with served(directory, env=env) as base, httpx.Client(base_url=base, timeout=60) as curator:
        token = _webclient_login(curator, "curator", CURATOR_PW)
        groups = curator.get("/api/v0/m/experimentergroups/").json()["data"]
        group = next(g["@id"] for g in groups if g["Name"] == "idr-public")
        saved = curator.post(
            f"/api/v0/m/save/?group={group}",
            json={"@type": "http://www.openmicroscopy.org/Schemas/OME/2016-06#Screen",
                  "Name": "idr0000-example-screenA"},
            headers={"X-CSRFToken": token},
        )  # fmt: skip
        assert saved.status_code == 201, saved.text
        screen = saved.json()["data"]["@id"]
        common = ["-s", base, "-u", "curator", "-w", CURATOR_PW]
        imported = _run("import", *map(str, plates), *common, "-r", str(screen))
        plate_ids = [
            int(line.split(":")[1]) for line in imported.split() if line.startswith("Plate:")
        ]
        study = curator.post(
            "/webclient/annotate_map/",
            data={"screen": str(screen), "ns": STUDY_NS,
                  "mapAnnotation": json.dumps([list(p) for p in STUDY])},
            headers={"X-CSRFToken": token},
        )  # fmt: skip
        assert study.status_code == 200, study.text
        csv = _populate_csv(work / "idr0000-screenA-annotation.csv", shapes)
        # the IDR's two steps: the table, then key-value pairs as its bulkmap config says
        _run("metadata", "populate", "--file", str(csv), f"Screen:{screen}", *common)
        config = work / "bulkmap-config.yml"
        config.write_text(BULKMAP_CONFIG)
        _run("metadata", "populate", "--context", "bulkmap", "--cfg", str(config),
             f"Screen:{screen}", *common)  # fmt: skip
        private = _run(
            "import", str(write_png(work / "private.png", size_x=16, size_y=16)),
            "-s", base, "-u", "other", "-w", CURATOR_PW,
        )  # fmt: skip
        private_image = int(private.split(":")[1])
        with httpx.Client(base_url=base, timeout=60) as other:
            other_token = _webclient_login(other, "other", CURATOR_PW)
            hidden = other.post(
                "/webclient/annotate_map/",
                data={"image": str(private_image),
                      "mapAnnotation": '[["Gene Symbol", "ADE8"], ["Organism", "Mus musculus"]]'},
                headers={"X-CSRFToken": other_token},
            )  # fmt: skip
            assert hidden.status_code == 200, hidden.text
        yield Idr(base, screen, dict(zip(shapes, plate_ids, strict=True)), private_image)


@dataclass
class Read:
    """What the notebook printed, as data."""

    study: list[tuple[str, str]] = field(default_factory=list)
    namespaces: set[str | None] = field(default_factory=set)
    plates: list[tuple[int, str, int]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    labels: tuple[list[Any], list[Any]] = ([], [])
    grid: list[list[dict[str, Any] | None]] = field(default_factory=list)
    thumbnails: dict[int, str] = field(default_factory=dict)
    image_json: dict[str, Any] = field(default_factory=dict)
    image_jpeg: bytes = b""
    image_pairs: list[tuple[str, str]] = field(default_factory=list)
    bulk_row: dict[str, Any] = field(default_factory=dict)
    download_urls: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    found: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def notebook(base: str, screen_id: int) -> tuple[Read, requests.Session]:
    """The notebook's cells 2-23, in order, with ``base`` for https://idr.openmicroscopy.org."""
    read = Read()
    search = base + "/searchengine/api/v1/resources"
    session = requests.Session()
    # 1. A session: the public user's cookie.
    request = requests.Request("GET", f"{base}/webclient/?experimenter=-1")
    response = session.send(session.prepare_request(request))
    if response.status_code != 200:
        response.raise_for_status()
    # 2. Study map annotations.
    url = f"{base}/webclient/api/annotations/?type=map&screen={screen_id}"
    for a in session.get(url).json()["annotations"]:
        read.namespaces.add(a["ns"])
        for v in a["values"]:
            read.study.append((v[0], v[1]))
    # 3. Plates in the screen; the last one is kept.
    for p in session.get(f"{base}/webclient/api/plates/?id={screen_id}").json()["plates"]:
        plate_id = p["id"]
        read.plates.append((p["id"], p["name"], p["childCount"]))
    # 4. The plate grid.
    grid = session.get(f"{base}/webgateway/plate/{plate_id}/0/").json()
    read.labels = (grid["rowlabels"], grid["collabels"])
    read.grid = grid["grid"]
    for row in grid["grid"]:
        for cell in row:
            if cell is not None:
                well_id, image_id = cell["wellId"], cell["id"]
                thumb_url, _field = cell["thumb_url"], cell["field"]
                read.cells.append(cell)
    # 5. Thumbnails of the plate, 20 at a time, as data URIs.
    grid = session.get(f"{base}/webgateway/plate/{plate_id}/0/").json()
    image_ids = [cell["id"] for row in grid["grid"] for cell in row if cell is not None]
    for start in range(0, len(image_ids), 20):
        batch = image_ids[start : start + 20]
        answer = session.get(f"{base}/webgateway/get_thumbnails/", params={"id": batch})
        read.thumbnails.update({int(k): v for k, v in answer.json().items()})
    thumb = session.get(f"{base}{thumb_url}", stream=True)
    assert thumb.status_code == 200 and b"".join(thumb)[:2] == b"\xff\xd8"
    # 6. Image details, then the rendered image the notebook shows.
    r = session.get(f"{base}/webclient/imgData/{image_id}/")
    if r.status_code == 200:
        read.image_json = r.json()
    read.image_jpeg = session.get(f"{base}/webgateway/render_image/{image_id}/0/0/").content
    # 7. The image's map annotations.
    url = f"{base}/webclient/api/annotations/?type=map&image={image_id}"
    for a in session.get(url).json()["annotations"]:
        for v in a["values"]:
            read.image_pairs.append((v[0], v[1]))
    # 8. The bulk-annotation row of the well.
    url = f"{base}/webgateway/table/Screen.plateLinks.child.wells/{well_id}/query/?query=Well-{well_id}"
    read.bulk_row = session.get(url).json()
    # 9. File annotations of the screen: their download URLs.
    url = f"{base}/webclient/api/annotations/?type=file&screen={screen_id}"
    for a in session.get(url).json()["annotations"]:
        read.download_urls.append(f"{base}/webclient/annotation/{a['id']}")
    # 10. Every value of a key.
    url = f"{search}/image/searchvaluesusingkey/?key=Gene Symbol"
    for d in session.get(url).json()["data"]:
        if d["Value"]:
            read.values.append(d["Value"])
    read.values.sort()
    # 11. Images with a gene, and the links the notebook prints for each.
    url = f"{search}/image/search/?key=Gene Symbol&value=ade8"
    found = session.get(url).json()
    if "results" in found["results"]:
        for image in found["results"]["results"]:
            read.found.append(image)
            read.links += [
                f"{base}/webclient/?show=image-{image['id']}",
                f"{base}/webclient/img_detail/{image['id']}/",
                f"{base}/webclient/render_thumbnail/{image['id']}/",
            ]
    return read, session


@pytest.mark.server
def test_the_notebook_reads_what_it_expects(idr: Idr) -> None:
    read, session = notebook(idr.base, idr.screen)
    with session:
        # 1-2. The public session sees the curator's study pairs, in order.
        assert session.cookies, "the first call must give a session cookie"
        assert read.study == STUDY and read.namespaces == {STUDY_NS}
        # 3. Both plates, by name, one run each; the last is plate2.
        assert read.plates == [
            (idr.plates["plate1"], "plate1", 1),
            (idr.plates["plate2"], "plate2", 1),
        ]
        # 4. plate2's 4 x 6 wells, one field each, in the expanded 8 x 12 layout.
        assert len(read.labels[0]) == 8 and len(read.labels[1]) == 12
        assert len(read.cells) == 24 and {c["field"] for c in read.cells} == {0}
        last = read.cells[-1]
        assert last["thumb_url"] == f"/webgateway/render_thumbnail/{last['id']}/"
        # 5. A decodable JPEG data URI for every image of the plate.
        assert sorted(read.thumbnails) == sorted(c["id"] for c in read.cells)
        for uri in read.thumbnails.values():
            assert uri.startswith("data:image/jpeg;base64,")
            pixels = simplejpeg.decode_jpeg(base64.b64decode(uri.split(",", 1)[1]))
            assert max(pixels.shape[:2]) == 96
        # 6. The last cell's image (well D6): its details and a rendering of its size.
        assert read.image_json["id"] == last["id"] and read.image_json["size"]["width"] == 48
        assert simplejpeg.decode_jpeg(read.image_jpeg).shape == (40, 48, 3)
        # 7. bulkmap put the CSV row's values on the image.
        assert dict(read.image_pairs)["Gene Symbol"] == "YFG1"
        assert dict(read.image_pairs)["Organism"] == "Saccharomyces cerevisiae"
        identifier = dict(read.image_pairs)["Gene Identifier"]
        assert dict(read.image_pairs)["Gene Identifier URL"] == (
            f"https://www.ncbi.nlm.nih.gov/nuccore/{identifier}"
        )
        # 8. The well's row of the bulk-annotation table.
        row = read.bulk_row
        assert row["parentType"] == "Screen" and row["parentId"] == idr.screen
        columns, rows = row["data"]["columns"], row["data"]["rows"]
        assert len(rows) == 1 and rows[0][columns.index("Well")] == last["wellId"]
        assert rows[0][columns.index("Gene Symbol")] == "YFG1"
        # 9. The table's file can be downloaded from the printed URL.
        assert len(read.download_urls) == 1
        download = session.get(read.download_urls[0] + "/")
        assert download.status_code == 200 and download.content
        assert download.headers["Content-Type"] == "application/force-download"
        # 10. Lower-cased values of the curator's genes, and nothing from the private group.
        assert read.values == ["ade8", "ect2", "yfg1"]
        # 11. The two ADE8 wells' images (any case), never the private image.
        rowlabels, collabels = read.labels
        expected = sorted(
            read.grid[rowlabels.index(well[0])][collabels.index(int(well[1:]))]["id"]
            for (plate, well), gene in GENES.items()
            if plate == "plate2" and gene.lower() == "ade8"
        )
        assert sorted(image["id"] for image in read.found) == expected and len(expected) == 2
        assert idr.private_image not in {image["id"] for image in read.found}
        for image in read.found:
            pairs = {(k["name"], k["value"]) for k in image["key_values"]}
            assert ("Organism", "Saccharomyces cerevisiae") in pairs
            assert any(k == "Gene Symbol" and v.lower() == "ade8" for k, v in pairs)
        for link in read.links:
            answer = session.get(link)
            assert answer.status_code == 200, link
            kind = "image/jpeg" if "render_thumbnail" in link else "text/html"
            assert answer.headers["Content-Type"].startswith(kind), link


@pytest.mark.server
def test_the_public_user_only_reads(idr: Idr) -> None:
    """The notebook's session cannot write, and cannot see the private group's image."""
    with requests.Session() as session:
        session.get(f"{idr.base}/webclient/?experimenter=-1").raise_for_status()
        private = session.get(f"{idr.base}/webclient/imgData/{idr.private_image}/")
        assert private.status_code == 404
        token = session.get(f"{idr.base}/api/v0/token/").json()["data"]
        write = session.post(
            f"{idr.base}/webclient/annotate_map/",
            data={"screen": str(idr.screen), "mapAnnotation": '[["a", "b"]]'},
            headers={"X-CSRFToken": token},
            allow_redirects=False,
        )
        assert write.status_code == 302, write.text
        assert write.headers["Location"].startswith("/webclient/login/")
        again = session.get(
            f"{idr.base}/webclient/api/annotations/?type=map&screen={idr.screen}"
        ).json()["annotations"]
        assert [[tuple(v) for v in a["values"]] for a in again] == [STUDY]
