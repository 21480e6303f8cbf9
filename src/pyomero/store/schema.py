"""The SQL schema: one set of tables for SQLite and PostgreSQL.

Table and column names follow OMERO's model (``projectdatasetlink``, ``parent``/``child``,
``owner_id``/``group_id`` details) so that HQL and people who know OMERO's database find
their way. Every object table carries details: owner, group, creation and update events.
Alembic migrations in ``store/migrations`` create these tables; this module is their source.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# Ids are BIGINT on PostgreSQL and INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _pk() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, *, nullable: bool = False, ondelete: str | None = None) -> Column:
    return Column(name, Id, ForeignKey(f"{target}.id", ondelete=ondelete), nullable=nullable)


def _details() -> list[Column]:
    return [
        _fk("owner_id", "experimenter"),
        _fk("group_id", "experimentergroup"),
        _fk("creation_event_id", "event"),
        _fk("update_event_id", "event"),
    ]


experimenter = Table(
    "experimenter",
    metadata,
    _pk(),
    Column("omename", String(255), nullable=False, unique=True),
    Column("firstname", String(255), nullable=False),
    Column("middlename", String(255), nullable=False, default=""),
    Column("lastname", String(255), nullable=False),
    Column("email", String(255), nullable=False, default=""),
    Column("institution", String(255)),
    Column("ldap", Boolean, nullable=False, default=False),
    Column("password_hash", String(255)),
)

experimentergroup = Table(
    "experimentergroup",
    metadata,
    _pk(),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text),
    Column("permissions", String(6), nullable=False),
    Column("ldap", Boolean, nullable=False, default=False),
)

groupexperimentermap = Table(
    "groupexperimentermap",
    metadata,
    _pk(),
    _fk("parent", "experimentergroup", ondelete="CASCADE"),
    _fk("child", "experimenter", ondelete="CASCADE"),
    Column("owner", Boolean, nullable=False, default=False),
    Column("child_index", Integer, nullable=False, default=0),
    UniqueConstraint("parent", "child", name="uq_groupexperimentermap_parent_child"),
    Index("ix_groupexperimentermap_child", "child"),
)

session = Table(
    "session",
    metadata,
    _pk(),
    Column("uuid", String(64), nullable=False, unique=True),
    _fk("experimenter_id", "experimenter", ondelete="CASCADE"),
    _fk("group_id", "experimentergroup"),
    Column("started", DateTime, nullable=False),
    Column("last_access", DateTime, nullable=False),
    Column("time_to_idle", Integer, nullable=False),
    Column("closed", DateTime),
    Column("user_agent", String(255)),
    # Rendering settings copied with webgateway's copyImgRDef, as OMERO.web keeps them in
    # the web session (JSON of the ``getImgRDef`` shape).
    Column("copied_rdef", Text),
)

event = Table(
    "event",
    metadata,
    _pk(),
    Column("experimenter_id", Id, nullable=False),
    Column("group_id", Id, nullable=False),
    Column("session_id", Id),
    Column("type", String(32), nullable=False),
    Column("time", DateTime, nullable=False),
)


def _object_table(name: str, *columns: Column | Index | UniqueConstraint) -> Table:
    table = Table(name, metadata, _pk(), *columns, *_details())
    Index(f"ix_{name}_group_owner", table.c.group_id, table.c.owner_id)
    Index(f"ix_{name}_owner", table.c.owner_id)
    return table


def _named_table(name: str, *columns: Column | Index | UniqueConstraint) -> Table:
    """An object table with a ``name`` column, indexed for OMERO's ``lower(name), id`` order."""
    table = _object_table(name, Column("name", String(255), nullable=False), *columns)
    Index(f"ix_{name}_lower_name", func.lower(table.c.name), table.c.id)
    return table


def _link_table(name: str, parent: str, child: str) -> Table:
    table = _object_table(
        name,
        _fk("parent", parent, ondelete="CASCADE"),
        _fk("child", child, ondelete="CASCADE"),
        UniqueConstraint("parent", "child", name=f"uq_{name}_parent_child"),
    )
    Index(f"ix_{name}_child", table.c.child)
    return table


project = _named_table(
    "project",
    Column("description", Text),
)

dataset = _named_table(
    "dataset",
    Column("description", Text),
)

originalfile = _object_table(
    "originalfile",
    Column("name", String(255), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("hash", String(64)),
    Column("hasher", String(16)),
    Column("mimetype", String(255)),
    # Where the bytes are: relative to the instance's files/ directory, or an absolute path
    # under an import root for files registered in place (``--transfer ln_s``).
    Column("location", String(2048), nullable=False),
)

fileset = _object_table(
    "fileset",
    Column("templateprefix", String(1024), nullable=False),
)

filesetentry = Table(
    "filesetentry",
    metadata,
    _pk(),
    _fk("fileset", "fileset", ondelete="CASCADE"),
    _fk("originalfile", "originalfile"),
    Column("fileset_index", Integer, nullable=False),
    Column("clientpath", String(2048), nullable=False),
    UniqueConstraint("fileset", "fileset_index", name="uq_filesetentry_fileset_index"),
    Index("ix_filesetentry_originalfile", "originalfile"),
)

image = _named_table(
    "image",
    Column("description", Text),
    Column("acquisition_date", DateTime),
    Column("archived", Boolean),
    Column("partial", Boolean),
    Column("series", Integer),
    Column("format", String(64)),
    _fk("fileset", "fileset", nullable=True),
)
Index("ix_image_fileset", image.c.fileset)

projectdatasetlink = _link_table("projectdatasetlink", "project", "dataset")
datasetimagelink = _link_table("datasetimagelink", "dataset", "image")

pixels = _object_table(
    "pixels",
    _fk("image", "image", ondelete="CASCADE"),
    Column("sizex", Integer, nullable=False),
    Column("sizey", Integer, nullable=False),
    Column("sizez", Integer, nullable=False),
    Column("sizec", Integer, nullable=False),
    Column("sizet", Integer, nullable=False),
    Column("pixelstype", String(16), nullable=False),
    Column("dimensionorder", String(8), nullable=False),
    Column("physicalsizex", Float),
    Column("physicalsizexunit", String(32)),
    Column("physicalsizey", Float),
    Column("physicalsizeyunit", String(32)),
    Column("physicalsizez", Float),
    Column("physicalsizezunit", String(32)),
    Column("significantbits", Integer),
    Column("sha1", String(64)),
    Column("timeincrement", Float),
    Column("timeincrementunit", String(32)),
    Column("methodology", String(255)),
    Column("waveincrement", Float),
    Column("wavestart", Integer),
    # Where the pixels are: "ome-zarr" (relative to the instance's pixels/ directory) or the
    # format of a file registered in place (absolute path); ``pixelseries`` picks the series.
    Column("pixelstore", String(64)),
    Column("pixelpath", String(2048)),
    Column("pixelseries", Integer),
    UniqueConstraint("image", name="uq_pixels_image"),
)

channel = _object_table(
    "channel",
    _fk("pixels", "pixels", ondelete="CASCADE"),
    Column("index", Integer, nullable=False),
    Column("red", Integer),
    Column("green", Integer),
    Column("blue", Integer),
    Column("alpha", Integer),
    Column("lookuptable", String(255)),
    Column("name", String(255)),
    Column("emissionwave", Float),
    Column("emissionwaveunit", String(32)),
    Column("excitationwave", Float),
    Column("excitationwaveunit", String(32)),
    Column("fluor", String(255)),
    Column("ndfilter", Float),
    Column("pinholesize", Float),
    Column("pinholesizeunit", String(32)),
    Column("pockelcellsetting", Integer),
    Column("samplesperpixel", Integer),
    Column("contrastmethod", String(64)),
    Column("illumination", String(64)),
    Column("mode", String(64)),
    Column("photometricinterpretation", String(64)),
    # OMERO's StatsInfo globalMin/globalMax, computed at import.
    Column("statsmin", Float),
    Column("statsmax", Float),
    UniqueConstraint("pixels", "index", name="uq_channel_pixels_index"),
)

renderingdef = _object_table(
    "renderingdef",
    _fk("pixels", "pixels", ondelete="CASCADE"),
    Column("defaultz", Integer, nullable=False),
    Column("defaultt", Integer, nullable=False),
    Column("model", String(16), nullable=False),
    Column("invertaxis", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=0),
)
UniqueConstraint(
    renderingdef.c.pixels, renderingdef.c.owner_id, name="uq_renderingdef_pixels_owner"
)

channelbinding = Table(
    "channelbinding",
    metadata,
    _fk("renderingdef", "renderingdef", ondelete="CASCADE"),
    Column("index", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("inputstart", Float, nullable=False),
    Column("inputend", Float, nullable=False),
    Column("family", String(16), nullable=False),
    Column("coefficient", Float, nullable=False),
    Column("noisereduction", Boolean, nullable=False),
    Column("red", Integer, nullable=False),
    Column("green", Integer, nullable=False),
    Column("blue", Integer, nullable=False),
    Column("alpha", Integer, nullable=False),
    Column("lookuptable", String(255)),
    Column("reverseintensity", Boolean, nullable=False),
    UniqueConstraint("renderingdef", "index", name="uq_channelbinding_renderingdef_index"),
)

screen = _named_table(
    "screen",
    Column("description", Text),
    Column("protocoldescription", Text),
    Column("protocolidentifier", String(255)),
    Column("reagentsetdescription", Text),
    Column("reagentsetidentifier", String(255)),
    Column("type", String(255)),
)

plate = _named_table(
    "plate",
    Column("description", Text),
    Column("columnnamingconvention", String(16)),
    Column("rownamingconvention", String(16)),
    Column("columns", Integer),
    Column("rows", Integer),
    Column("defaultsample", Integer),
    Column("externalidentifier", String(255)),
    Column("status", String(255)),
    Column("wellorigin_x", Float),
    Column("wellorigin_xunit", String(32)),
    Column("wellorigin_y", Float),
    Column("wellorigin_yunit", String(32)),
)

screenplatelink = _link_table("screenplatelink", "screen", "plate")

plateacquisition = _object_table(
    "plateacquisition",
    _fk("plate", "plate", ondelete="CASCADE"),
    Column("name", String(255)),
    Column("description", Text),
    Column("maximumfieldcount", Integer),
    Column("starttime", DateTime),
    Column("endtime", DateTime),
)
Index("ix_plateacquisition_plate", plateacquisition.c.plate)

well = _object_table(
    "well",
    _fk("plate", "plate", ondelete="CASCADE"),
    Column("column", Integer, nullable=False),
    Column("row", Integer, nullable=False),
    Column("externaldescription", Text),
    Column("externalidentifier", String(255)),
    Column("type", String(255)),
    Column("red", Integer),
    Column("green", Integer),
    Column("blue", Integer),
    Column("alpha", Integer),
    Column("status", String(255)),
    UniqueConstraint("plate", "row", "column", name="uq_well_plate_row_column"),
)

wellsample = _object_table(
    "wellsample",
    _fk("well", "well", ondelete="CASCADE"),
    Column("well_index", Integer, nullable=False),
    _fk("image", "image"),
    _fk("plateacquisition", "plateacquisition", nullable=True, ondelete="SET NULL"),
    Column("posx", Float),
    Column("posxunit", String(32)),
    Column("posy", Float),
    Column("posyunit", String(32)),
    Column("timepoint", DateTime),
    UniqueConstraint("well", "well_index", name="uq_wellsample_well_index"),
)
Index("ix_wellsample_image", wellsample.c.image)
Index("ix_wellsample_plateacquisition", wellsample.c.plateacquisition)

roi = _object_table(
    "roi",
    _fk("image", "image", nullable=True, ondelete="CASCADE"),
    Column("name", String(255)),
    Column("description", Text),
)
Index("ix_roi_image", roi.c.image)

shape = _object_table(
    "shape",
    _fk("roi", "roi", ondelete="CASCADE"),
    Column("roi_index", Integer, nullable=False, default=0),
    Column("discriminator", String(16), nullable=False),
    Column("thez", Integer),
    Column("thet", Integer),
    Column("thec", Integer),
    Column("fillcolor", Integer),
    Column("fillrule", String(32)),
    Column("strokecolor", Integer),
    Column("strokewidth", Float),
    Column("strokewidthunit", String(32)),
    Column("strokedasharray", String(255)),
    Column("fontfamily", String(255)),
    Column("fontsize", Float),
    Column("fontsizeunit", String(32)),
    Column("fontstyle", String(64)),
    Column("locked", Boolean),
    Column("textvalue", Text),
    Column("transform", String(255)),
    Column("x", Float),
    Column("y", Float),
    Column("width", Float),
    Column("height", Float),
    Column("radiusx", Float),
    Column("radiusy", Float),
    Column("x1", Float),
    Column("y1", Float),
    Column("x2", Float),
    Column("y2", Float),
    Column("points", Text),
    Column("markerstart", String(32)),
    Column("markerend", String(32)),
    Column("bytes", LargeBinary),
)
Index("ix_shape_roi", shape.c.roi)

annotation = _object_table(
    "annotation",
    Column("discriminator", String(16), nullable=False),
    Column("ns", String(255)),
    Column("description", Text),
    Column("textvalue", Text),
    Column("longvalue", BigInteger),
    Column("doublevalue", Float),
    Column("boolvalue", Boolean),
    Column("timevalue", DateTime),
    Column("termvalue", String(255)),
    Column("file", Id),
)
Index("ix_annotation_discriminator_ns", annotation.c.discriminator, annotation.c.ns)

annotation_mapvalue = Table(
    "annotation_mapvalue",
    metadata,
    _fk("annotation_id", "annotation", ondelete="CASCADE"),
    Column("index", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", Text, nullable=False),
    UniqueConstraint("annotation_id", "index", name="uq_annotation_mapvalue_annotation_id_index"),
)

#: The annotatable types and their link tables (``<type>annotationlink``).
ANNOTATABLE = {
    "project": project,
    "dataset": dataset,
    "image": image,
    "screen": screen,
    "plate": plate,
    "plateacquisition": plateacquisition,
    "well": well,
    "roi": roi,
    "shape": shape,
    "channel": channel,
    "experimenter": experimenter,
    "experimentergroup": experimentergroup,
}
annotation_links = {
    name: _link_table(f"{name}annotationlink", name, "annotation") for name in ANNOTATABLE
}

#: Tag sets (TagAnnotations with ns ``openmicroscopy.org/omero/insight/tagset``) hold their
#: tags through OMERO's AnnotationAnnotationLink: parent the set, child the tag (migration 0006).
annotationannotationlink = _link_table("annotationannotationlink", "annotation", "annotation")

# -- key-value search (migrations 0003, 0004) ----------------------------------------------
#
# The IDR search engine matches keys and values without regard to case, so the B-tree is on
# the lower-cased pair: it serves exact, ``in`` and range searches and the per-key value
# buckets. Substring search has its own index, which SQLAlchemy cannot describe: an FTS5
# table with the trigram tokenizer on SQLite (external content, kept in step by triggers),
# a pg_trgm GIN index on ``lower(value)`` on PostgreSQL. Both live inside the database, so a
# pair is searchable the moment its transaction commits.
#
# The B-tree holds a bounded prefix of the value (migration 0004): PostgreSQL refuses an index
# entry over about 2.7 KB, and a map value may be far longer. Searches match the prefix through
# the index and recheck the whole value.
MAPVALUE_PREFIX = 256


def mapvalue_prefix(value: Any) -> Any:
    """``lower(substr(value, 1, MAPVALUE_PREFIX))``, with its constants inline so that both
    planners recognise the index expression."""
    return func.lower(func.substr(value, literal_column("1"), literal_column(str(MAPVALUE_PREFIX))))


Index(
    "ix_annotation_mapvalue_lower_name_value_prefix",
    func.lower(annotation_mapvalue.c.name),
    mapvalue_prefix(annotation_mapvalue.c.value),
)

#: The SQLite FTS5 table over ``annotation_mapvalue.value`` (and its shadow tables) and the
#: PostgreSQL trigram index. Migration 0003 makes them with raw SQL; schema comparison
#: (autogenerate, the migration test) must skip them, see :func:`include_name`.
MAPVALUE_FTS = "annotation_mapvalue_fts"
MAPVALUE_TRGM = "ix_annotation_mapvalue_value_trgm"
#: The per-value object counts behind ``searchvaluesusingkey`` and their per-key state
#: (migration 0005), tables kept by triggers that migration makes with raw SQL, and the
#: longest value they count (a longer one sends its key to the exact scan).
MAPVALUE_COUNT = "annotation_mapvalue_count"
MAPVALUE_KEY = "annotation_mapvalue_key"
MAPVALUE_COUNT_LIMIT = 100
_UNDECLARED = {
    ("table", MAPVALUE_FTS + suffix) for suffix in ("", "_config", "_data", "_docsize", "_idx")
} | {("index", MAPVALUE_TRGM), ("table", MAPVALUE_COUNT), ("table", MAPVALUE_KEY)}


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: every reflected object except the search indexes."""
    return (type_, name) not in _UNDECLARED
