"""Importers of catalogues that are not yet bundles.

`table` reads a retailer's plain CSV or JSON-lines product table. Each importer returns a
`(Bundle, ValidationReport)` pair, like `catalog.bundle.read_bundle`.
"""

from catalog.importers.table import parse_map, read_table

__all__ = ["parse_map", "read_table"]
