"""The 25 resident sprite sheets, made by recolouring Kenney's 6 base characters (used by build_art.py).

Each base's colours are given a role (hair, skin, shirt, ...). A resident names a base and one colour per
role; every source shade of a role becomes the resident's colour scaled by that shade's brightness
relative to the role's reference shade, so Kenney's shading and outlines survive the recolour.
"""

from __future__ import annotations

from PIL import Image

RGB = tuple[int, int, int]

FRAME = 16
BLOCK_W, BLOCK_H = 64, 48
LOW_Y = 13  # frame rows >= 13 hold the feet: colours shared with hair or shirt there are shoes

# Per base: source colour -> (role, role for rows >= LOW_Y). The first colour of each role is its
# reference shade. Roles not listed (outline, eyes) keep Kenney's colours.
BASES: list[dict[RGB, tuple[str, str]]] = [
    {  # 0: short-haired young man, green T-shirt
        (220, 134, 82): ("hair", "shoes"), (197, 118, 82): ("hair", "shoes"),
        (255, 201, 153): ("skin", "skin"), (241, 176, 137): ("skin", "skin"),
        (255, 200, 161): ("skin", "skin"), (226, 151, 121): ("skin", "skin"),
        (66, 163, 121): ("shirt", "shirt"), (54, 144, 105): ("shirt", "shirt"),
        (214, 212, 170): ("pants", "pants"), (197, 185, 147): ("pants", "pants"),
    },
    {  # 1: long-haired woman, red top
        (220, 134, 82): ("hair", "shoes"), (197, 118, 82): ("hair", "shoes"),
        (255, 201, 153): ("skin", "skin"), (241, 176, 137): ("skin", "skin"),
        (255, 200, 161): ("skin", "skin"),
        (194, 80, 77): ("shirt", "shirt"), (165, 66, 64): ("shirt", "shirt"),
        (160, 156, 202): ("pants", "pants"), (122, 119, 164): ("pants", "pants"),
    },
    {  # 2: bearded man with hair; his shoes share the shirt's colours
        (160, 156, 202): ("hair", "hair"), (122, 119, 164): ("hair", "hair"), (92, 98, 120): ("hair", "hair"),
        (255, 201, 153): ("skin", "skin"), (241, 176, 137): ("skin", "skin"),
        (255, 200, 161): ("skin", "skin"),
        (220, 134, 82): ("shirt", "shoes"), (197, 118, 82): ("shirt", "shoes"),
        (170, 174, 186): ("accent", "accent"), (137, 140, 166): ("accent", "accent"),
        (66, 163, 121): ("pants", "pants"), (54, 144, 105): ("pants", "pants"),
    },
    {  # 3: worker in a hard hat; the hat becomes big hair, the overalls become shirt and trousers
        (245, 169, 76): ("hair", "hair"), (218, 146, 62): ("hair", "hair"), (188, 125, 54): ("hair", "hair"),
        (135, 77, 39): ("hair", "hair"), (96, 96, 90): ("hair", "hair"), (55, 55, 51): ("hair", "hair"),
        (180, 115, 74): ("skin", "skin"), (149, 95, 62): ("skin", "skin"), (113, 72, 47): ("skin", "skin"),
        (145, 142, 185): ("shirt", "pants"), (122, 119, 164): ("shirt", "pants"),
        (161, 157, 204): ("shirt", "pants"),
        (214, 212, 170): ("accent", "accent"), (197, 185, 147): ("accent", "accent"),
        (220, 134, 82): ("shoes", "shoes"), (197, 118, 82): ("shoes", "shoes"),
    },
    {  # 4: bald man with a beard
        (255, 201, 153): ("skin", "skin"), (241, 176, 137): ("skin", "skin"),
        (255, 200, 161): ("skin", "skin"),
        (220, 134, 82): ("beard", "shoes"), (197, 118, 82): ("beard", "shoes"),
        (170, 168, 189): ("shirt", "shirt"), (137, 140, 166): ("shirt", "shirt"),
        (96, 96, 90): ("pants", "pants"), (84, 84, 78): ("pants", "pants"),
    },
    {  # 5: dark-haired woman with a headband
        (96, 96, 90): ("hair", "shoes"), (80, 80, 74): ("hair", "shoes"), (55, 55, 51): ("hair", "shoes"),
        (255, 113, 67): ("accent", "accent"),
        (255, 201, 153): ("skin", "skin"), (241, 176, 137): ("skin", "skin"),
        (255, 200, 161): ("skin", "skin"),
        (199, 123, 71): ("shirt", "shirt"), (169, 103, 59): ("shirt", "shirt"),
        (170, 168, 189): ("pants", "pants"), (137, 140, 166): ("pants", "pants"),
    },
]

# Skin tones, warm like Kenney's, from fair to deep.
FAIR, LIGHT, OLIVE, TAN, BROWN, DEEP = (
    (255, 212, 178), (255, 201, 153), (232, 174, 122), (206, 146, 98), (170, 112, 72), (128, 82, 54))
# Hair colours: natural ones only (a plain hue shift would give green or blue hair).
BLACK, DARK, BROWNH, AUBURN, GINGER, BLOND, LIGHTB, SALT, WHITE = (
    (62, 56, 62), (96, 64, 48), (140, 92, 58), (168, 82, 52), (214, 112, 56), (238, 204, 112),
    (178, 128, 78), (150, 146, 150), (236, 236, 240))
CHESTNUT, GREYING = (116, 74, 52), (120, 112, 116)
DENIM, NAVY, CHARCOAL, KHAKI = (84, 104, 160), (56, 66, 112), (76, 76, 90), (190, 172, 130)

# name: (base, {role: colour}); roles a base lacks are ignored. Choices follow town.md section 2.
RESIDENTS: dict[str, tuple[int, dict[str, RGB]]] = {
    "Latoya Williams": (3, {"hair": BLACK, "skin": DEEP, "shirt": (56, 168, 156), "pants": CHARCOAL,
                            "accent": (240, 236, 220), "shoes": (70, 60, 60)}),
    "Rajiv Patel": (3, {"hair": BLACK, "skin": BROWN, "shirt": (226, 214, 176), "pants": (120, 96, 150),
                        "accent": (214, 92, 80), "shoes": (110, 70, 50)}),
    "Abigail Chen": (5, {"hair": BLACK, "skin": LIGHT, "shirt": (150, 104, 196), "pants": CHARCOAL,
                         "accent": (244, 140, 176)}),
    "Francisco Lopez": (0, {"hair": DARK, "skin": OLIVE, "shirt": (240, 192, 70), "pants": DENIM}),
    "Hailey Johnson": (1, {"hair": BLOND, "skin": FAIR, "shirt": (120, 184, 224), "pants": (96, 96, 116)}),
    "Arthur Burton": (2, {"hair": GINGER, "skin": FAIR, "shirt": (60, 60, 70), "pants": (110, 80, 60),
                          "accent": (236, 236, 236)}),
    "Ryan Park": (0, {"hair": BLACK, "skin": LIGHT, "shirt": (140, 144, 160), "pants": KHAKI}),
    "Isabella Rodriguez": (1, {"hair": DARK, "skin": OLIVE, "shirt": (204, 64, 64), "pants": (64, 58, 64)}),
    "Giorgio Rossi": (2, {"hair": SALT, "skin": OLIVE, "shirt": (84, 124, 196), "pants": KHAKI,
                          "accent": (236, 236, 236)}),
    "Carlos Gomez": (2, {"hair": BLACK, "skin": TAN, "shirt": (150, 52, 72), "pants": (64, 64, 74),
                         "accent": (226, 196, 120)}),
    "Klaus Mueller": (0, {"hair": BLOND, "skin": FAIR, "shirt": (80, 164, 100), "pants": KHAKI}),
    "Maria Lopez": (5, {"hair": DARK, "skin": TAN, "shirt": (236, 112, 152), "pants": DENIM,
                        "accent": (70, 200, 210)}),
    "Ayesha Khan": (5, {"hair": BLACK, "skin": BROWN, "shirt": (232, 152, 60), "pants": (104, 72, 116),
                        "accent": (62, 128, 96)}),
    "Wolfgang Schulz": (0, {"hair": LIGHTB, "skin": FAIR, "shirt": (214, 62, 52), "pants": NAVY}),
    "Mei Lin": (5, {"hair": (84, 78, 86), "skin": FAIR, "shirt": (232, 228, 218), "pants": NAVY,
                    "accent": (84, 78, 86)}),
    "John Lin": (4, {"beard": LIGHT, "skin": LIGHT, "shirt": (236, 240, 246), "pants": (70, 80, 100)}),
    "Eddy Lin": (0, {"hair": BLACK, "skin": LIGHT, "shirt": (72, 132, 214), "pants": (62, 62, 74)}),
    "Tom Moreno": (4, {"beard": GREYING, "skin": TAN, "shirt": (72, 144, 92), "pants": (112, 82, 62)}),
    "Jane Moreno": (1, {"hair": CHESTNUT, "skin": TAN, "shirt": (184, 142, 206), "pants": (124, 104, 84)}),
    "Tamara Taylor": (1, {"hair": BLACK, "skin": DEEP, "shirt": (244, 204, 82), "pants": (56, 150, 140)}),
    "Carmen Ortiz": (1, {"hair": AUBURN, "skin": OLIVE, "shirt": (232, 132, 52), "pants": DENIM}),
    "Sam Moore": (4, {"beard": WHITE, "skin": FAIR, "shirt": NAVY, "pants": KHAKI}),
    "Jennifer Moore": (1, {"hair": WHITE, "skin": FAIR, "shirt": (140, 172, 122), "pants": (150, 140, 164)}),
    "Yuriko Yamamoto": (5, {"hair": BLACK, "skin": LIGHT, "shirt": (84, 84, 100), "pants": (84, 84, 100),
                            "accent": (204, 52, 64)}),
    "Adam Smith": (2, {"hair": BROWNH, "skin": FAIR, "shirt": (150, 116, 80), "pants": (92, 92, 104),
                       "accent": (226, 222, 206)}),
}
DEFAULT_SHOES: RGB = (88, 62, 56)


def slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _shade(target: RGB, ratio: float) -> RGB:
    """Scale a colour like the source shade: darker shades multiply, lighter ones move towards white."""
    if ratio <= 1.0:
        return tuple(round(v * ratio) for v in target)  # type: ignore[return-value]
    return tuple(round(v + (255 - v) * min(1.0, (ratio - 1.0) * 1.5)) for v in target)  # type: ignore[return-value]


def _colour_map(base: int, roles: dict[str, RGB]) -> dict[tuple[RGB, bool], RGB]:
    """(source colour, is a feet row) -> new colour, for every recoloured source colour of the base."""
    refs: dict[str, RGB] = {}
    for colour, (role, low_role) in BASES[base].items():
        refs.setdefault(role, colour)
        refs.setdefault(low_role, colour)
    out: dict[tuple[RGB, bool], RGB] = {}
    for colour, (role, low_role) in BASES[base].items():
        for low, r in ((False, role), (True, low_role)):
            ref = refs[r]
            target = roles.get(r, DEFAULT_SHOES if r == "shoes" else colour)
            out[(colour, low)] = _shade(target, _luma(colour) / _luma(ref))
    return out


def make_sheet(urban: Image.Image, name: str) -> Image.Image:
    """One resident's 64x48 RGBA sheet from the cropped, transparent Kenney sheet."""
    base, roles = RESIDENTS[name]
    block = urban.crop((368, BLOCK_H * base, 368 + BLOCK_W, BLOCK_H * (base + 1))).convert("RGBA")
    cmap = _colour_map(base, roles)
    px = block.load()
    assert px is not None
    for y in range(BLOCK_H):
        for x in range(BLOCK_W):
            r, g, b, a = px[x, y]  # type: ignore[misc]
            new = cmap.get(((r, g, b), y % FRAME >= LOW_Y))
            if a and new:
                px[x, y] = (*new, 255)
    return block
