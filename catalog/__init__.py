"""Catalogues as data: the bundle format, the demo world and importers of foreign formats."""

from catalog.errors import ConciergeError

__all__ = ["ConciergeError"]
