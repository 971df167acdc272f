"""The fictional houses of the demo world.

Thirty-eight invented maisons from nine countries. Each has a heritage line, a signature craft,
a branding style, a price tier, the category groups it specialises in (a watchmaker sells mostly
watches), materials it favours, and a voice its copywriters keep. None of the names is meant to
be, or to evoke, a real brand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


TAILORING = ("blazer", "coat", "trousers", "shirt", "knitwear", "dinner jacket")

HOUSES: tuple[House, ...] = (
    # Italy
    House("Casa Vellani", "Italy", "Florence", 1921, "saddlers in Florence since 1921",
          "hand-stitched saddle stitch", "discreet", "luxury",
          {"bags": 0.6, "small-leather-goods": 0.3, "shoes": 0.1}, "warm",
          categories={"shoes": ("loafer", "ankle boot")}, favours={"calfskin": 2.0}, size=1.3),
    House("Aldobrandi Calzature", "Italy", "Montegranaro", 1948, "shoemakers in the Marche since 1948",
          "Blake-stitched soles", "discreet", "luxury",
          {"shoes": 0.85, "small-leather-goods": 0.15}, "precise",
          categories={"shoes": ("loafer", "pump", "ankle boot", "knee boot", "oxford", "mule"),
                      "small-leather-goods": ("belt",)}),
    House("Seterie Lariane", "Italy", "Como", 1896, "silk weavers on Lake Como since 1896",
          "hand-rolled hems", "moderate", "luxury",
          {"silk": 0.75, "ready-to-wear": 0.25}, "lyrical",
          categories={"ready-to-wear": ("dress", "shirt")}, favours={"silk twill": 2.0}),
    House("Orafi Benvenuti", "Italy", "Valenza", 1934, "goldsmiths in Valenza since 1934",
          "bulino hand-engraving", "discreet", "haute",
          {"jewellery": 0.9, "watches": 0.1}, "understated",
          categories={"watches": ("jewellery watch",)}, favours={"yellow gold": 2.0}, size=0.9),
    House("Bruschi Milano", "Italy", "Milan", 1957, "tailors in Milan since 1957",
          "hand-padded canvas tailoring", "discreet", "luxury",
          {"ready-to-wear": 0.7, "silk": 0.15, "shoes": 0.15}, "precise",
          categories={"ready-to-wear": TAILORING, "silk": ("tie", "pocket square"),
                      "shoes": ("loafer", "oxford")},
          favours={"wool": 2.0, "linen": 1.3}),
    House("Sforzi Milano", "Italy", "Milan", 1978, "a Milanese fashion house founded in 1978",
          "laser-cut leather appliqué", "logo-forward", "luxury",
          {"bags": 0.35, "ready-to-wear": 0.3, "shoes": 0.25, "eyewear": 0.1}, "bold", size=1.3),
    House("Lanificio Sesia", "Italy", "Biella", 1889, "wool and cashmere spinners in Biella since 1889",
          "fully-fashioned cashmere knitting", "discreet", "haute",
          {"ready-to-wear": 0.7, "silk": 0.3}, "understated",
          categories={"ready-to-wear": ("knitwear", "coat", "blazer", "trousers"), "silk": ("stole",)},
          favours={"cashmere": 4.0}),
    House("Ruffo Intrecci", "Italy", "Vicenza", 1966, "leather weavers in Vicenza since 1966",
          "hand-woven intrecciato leather", "discreet", "haute",
          {"bags": 0.6, "small-leather-goods": 0.25, "shoes": 0.15}, "understated",
          categories={"shoes": ("loafer", "sandal", "mule")}, favours={"lambskin": 3.0, "calfskin": 1.5}),
    House("Occhialeria Cadorina", "Italy", "Cadore", 1912, "spectacle makers in Cadore since 1912",
          "hand-polished acetate", "moderate", "accessible-luxury",
          {"eyewear": 1.0}, "precise", favours={"acetate": 5.0}, size=0.7),
    House("Donati Capri", "Italy", "Capri", 1952, "sandal makers on Capri since 1952",
          "hand-cut Caprese sandals", "moderate", "accessible-luxury",
          {"shoes": 0.45, "bags": 0.35, "ready-to-wear": 0.2}, "warm",
          categories={"shoes": ("sandal", "heeled sandal", "espadrille", "mule"),
                      "bags": ("tote", "bucket bag", "clutch", "crossbody"),
                      "ready-to-wear": ("dress", "shirt", "trousers")},
          favours={"raffia": 3.0, "linen": 3.0}),
    # France
    House("Maison Halléry", "France", "Paris", 1868, "trunk-makers in Paris since 1868",
          "hand-painted lacquered edges", "moderate", "haute",
          {"bags": 0.55, "small-leather-goods": 0.35, "silk": 0.1}, "lyrical",
          categories={"silk": ("scarf",)}, size=1.2),
    House("Atelier Sauvigny", "France", "Paris", 1931, "pleaters in Paris since 1931",
          "plissé silk", "moderate", "luxury",
          {"ready-to-wear": 0.6, "silk": 0.4}, "lyrical",
          categories={"ready-to-wear": ("dress", "evening gown", "skirt", "shirt"),
                      "silk": ("scarf", "stole")},
          favours={"silk chiffon": 3.0, "silk crepe": 2.0}),
    House("Lurcel Joaillier", "France", "Paris", 1902, "jewellers on the Place Vendôme since 1902",
          "invisible setting", "discreet", "haute",
          {"jewellery": 0.8, "watches": 0.2}, "understated",
          categories={"watches": ("jewellery watch", "dress watch")}, favours={"diamond": 2.0}),
    House("Maison Ravenne", "France", "Paris", 1961, "a Paris couture house since 1961",
          "Lunéville hook embroidery", "logo-forward", "luxury",
          {"ready-to-wear": 0.4, "bags": 0.3, "shoes": 0.15, "eyewear": 0.1, "silk": 0.05}, "bold", size=1.3),
    House("Souliers Castagne", "France", "Romans-sur-Isère", 1924,
          "bootmakers in Romans-sur-Isère since 1924",
          "Goodyear welting", "discreet", "luxury",
          {"shoes": 0.9, "small-leather-goods": 0.1}, "precise",
          categories={"shoes": ("loafer", "ankle boot", "knee boot", "oxford", "pump"),
                      "small-leather-goods": ("belt",)}),
    House("Carré Lenoir", "France", "Lyon", 1880, "silk printers in Lyon since 1880",
          "hand-screen-printed silk twill", "moderate", "luxury",
          {"silk": 0.85, "ready-to-wear": 0.15}, "lyrical",
          categories={"ready-to-wear": ("shirt", "dress")}, favours={"silk twill": 5.0}),
    House("Maison Aurèle", "France", "Paris", 1974, "a Parisian leather house founded in 1974",
          "monogram-coated canvas", "logo-forward", "accessible-luxury",
          {"bags": 0.5, "small-leather-goods": 0.3, "shoes": 0.1, "eyewear": 0.1}, "bold",
          categories={"shoes": ("sneaker", "loafer")}, favours={"canvas": 5.0}, size=1.3),
    House("Lunetiers Vauclair", "France", "Morez", 1896, "spectacle makers in the Jura since 1896",
          "hand-riveted hinges", "discreet", "luxury",
          {"eyewear": 1.0}, "precise", size=0.6),
    House("Maison Sorel", "France", "Saint-Tropez", 1969, "a Riviera house in Saint-Tropez since 1969",
          "hand-embroidered broderie anglaise", "moderate", "accessible-luxury",
          {"ready-to-wear": 0.5, "shoes": 0.3, "bags": 0.2}, "warm",
          categories={"ready-to-wear": ("dress", "shirt", "trousers", "skirt"),
                      "shoes": ("sandal", "espadrille", "mule"), "bags": ("tote", "bucket bag")},
          favours={"cotton": 3.0, "linen": 3.0}),
    # United Kingdom
    House("Ashcombe & Hale", "UK", "Northampton", 1879, "bootmakers in Northampton since 1879",
          "hand-punched brogueing", "discreet", "luxury",
          {"shoes": 0.85, "small-leather-goods": 0.15}, "understated",
          categories={"shoes": ("loafer", "oxford", "ankle boot", "sneaker")}, favours={"calfskin": 2.0}),
    House("Halloran & Finch", "UK", "London", 1902, "Savile Row tailors since 1902",
          "bespoke hand-cut tailoring", "discreet", "haute",
          {"ready-to-wear": 0.75, "silk": 0.25}, "precise",
          categories={"ready-to-wear": TAILORING, "silk": ("tie", "pocket square", "bow tie")},
          favours={"wool": 3.0}),
    House("Rutherford Mills", "UK", "Hawick", 1874, "knitters in the Scottish Borders since 1874",
          "hand-linked cashmere", "discreet", "luxury",
          {"ready-to-wear": 0.7, "silk": 0.3}, "warm",
          categories={"ready-to-wear": ("knitwear", "coat"), "silk": ("stole",)},
          favours={"cashmere": 4.0, "tweed": 2.0}),
    House("Marlow & Vane", "UK", "London", 1936, "London leather-goods makers since 1936",
          "hand-burnished edges", "moderate", "luxury",
          {"bags": 0.5, "small-leather-goods": 0.5}, "warm", favours={"grained calfskin": 2.0}),
    House("Kingsley Ward", "UK", "London", 1989, "a London label founded in 1989",
          "signature check jacquard", "logo-forward", "accessible-luxury",
          {"ready-to-wear": 0.35, "bags": 0.3, "shoes": 0.2, "silk": 0.15}, "bold",
          categories={"ready-to-wear": ("coat", "trench coat", "knitwear", "shirt"),
                      "shoes": ("sneaker", "ankle boot"), "silk": ("scarf",)},
          favours={"canvas": 2.0, "cotton gabardine": 3.0}, size=1.2),
    # Switzerland
    House("Aubert Vallorbe", "Switzerland", "Le Brassus", 1871,
          "watchmakers in the Vallée de Joux since 1871",
          "guilloché dials", "discreet", "haute",
          {"watches": 1.0}, "understated"),
    House("Léman Chronométrie", "Switzerland", "Geneva", 1919, "watchmakers in Geneva since 1919",
          "hand-finished Côtes de Genève", "moderate", "luxury",
          {"watches": 0.9, "small-leather-goods": 0.1}, "precise",
          categories={"small-leather-goods": ("card holder", "wallet")}),
    House("Brügger Zeitmesser", "Switzerland", "Biel", 1952, "watchmakers in Biel since 1952",
          "grand feu enamel dials", "moderate", "luxury",
          {"watches": 1.0}, "precise"),
    House("Maison Ebrard", "Switzerland", "Geneva", 1905, "jewellers in Geneva since 1905",
          "hand-set pavé", "discreet", "haute",
          {"jewellery": 0.75, "watches": 0.25}, "lyrical",
          categories={"watches": ("jewellery watch", "dress watch")}, favours={"diamond": 2.0}),
    House("Alpenfeld", "Switzerland", "St. Moritz", 1961, "outfitters in St. Moritz since 1961",
          "hand-finished shearling", "moderate", "luxury",
          {"ready-to-wear": 0.55, "shoes": 0.3, "eyewear": 0.15}, "warm",
          categories={"ready-to-wear": ("coat", "knitwear", "trousers"),
                      "shoes": ("ankle boot", "knee boot", "sneaker"), "eyewear": ("sunglasses",)},
          favours={"shearling": 4.0, "suede": 2.0}),
    # Spain
    House("Casa Olmedo", "Spain", "Ubrique", 1942, "leather workers in Ubrique since 1942",
          "hand-burnished leather marquetry", "discreet", "luxury",
          {"bags": 0.55, "small-leather-goods": 0.45}, "warm"),
    House("Ibarrola", "Spain", "Cervera del Río Alhama", 1908, "espadrille makers in La Rioja since 1908",
          "hand-sewn jute soles", "moderate", "accessible-luxury",
          {"shoes": 0.7, "bags": 0.3}, "warm",
          categories={"shoes": ("espadrille", "sandal", "mule"), "bags": ("tote", "bucket bag", "crossbody")},
          favours={"raffia": 2.0, "canvas": 2.0}),
    House("Mantones Valdés", "Spain", "Seville", 1899, "shawl embroiderers in Seville since 1899",
          "hand-embroidered silk", "moderate", "luxury",
          {"silk": 0.6, "ready-to-wear": 0.3, "bags": 0.1}, "lyrical",
          categories={"silk": ("stole", "scarf"), "ready-to-wear": ("dress", "evening gown"),
                      "bags": ("clutch",)},
          favours={"silk crepe": 2.0, "silk satin": 2.0}),
    House("Quintana Madrid", "Spain", "Madrid", 1951, "a Madrid couture house since 1951",
          "hand-draped sculptural volumes", "moderate", "haute",
          {"ready-to-wear": 0.6, "bags": 0.25, "jewellery": 0.15}, "bold",
          categories={"ready-to-wear": ("dress", "evening gown", "coat", "skirt", "blazer"),
                      "bags": ("clutch", "top-handle bag"), "jewellery": ("earring", "necklace")}),
    # Japan
    House("Atelier Hinode", "Japan", "Tokyo", 1973, "a Tokyo atelier since 1973",
          "shibori dyeing", "discreet", "luxury",
          {"ready-to-wear": 0.6, "silk": 0.25, "bags": 0.15}, "understated",
          categories={"silk": ("scarf", "stole"), "bags": ("tote", "crossbody")},
          favours={"cotton": 2.0, "linen": 1.5, "silk crepe": 1.5}),
    House("Kawase", "Japan", "Himeji", 1958, "leather finishers in Himeji since 1958",
          "urushi-lacquered edges", "discreet", "luxury",
          {"small-leather-goods": 0.6, "bags": 0.4}, "precise"),
    House("Kaede Megane", "Japan", "Sabae", 1935, "frame makers in Sabae since 1935",
          "hand-forged titanium frames", "discreet", "luxury",
          {"eyewear": 1.0}, "precise", favours={"titanium": 8.0}, size=0.6),
    House("Tomonari", "Japan", "Tokyo", 1996, "a Tokyo label founded in 1996",
          "sashiko stitching", "logo-forward", "accessible-luxury",
          {"shoes": 0.35, "ready-to-wear": 0.35, "bags": 0.3}, "bold",
          categories={"shoes": ("sneaker",), "ready-to-wear": ("shirt", "trousers", "knitwear", "coat"),
                      "bags": ("crossbody", "tote", "travel bag")},
          favours={"nylon": 3.0, "canvas": 2.0, "cotton": 2.0}),
    # Belgium
    House("Maison Van Acker", "Belgium", "Antwerp", 1932, "diamond cutters in Antwerp since 1932",
          "hand-polished brilliant cuts", "discreet", "haute",
          {"jewellery": 1.0}, "understated", favours={"diamond": 4.0}, size=0.8),
)

HOUSE_BY_NAME: dict[str, House] = {house.name: house for house in HOUSES}

# Invented model-line names, by the country whose language they borrow.
MODEL_NAMES: dict[str, tuple[str, ...]] = {
    "Italy": (
        "Cortile", "Sestiere", "Marea", "Loggia", "Brezza", "Vela", "Fontana", "Ombra", "Giardino",
        "Aurora", "Duomo", "Riva", "Stella", "Portico", "Selva", "Lucerna", "Ponte", "Corallo",
        "Tramonto", "Arco", "Pietra", "Limone", "Sirena", "Campo", "Nuvola", "Volta", "Scala",
    ),
    "France": (
        "Céleste", "Margaux", "Rivage", "Opaline", "Lumière", "Bastide", "Jardin", "Soirée",
        "Alcôve", "Mistral", "Pavillon", "Charmille", "Étoile", "Ruban", "Verger", "Mirabelle",
        "Colombe", "Canopée", "Rocaille", "Belvédère", "Brume", "Clairière", "Orangerie", "Falaise",
    ),
    "UK": (
        "Ashdown", "Kensal", "Belgrave", "Marlowe", "Thornbury", "Holloway", "Wren", "Kestrel",
        "Aldgate", "Ludlow", "Harrow", "Pimlico", "Chiltern", "Barnaby", "Fenwick", "Halden",
        "Lowther", "Stanmore", "Redbourne", "Clarendon", "Ambrose", "Somerton",
    ),
    "Switzerland": (
        "Jura", "Arolla", "Cervin", "Lavaux", "Bernina", "Engadin", "Rhône", "Sentier", "Orbe",
        "Chasseral", "Mont-Soleil", "Léman", "Albula", "Gruyère", "Sils", "Maloja", "Vaudoise",
        "Aletsch", "Pilatus", "Joux",
    ),
    "Spain": (
        "Alhambra", "Giralda", "Azahar", "Marisma", "Rocío", "Alameda", "Brisa", "Candela",
        "Mirador", "Cala", "Olivo", "Lucero", "Albaicín", "Duende", "Triana", "Palmera", "Faro",
        "Almendro", "Dehesa", "Estrella",
    ),
    "Japan": (
        "Kasumi", "Nagi", "Hoshi", "Sora", "Yuki", "Kaze", "Mizu", "Tsuki", "Hana", "Asa",
        "Kumo", "Nami", "Shizuka", "Akari", "Hikari", "Minato", "Kiri", "Yoru", "Aoi", "Sumi",
    ),
    "Belgium": (
        "Schelde", "Meir", "Zilver", "Lelie", "Brabo", "Kristal", "Dageraad", "Ster", "Parel",
        "Vonk", "Helder", "Roos", "Linde", "Morgen",
    ),
}
