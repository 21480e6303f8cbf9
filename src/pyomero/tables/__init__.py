"""Bulk-annotation tables: Parquet storage and the OMERO.tables query language.

Empty until the annotations and tables issue lands; the package exists so that the layer
contracts in pyproject.toml hold from the first commit.
"""
