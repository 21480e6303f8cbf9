"""Pixel sources, OME-Zarr writers, statistics, rendering and encoding (DESIGN.md "Layers").

Empty until the pixels issue lands; the package exists so that the layer contracts in
pyproject.toml (pixels never imports store, and the reverse) hold from the first commit.
"""
