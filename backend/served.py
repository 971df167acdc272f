"""The served catalogue (read side): which version is served, its index, and search and statistics
as the UI and the CLI need them. The importer writes versions; everything else reads them here."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from sqlalchemy import Engine
from sqlmodel import select

from backend.index import CatalogIndex
from backend.settings import Settings, get_settings
from backend.store import session
from backend.tables import CatalogVersion
from catalog.errors import ConciergeError
from catalog.prices import catalogue_currency


def active_version(engine: Engine | None = None) -> CatalogVersion | None:
    """The catalogue version being served (the newest import), or None before any import."""
    with session(engine) as s:
        return s.exec(select(CatalogVersion).order_by(CatalogVersion.id.desc())).first()


def active_index(settings: Settings | None = None, engine: Engine | None = None) -> CatalogIndex:
    """The live catalogue index. Raises ConciergeError when nothing was imported yet."""
    version = active_version(engine)
    if version is None:
        raise ConciergeError("the catalogue is empty; run `concierge seed-demo` or `concierge import PATH` first")
    return CatalogIndex.open(version.collection, settings)


def catalogue_filter(category: str | None = None, max_price: float | None = None) -> dict | None:
    """A Chroma `where` filter from the page's controls (None when there is nothing to filter)."""
    clauses = []
    if category:
        key = "category_group" if category.lower() in category_choices()[1] else "category"
        clauses.append({key: category.lower()})
    if max_price is not None:
        if max_price < 0:
            raise ConciergeError("the maximum price must not be negative")
        clauses.append({"price": {"$lte": float(max_price)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def category_choices() -> tuple[list[str], set[str]]:
    """The live catalogue's categories and category groups (lower case), read from the catalogue itself."""
    version = active_version()
    return _categories(version.collection) if version is not None else ([], set())


def live_currency() -> str | None:
    """The currency most items of the live catalogue are priced in (None: empty, unknown, or unreadable)."""
    try:
        version = active_version()
        return _currency(version.collection) if version is not None else None
    except Exception:  # noqa: BLE001 - a price is still shown, as a plain number
        return None


@lru_cache(maxsize=2)
def _currency(collection: str) -> str | None:
    return catalogue_currency(active_index().items())


@lru_cache(maxsize=2)
def _categories(collection: str) -> tuple[list[str], set[str]]:
    items = active_index().items()
    categories = {str(it["category"]).lower() for it in items if it.get("category")}
    groups = {str(g).lower() for it in items if (g := (it.get("attributes") or {}).get("category_group"))}
    return sorted(groups | categories), groups


def search_catalogue(text: str, k: int = 10, category: str | None = None,
                     max_price: float | None = None) -> list[dict]:
    """Semantic search of the live catalogue.

    Returns:
        `list[dict]`: rows with item_id, title, brand, category, price, currency, score, best first.
    """
    text = (text or "").strip()
    if not text:
        raise ConciergeError("type what you are looking for")
    limit = get_settings().max_request_chars
    if len(text) > limit:
        raise ConciergeError(f"the search text has {len(text)} characters; the limit is {limit}")
    if not 1 <= k <= 200:
        raise ConciergeError("k must be between 1 and 200")
    hits = active_index().search(text, k=k, where=catalogue_filter(category, max_price))
    return [{"item_id": h.item["item_id"], "title": h.item["title"], "brand": h.item.get("brand", ""),
             "category": h.item.get("category", ""), "price": h.item.get("price"),
             "currency": h.item.get("currency"), "score": round(h.score, 3)} for h in hits]


def catalogue_stats() -> dict:
    """Counts of the live catalogue: items per category group and per house, price range."""
    version = active_version()
    if version is None:
        return {"items": 0}
    items = active_index().items()
    prices = [it["price"] for it in items if it.get("price") is not None]
    return {
        "name": version.name,
        "version": version.id,
        "imported": version.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "items": len(items),
        "houses": len({it.get("brand") for it in items if it.get("brand")}),
        "per_group": dict(Counter(it.get("attributes", {}).get("category_group", "other") for it in items)
                          .most_common()),
        "price_min": min(prices) if prices else None,
        "price_max": max(prices) if prices else None,
        "currency": catalogue_currency(items),
    }
