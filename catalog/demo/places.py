"""Places a client travels to, and what a place and a season imply.

Each place has a country, a setting, the climate of each season (hot, warm, mild, cool, cold;
with a flag when rain is likely), the formality its occasions usually keep, and the occasions
that plausibly happen there. `implied_context` turns (occasion, place, season) into the facts an
implicit request leaves unsaid: climate, rain, daytime or evening, outdoor or indoor, the
formality levels that fit and the palettes that suit. The places themselves are data, in
`data/places.json`.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.demo.tables import load_table
from catalog.demo.vocab import FORMALITY, OCCASIONS, SEASONS

# The item seasons that suit a climate: a winter in Dubai is hot, so it asks for summer pieces.
CLIMATE_SEASONS: dict[str, tuple[str, ...]] = {
    "hot": ("summer",),
    "warm": ("spring", "summer"),
    "mild": ("spring", "autumn"),
    "cool": ("autumn", "winter"),
    "cold": ("winter",),
}


@dataclass(frozen=True)
class Place:
    """A destination.

    country: where it is.
    prep: the preposition before its name ("in Milan", "on the Amalfi Coast").
    setting: city, coast, island, countryside, lake or mountain.
    climate: season -> (climate, rain likely).
    formality: the level people there usually dress to (index into FORMALITY).
    occasions: occasions that plausibly take a client there.
    """

    country: str
    prep: str
    setting: str
    climate: dict[str, tuple[str, bool]]
    formality: int
    occasions: tuple[str, ...]


def _climate(
    spring: str, summer: str, autumn: str, winter: str, wet: tuple[str, ...] = ()
) -> dict[str, tuple[str, bool]]:
    # `wet` lists the seasons when rain is likely.
    values = (spring, summer, autumn, winter)
    return {season: (value, season in wet) for season, value in zip(SEASONS, values)}


def _place(row: dict) -> Place:
    """A row of `places.json` as a `Place`."""
    return Place(row["country"], row["prep"], row["setting"], _climate(*row["climate"], wet=tuple(row["wet"])),
                 row["formality"], tuple(row["occasions"]))


PLACES: dict[str, Place] = {name: _place(row) for name, row in load_table("places")["places"].items()}


def formality_levels(occasion: str | None, place: Place | None) -> list[str] | None:
    """The formality levels that fit an occasion at a place.

    The occasion gives a range; a place's dress code raises its floor when the code lies
    within that range (a business dinner in Milan is formal, not merely business).

    Args:
        occasion (`str | None`): a name from OCCASIONS, or None for no occasion.
        place (`Place | None`): where it happens.

    Returns:
        `list[str] | None`: level names, or None when nothing constrains formality.
    """
    if occasion is None:
        return None
    low, high = OCCASIONS[occasion].formality
    if place is not None and low <= place.formality <= high:
        low = place.formality
    return list(FORMALITY[low:high + 1])


def implied_palettes(evening: bool, outdoor: bool, climate: str | None,
                     season: str | None) -> list[str] | None:
    """The palettes a setting suggests, or None when it suggests none.

    An evening in a cool season asks for dark or neutral tones; a hot or warm day outside asks
    for light, bright or neutral ones.

    Args:
        evening (`bool`): after dark.
        outdoor (`bool`): mostly outside.
        climate (`str | None`): a key of CLIMATE_SEASONS.
        season (`str | None`): the calendar season.

    Returns:
        `list[str] | None`: allowed palettes.
    """
    if evening and (climate in ("cool", "cold") or (climate is None and season in ("autumn", "winter"))):
        return ["dark", "neutral"]
    if not evening and outdoor and climate in ("hot", "warm"):
        return ["light", "bright", "neutral"]
    return None


def implied_context(occasion: str | None, place_name: str | None, season: str | None) -> dict:
    """The facts an implicit request leaves unsaid, for one occasion at one place and season.

    Args:
        occasion (`str | None`): a name from OCCASIONS (None: no occasion named).
        place_name (`str | None`): a key of PLACES (None: no place named).
        season (`str | None`): the calendar season (None: not said).

    Returns:
        `dict`: occasion, place, country, season, climate, wet, time ("daytime"/"evening"),
        setting ("outdoor"/"indoor"), formality (allowed levels or None), palette (allowed
        palettes or None) and must_not_colours (a wedding guest does not wear white).
    """
    place = PLACES[place_name] if place_name else None
    climate, wet = (place.climate[season] if place and season else (None, False))
    spec = OCCASIONS[occasion] if occasion else None
    evening = bool(spec and spec.evening)
    outdoor = bool(spec and spec.outdoor) or bool(
        place and occasion in ("wedding", "weekend") and place.setting != "city"
    )
    return {
        "occasion": occasion,
        "place": place_name,
        "country": place.country if place else None,
        "season": season,
        "climate": climate,
        "wet": wet,
        "time": "evening" if evening else "daytime",
        "setting": "outdoor" if outdoor else "indoor",
        "formality": formality_levels(occasion, place),
        "palette": implied_palettes(evening, outdoor, climate, season),
        "must_not_colours": ["white", "ivory"] if occasion == "wedding" else [],
    }
