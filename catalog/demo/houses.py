"""The fictional houses of the demo world.

Thirty-eight invented maisons from nine countries. Each has a heritage line, a signature craft,
a branding style, a price tier, the category groups it specialises in (a watchmaker sells mostly
watches), materials it favours, and a voice its copywriters keep. None of the names is meant to
be, or to evoke, a real brand. The houses and their model-line names are data, in
`data/houses.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.demo.tables import load_table, tuples

TIER_PRICE = {"accessible-luxury": 0.55, "luxury": 1.0, "haute": 2.2}

COUNTRY_ADJECTIVE = {
    "Italy": "Italian",
    "France": "French",
    "UK": "British",
    "Switzerland": "Swiss",
    "Spain": "Spanish",
    "Japan": "Japanese",
    "Belgium": "Belgian",
    "Monaco": "Monegasque",
    "USA": "American",
    "UAE": "Emirati",
    "Morocco": "Moroccan",
    "Greece": "Greek",
    "Austria": "Austrian",
}


@dataclass(frozen=True)
class House:
    """A fictional luxury house.

    name, country, city, founded: who and where.
    heritage: a heritage line ("saddlers in Florence since 1921").
    craft: the signature craft technique.
    branding: discreet, moderate or logo-forward.
    price_tier: accessible-luxury, luxury or haute.
    groups: category group -> share of the house's pieces.
    categories: optional group -> the only fine categories it makes in that group.
    favours: material -> weight multiplier (a cashmere mill favours cashmere).
    voice: lyrical, precise, understated, warm or bold; picks the closing lines of its copy.
    size: relative number of pieces it has in the catalogue.
    """

    name: str
    country: str
    city: str
    founded: int
    heritage: str
    craft: str
    branding: str
    price_tier: str
    groups: dict[str, float]
    voice: str
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    favours: dict[str, float] = field(default_factory=dict)
    size: float = 1.0

    def row(self) -> dict:
        """The house as a plain dict (what `DemoWorld.houses` holds)."""
        return {
            "name": self.name,
            "country": self.country,
            "city": self.city,
            "founded": self.founded,
            "heritage": self.heritage,
            "craft": self.craft,
            "branding": self.branding,
            "price_tier": self.price_tier,
            "specialities": sorted(self.groups, key=lambda g: (-self.groups[g], g)),
            "voice": self.voice,
        }


def _house(row: dict) -> House:
    """A row of `houses.json` as a `House` (its fine categories are tuples)."""
    return House(**{**row, "categories": tuples(row.get("categories", {}))})


_TABLES = load_table("houses")
HOUSES: tuple[House, ...] = tuple(_house(row) for row in _TABLES["houses"])

HOUSE_BY_NAME: dict[str, House] = {house.name: house for house in HOUSES}

# Invented model-line names, by the country whose language they borrow.
MODEL_NAMES: dict[str, tuple[str, ...]] = tuples(_TABLES["model_names"])
