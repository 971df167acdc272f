"""Which craft technique an item can truthfully claim.

A house's signature craft applies only to pieces it can apply to: guilloché is a dial technique,
so a watchmaker's card holder is finished another way; "hand-forged titanium frames" needs
titanium. `item_craft` returns the house's craft when it fits and an honest generic technique
for the piece otherwise.
"""

from __future__ import annotations

from catalog.demo.vocab import CATEGORIES

LEATHERS = ("calfskin", "grained calfskin", "lambskin", "suede", "patent leather", "crocodile", "ostrich")
SILKS = ("silk twill", "silk satin", "silk chiffon", "silk crepe")
GOLDS = ("yellow gold", "white gold", "rose gold", "platinum")
WATCHES = ("dress watch", "chronograph", "diving watch", "jewellery watch")

# craft -> (fine categories it applies to or None for any, materials of which one must be present or None)
CRAFT_RULES: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...] | None]] = {
    "hand-stitched saddle stitch": (None, LEATHERS),
    "Blake-stitched soles": (("loafer", "pump", "ankle boot", "knee boot", "oxford", "mule"), None),
    "hand-rolled hems": (("scarf", "pocket square", "stole"), SILKS),
    "bulino hand-engraving": (None, GOLDS),
    "hand-padded canvas tailoring": (("blazer", "coat", "dinner jacket"), None),
    "laser-cut leather appliqué": (None, ("calfskin", "lambskin", "suede", "grained calfskin")),
    "fully-fashioned cashmere knitting": (("knitwear",), ("cashmere", "wool")),
    "hand-woven intrecciato leather": (None, ("calfskin", "lambskin")),
    "hand-polished acetate": (None, ("acetate",)),
    "hand-cut Caprese sandals": (("sandal", "heeled sandal"), None),
    "hand-painted lacquered edges": (None, LEATHERS),
    "plissé silk": (("dress", "evening gown", "skirt", "scarf", "stole", "shirt"), SILKS),
    "invisible setting": (None, ("diamond", "sapphire", "ruby")),
    "Lunéville hook embroidery": (None, SILKS + ("velvet", "wool", "cotton", "linen")),
    "Goodyear welting": (("loafer", "ankle boot", "knee boot", "oxford"), None),
    "hand-screen-printed silk twill": (None, ("silk twill",)),
    "monogram-coated canvas": (None, ("canvas",)),
    "hand-riveted hinges": (("sunglasses", "optical frame"), ("acetate",)),
    "hand-embroidered broderie anglaise": (None, ("cotton", "linen")),
    "hand-punched brogueing": (("oxford", "loafer", "ankle boot"), ("calfskin", "suede", "grained calfskin")),
    "bespoke hand-cut tailoring": (("blazer", "coat", "trousers", "dinner jacket"), None),
    "hand-linked cashmere": (("knitwear", "stole"), ("cashmere", "wool")),
    "hand-burnished edges": (None, LEATHERS),
    "signature check jacquard": (None, ("canvas", "cotton gabardine", "wool", "silk twill", "cashmere")),
    "guilloché dials": (WATCHES, None),
    "hand-finished Côtes de Genève": (WATCHES, None),
    "grand feu enamel dials": (("dress watch", "chronograph", "jewellery watch"), None),
    "hand-set pavé": (None, ("diamond",)),
    "hand-finished shearling": (None, ("shearling",)),
    "hand-burnished leather marquetry": (None, LEATHERS),
    "hand-sewn jute soles": (None, ("jute",)),
    "hand-embroidered silk": (None, SILKS),
    "hand-draped sculptural volumes": (
        ("dress", "evening gown", "coat", "skirt", "blazer"), SILKS + ("wool", "velvet", "cashmere")),
    "shibori dyeing": (None, SILKS + ("cotton", "linen")),
    "urushi-lacquered edges": (None, LEATHERS),
    "hand-forged titanium frames": (("sunglasses", "optical frame"), ("titanium",)),
    "sashiko stitching": (None, ("cotton", "canvas", "linen", "wool", "nylon")),
    "hand-polished brilliant cuts": (None, ("diamond",)),
}


def craft_fits(craft: str, category: str, materials: list[str]) -> bool:
    """Whether a craft technique can truthfully be claimed for a piece.

    Args:
        craft (`str`): a key of CRAFT_RULES.
        category (`str`): the piece's fine category.
        materials (`list[str]`): its materials.

    Returns:
        `bool`: True when the category and materials allow the technique.
    """
    categories, needed = CRAFT_RULES[craft]
    if categories is not None and category not in categories:
        return False
    return needed is None or any(m in needed for m in materials)


def generic_craft(category: str, materials: list[str]) -> str:
    """An honest, ordinary technique for a piece whose house craft does not apply.

    Args:
        category (`str`): the piece's fine category.
        materials (`list[str]`): its materials; the first is the main one.

    Returns:
        `str`: the technique.
    """
    group, main = CATEGORIES[category].group, materials[0]
    if group == "shoes":
        return "hand-braided jute soles" if "jute" in materials else "hand-lasted uppers"
    if group == "watches":
        return "hand-assembled movement"
    if group == "jewellery":
        return "hand-set stones" if len(materials) > 1 else "hand-polished metalwork"
    if group == "eyewear":
        return "hand-polished acetate" if main == "acetate" else "hand-finished titanium"
    if group == "silk":
        if category in ("tie", "bow tie"):
            return "hand-slipped construction"
        return "hand-rolled hems" if main in SILKS else "hand-fringed edges"
    if group == "ready-to-wear":
        if category == "knitwear":
            return "hand-linked seams"
        tailored = category in ("blazer", "coat", "dinner jacket")
        return "half-canvas construction" if tailored else "hand-sewn seams"
    if main == "raffia":
        return "hand-crocheted raffia"
    if main in ("canvas", "nylon"):
        return "hand-stitched leather trims"
    return "hand-painted edges"


def item_craft(house_craft: str, category: str, materials: list[str]) -> str:
    """The technique an item claims: the house's signature when it fits, else a generic one.

    Args:
        house_craft (`str`): the house's signature craft.
        category (`str`): the piece's fine category.
        materials (`list[str]`): its materials.

    Returns:
        `str`: the technique.
    """
    if craft_fits(house_craft, category, materials):
        return house_craft
    return generic_craft(category, materials)
