"""The bulkmap configuration rules (``pyomero.tables.bulkmap``): omero-py's column options,
groups, positions and primary keys, on plain rows, without a database."""

from __future__ import annotations

import pytest

from pyomero.errors import InvalidInput
from pyomero.tables.bulkmap import NS_BULK, MapPlan, output_groups, parse_config

GENE = "openmicroscopy.org/mapr/gene"
ORGANISM = "openmicroscopy.org/mapr/organism"
HEADERS = ["Well", "Gene Symbol", "Gene Identifier", "Organism", "Phenotypes", "Notes", "Plate"]
ROW = [12, "ECT2", "NM_018098", "Homo sapiens", "round; big ;", "", 3]

IDR_LIKE = """
defaults:
  include: no
  omitempty: yes
columns:
  - name: Notes
    include: yes
    omitempty: no
  - name: Phenotypes
    include: yes
    split: ";"
    clientname: Phenotype
  - group:
      namespace: openmicroscopy.org/mapr/gene
      columns:
        - name: Gene Symbol
          include: yes
          position: 2
        - name: Gene Identifier
          include: yes
          clientvalue: https://www.ncbi.nlm.nih.gov/gene/?term={{ value|urlencode }}
          position: 1
  - group:
      namespace: openmicroscopy.org/mapr/organism
      columns:
        - name: Organism
          include: yes
          visible: no
advanced:
  primary_group_keys:
    - namespace: openmicroscopy.org/mapr/gene
      keys: [Gene Symbol]
  well_to_images: yes
"""


def test_groups_keys_and_values() -> None:
    config = parse_config(IDR_LIKE)
    assert config.well_to_images and config.primary_keys == {GENE: ("Gene Symbol",)}
    groups = output_groups(config, HEADERS)
    assert [g.namespace for g in groups] == [GENE, ORGANISM, NS_BULK]
    gene, organism, rest = (g.pairs(ROW) for g in groups)
    assert gene == [
        ("Gene Identifier", "https://www.ncbi.nlm.nih.gov/gene/?term=NM_018098"),
        ("Gene Symbol", "ECT2"),
    ]  # position 1, then 2
    assert organism == [("__Organism", "Homo sapiens")]  # not visible
    # split and omitempty (the default here) drop the empty piece; Notes keeps its empty value
    assert rest == [("Notes", ""), ("Phenotype", "round"), ("Phenotype", "big")]


def test_defaults_include_every_other_column() -> None:
    config = parse_config(
        "defaults:\n  include: yes\ncolumns:\n  - {name: Plate, include: no, includeclient: no}\n"
    )
    (rest,) = output_groups(config, HEADERS)
    assert [rule.name for rule, _ in rest.columns] == [h for h in HEADERS if h != "Plate"]
    assert rest.pairs(ROW)[0] == ("Well", "12")


def test_urlencode_quotes_and_plain_value_does_not() -> None:
    config = parse_config(
        "columns:\n  - name: Organism\n    clientvalue: 'x?q={{value | urlencode}}&v={{ value }}'\n"
    )
    (group,) = output_groups(config, HEADERS)
    # configured columns first, then the others in table order
    assert group.pairs(ROW)[0] == ("Organism", "x?q=Homo%20sapiens&v=Homo sapiens")
    assert group.pairs(ROW)[1] == ("Well", "12")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "not valid YAML"),
        ("--- {}\n--- {}\n", "expected one YAML document, found 2"),
        ("- 1\n", "must be a mapping"),
        ("{}", "defaults and columns are both empty"),
        ("defaults: {include: maybe}\n", "`include` of the defaults"),
        ("defaults: {colour: red}\n", "invalid key(s) in column defaults: ['colour']"),
        ("columns: [{clientname: x}]\n", "required key(s) missing from column"),
        ("columns: [{name: A, nope: 1}]\n", "invalid key(s) in column configuration: ['nope']"),
        ("columns: [{name: A, include: no}]\n", "`includeclient` requires option `include`"),
        ("columns: [{name: A, position: x}]\n", "`position` of 'A' must be an int"),
        ("columns: [{name: A, clientvalue: '{{ other }}'}]\n", "{{ other }} is not supported"),
        ("columns: [{name: A, clientvalue: '{% for x in y %}'}]\n", "is not supported"),
        ("columns: [{group: {namespace: n}}]\n", "missing from group configuration"),
        ("columns: [{group: {namespace: '', columns: [{name: A}]}}]\n", "empty namespace"),
        ("columns: [{name: A}]\nadvanced: {speed: 1}\n", "unknown advanced option(s)"),
        ("columns: [{name: A}]\nadvanced: {primary_group_keys: [{keys: [A]}]}\n", "invalid prim"),
    ],
)
def test_bad_configurations_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_config(text)
    assert message in error.value.message
    assert error.value.message.startswith("bulkmap configuration: ")


def test_columns_must_exist_and_positions_fit() -> None:
    with pytest.raises(InvalidInput, match="column 'Gene' is not in the table"):
        output_groups(parse_config("columns: [{name: Gene}]\n"), HEADERS)
    config = parse_config(
        "defaults: {include: no, includeclient: no}\n"
        "columns: [{name: Notes, include: yes, position: 3}]\n"
    )
    with pytest.raises(InvalidInput, match="no column for position 1"):
        output_groups(config, HEADERS)


def test_plan_shares_annotations_by_primary_key() -> None:
    plan = MapPlan({GENE: ["Gene Symbol"]})
    plan.seed(7, GENE, [("Gene Symbol", "ECT2"), ("Gene Identifier", "NM_1")])
    plan.add(GENE, [("Gene Symbol", "ECT2"), ("Gene Identifier", "NM_2")], [("image", 1)])
    plan.add(GENE, [("Gene Symbol", "ADE8")], [("image", 2)])
    plan.add(GENE, [("Gene Symbol", "ADE8")], [("image", 3), ("well", 4)])
    plan.add(NS_BULK, [("Notes", "x")], [("image", 1)])
    plan.add(NS_BULK, [("Notes", "x")], [("image", 2)])  # no primary key: one per row
    ect2, ade8, *unkeyed = plan.annotations()
    assert ect2.existing_id == 7 and ect2.changed
    assert ect2.pairs[-1] == ("Gene Identifier", "NM_2") and list(ect2.parents) == [("image", 1)]
    assert ade8.existing_id is None and list(ade8.parents) == [("image", 2), ("image", 3),
                                                              ("well", 4)]  # fmt: skip
    assert len(unkeyed) == 2
    with pytest.raises(KeyError):
        plan.add(GENE, [("Gene Identifier", "NM_3")], [("image", 5)])
    with pytest.raises(InvalidInput, match="duplicate key-value pairs"):
        plan.add(NS_BULK, [("a", "1"), ("a", "1")], [("image", 5)])
