"""Pixels: sources, the OME-Zarr store, rendering and encoding (DESIGN.md "Layers").

- ``source``: the ``PixelSource`` protocol and the metadata an import reads;
- ``formats`` (with ``tiff_source``, ``zarr_source``, ``image_source``, ``ome_xml``): reading
  OME-TIFF, TIFF, PNG/JPEG and OME-Zarr files, in place or for import;
- ``zarr_store``: the instance's OME-Zarr store, written streaming with a pyramid;
- ``render``, ``luts``, ``encode``, ``shapes``: OMERO's rendering maths, lookup tables,
  JPEG/PNG/TIFF, and shapes drawn on thumbnails;
- ``synthetic``: cell-like demo images.

Never imports ``store`` (and ``store`` never imports this): services join the two.
"""
