"""Bulk-annotation tables: Parquet storage (``storage``), the OMERO.tables query language
(``query``) and omero-metadata's CSV rules (``csv_populate``). Independent of ``store`` and
``pixels``; services join them.
"""
