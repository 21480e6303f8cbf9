"""JSON shapes per surface (omero-marshal, later imgData and search documents) and strict
parameter parsing; no SQL, no numpy."""
