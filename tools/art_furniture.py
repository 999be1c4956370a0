"""The 46 game-object types drawn at their footprints (tools/layout/object_types.toml), for build_art.py.

Each function draws on a transparent canvas of the object's footprint (16 px per tile); where the floor
should show through (behind counters, around chairs) the canvas stays transparent. Objects are seen
from above at a slant, like Kenney's town: a top surface over a darker front face, dark outlines.
"""

from __future__ import annotations

from collections.abc import Callable

import art_interior as c  # the palette
from art_interior import RGB, Draw, block, box, oval, px

BOOKS: list[RGB] = [c.RED, c.BLUE_D, c.GREEN_D, c.YEL_D, c.PURPLE, c.TEAL_D, c.RED_D, c.CREAM_D]


def chair(d: Draw, x: int, y: int, seat: RGB = c.RED, back_up: bool = True) -> None:
    """A small chair seen from above (6x6): a cushioned seat, its dark back away from the table."""
    box(d, x, y, x + 5, y + 5, c.DARKW_D, c.WOUT)
    box(d, x + 1, y + 1 if back_up else y, x + 4, y + 4 if back_up else y + 3, seat)
    by = y if back_up else y + 4
    box(d, x, by, x + 5, by + 1, c.WOOD_DD, c.WOUT)


def stool(d: Draw, cx: int, cy: int, top: RGB = c.RED, rim: RGB = c.MAROON) -> None:
    box(d, cx - 1, cy + 2, cx, cy + 5, c.CHAR)  # leg
    oval(d, cx - 3, cy - 3, cx + 2, cy + 2, top, rim)


def bed(d: Draw) -> None:
    block(d, 0, 0, 15, 4, c.DARKW_L, c.DARKW, 2)  # headboard
    box(d, 1, 4, 14, 29, c.WHITE_D, c.WOUT)
    box(d, 3, 5, 12, 10, c.WHITE, c.STEEL_D)  # pillow
    box(d, 1, 12, 14, 29, c.BLUE, c.BLUE_D)  # blanket, folded back at the top
    box(d, 1, 12, 14, 14, c.WHITE, c.BLUE_D)
    for y in (18, 23):
        d.line((3, y, 12, y), fill=c.BLUE_L)
    block(d, 0, 28, 15, 31, c.DARKW_L, c.DARKW, 1)  # footboard


def desk(d: Draw) -> None:
    block(d, 0, 2, 31, 14, c.WOOD_L, c.WOOD_D, 3)
    box(d, 20, 12, 29, 13, c.WOOD, c.WOUT)  # drawer
    box(d, 3, 4, 10, 9, c.WHITE, c.STEEL_D)  # papers
    d.line((5, 6, 9, 6), fill=c.STEEL_D)
    box(d, 14, 4, 18, 8, c.RED, c.RED_D)  # book
    oval(d, 24, 3, 29, 8, c.YEL, c.YEL_D)  # desk lamp shade
    px(d, 26, 5, c.WHITE)


def closet(d: Draw) -> None:
    block(d, 1, 0, 14, 15, c.DARKW_L, c.WOOD, 11)
    d.line((7, 5, 7, 14), fill=c.WOUT)  # two doors
    px(d, 6, 9, c.YEL)
    px(d, 8, 9, c.YEL)


def shelf(d: Draw) -> None:
    block(d, 0, 1, 31, 15, c.WOOD_D, c.WOOD, 10)
    d.line((1, 10, 30, 10), fill=c.WOUT)
    box(d, 3, 6, 7, 9, c.GREEN_D)  # plant pot and leaves
    oval(d, 2, 2, 8, 7, c.GREEN_L, c.GREEN_D)
    box(d, 11, 6, 15, 9, c.ICE, c.STEEL_D)  # jars
    box(d, 17, 7, 19, 9, c.ORANGE, c.WOUT)
    box(d, 22, 5, 28, 9, c.SAND, c.WOUT)  # box
    box(d, 4, 11, 12, 14, c.CREAM, c.WOUT)
    box(d, 18, 11, 27, 14, c.TEAL_D, c.TEAL_DD)


def easel(d: Draw) -> None:
    d.line((3, 15, 8, 1), fill=c.WOOD_DD, width=2)  # tripod legs
    d.line((12, 15, 8, 1), fill=c.WOOD_DD, width=2)
    box(d, 2, 2, 13, 10, c.WHITE, c.WOUT)  # canvas with a little landscape
    box(d, 3, 3, 12, 6, c.BLUE_L)
    box(d, 3, 7, 12, 9, c.GREEN)
    oval(d, 8, 3, 10, 5, c.YEL)
    box(d, 2, 11, 13, 11, c.WOOD_D)  # ledge


def bathroom_sink(d: Draw) -> None:
    block(d, 1, 3, 14, 15, c.WHITE, c.WHITE_D, 4)
    oval(d, 3, 4, 12, 10, c.ICE, c.STEEL_D)
    box(d, 7, 2, 8, 5, c.STEEL_D)  # tap
    box(d, 4, 0, 11, 2, c.BLUE_L, c.OUT)  # mirror edge on the wall


def shower(d: Draw) -> None:
    box(d, 0, 0, 15, 15, c.ICE, c.OUT)
    for k in (5, 10):
        d.line((1, k, 14, k), fill=c.WHITE_D)
        d.line((k, 1, k, 14), fill=c.WHITE_D)
    oval(d, 6, 6, 9, 9, c.STEEL_D)  # drain
    oval(d, 5, 1, 10, 4, c.STEEL, c.OUT)  # shower head
    for x, y in ((4, 7), (11, 6), (7, 11), (12, 11), (3, 12)):
        px(d, x, y, c.BLUE)  # droplets


def toilet(d: Draw) -> None:
    block(d, 3, 0, 12, 5, c.WHITE, c.WHITE_D, 2)  # cistern
    oval(d, 3, 4, 12, 15, c.WHITE, c.STEEL_D)  # seat
    oval(d, 5, 6, 10, 13, c.ICE, c.STEEL_D)


def kitchen_sink(d: Draw) -> None:
    block(d, 0, 1, 15, 15, c.STEEL_L, c.WOOD, 5)
    box(d, 2, 3, 13, 9, c.STEEL_D, c.OUT)
    box(d, 3, 5, 12, 8, (150, 180, 210))  # water
    box(d, 7, 1, 8, 4, c.SLATE)  # tap
    px(d, 4, 12, c.WOUT)
    px(d, 11, 12, c.WOUT)


def refrigerator(d: Draw) -> None:
    block(d, 1, 0, 14, 15, c.WHITE, c.WHITE_D, 12)
    d.line((2, 8, 13, 8), fill=c.STEEL_D)  # freezer / fridge doors
    box(d, 11, 5, 11, 7, c.STEEL_D)
    box(d, 11, 10, 11, 13, c.STEEL_D)
    box(d, 4, 10, 6, 12, c.RED_L)  # a magnet note


def counter_top(d: Draw, w: int) -> None:
    block(d, 0, 2, w - 1, 15, c.CREAM, c.WOOD, 5)


def toaster(d: Draw) -> None:
    counter_top(d, 16)
    block(d, 3, 3, 12, 10, c.STEEL_L, c.STEEL_D, 3, c.OUT)
    box(d, 5, 4, 10, 4, c.BLACK)  # slots with toast
    box(d, 5, 6, 10, 6, c.BLACK)
    box(d, 6, 2, 9, 4, c.WOOD_L, c.WOOD_D)


def cooking_area(d: Draw) -> None:
    counter_top(d, 32)
    box(d, 1, 3, 15, 10, c.BLACK, c.OUT)  # hob with four burners
    for x, y in ((3, 4), (9, 4), (3, 7), (9, 7)):
        oval(d, x, y, x + 3, y + 2, c.CHAR, c.RED_D)
    box(d, 8, 3, 13, 6, c.STEEL, c.OUT)  # pot
    box(d, 9, 4, 12, 4, c.RED)
    box(d, 18, 4, 28, 9, c.WOOD_L, c.WOOD_D)  # cutting board with vegetables
    oval(d, 20, 5, 22, 7, c.RED)
    oval(d, 24, 5, 26, 7, c.GREEN_L)
    box(d, 4, 12, 12, 13, c.STEEL_D)  # oven door


def common_room_table(d: Draw) -> None:
    for x in (5, 20):
        chair(d, x, 0)
        chair(d, x, 26, back_up=False)
    block(d, 1, 6, 30, 25, c.WOOD_L, c.WOOD_D, 4)
    box(d, 8, 10, 23, 18, c.WHITE_D, c.STEEL_D)  # table runner
    oval(d, 13, 11, 18, 16, c.PINK, c.RED_D)  # flowers


def sofa(d: Draw, w: int, main: RGB, dark: RGB, light: RGB, line: RGB) -> None:
    box(d, 1, 1, w - 2, 6, dark, line)  # backrest, seen from above and in front
    d.line((2, 2, w - 3, 2), fill=main)
    half = w // 2
    for x0, x1 in ((4, half - 1), (half, w - 5)):  # two seat cushions with a highlight
        box(d, x0, 6, x1, 12, main, line)
        d.line((x0 + 1, 7, x1 - 1, 7), fill=light)
    box(d, 1, 12, w - 2, 15, dark, line)  # front of the seat base
    for x0 in (0, w - 5):  # rounded arms
        box(d, x0, 3, x0 + 4, 14, main, line)
        d.line((x0 + 1, 4, x0 + 3, 4), fill=light)
        box(d, x0 + 1, 12, x0 + 3, 13, dark)


def common_room_sofa(d: Draw) -> None:
    sofa(d, 32, (64, 170, 150), c.TEAL_D, (120, 214, 190), c.TEAL_DD)


def library_sofa(d: Draw) -> None:
    sofa(d, 32, (150, 70, 52), (112, 50, 44), (186, 100, 74), (80, 40, 40))
    for x in (9, 14, 18, 23):
        px(d, x, 4, (80, 40, 40))  # buttons of a chesterfield


def guitar(d: Draw) -> None:
    d.line((8, 0, 8, 7), fill=c.WOOD_DD, width=2)  # neck
    box(d, 7, 0, 9, 1, c.BLACK)
    oval(d, 4, 5, 12, 10, c.WOOD_L, c.WOUT)  # upper and lower bout
    oval(d, 3, 8, 13, 15, c.WOOD_L, c.WOUT)
    oval(d, 7, 9, 9, 11, c.BLACK)  # sound hole
    box(d, 6, 13, 10, 13, c.WOOD_DD)


def microphone(d: Draw) -> None:
    oval(d, 3, 12, 12, 15, c.CHAR, c.BLACK)  # stand base
    box(d, 7, 4, 8, 13, c.STEEL_D)
    oval(d, 5, 0, 10, 6, c.SLATE, c.BLACK)  # mic head
    d.line((6, 2, 9, 2), fill=c.STEEL_L)
    d.line((6, 4, 9, 4), fill=c.STEEL_L)


def bar_customer_seating(d: Draw) -> None:
    for cx in (8, 24, 40):
        stool(d, cx, 6)


def floor_mat(d: Draw, w: int, mat: RGB, rim: RGB, ridge: RGB) -> None:
    """The walkable strip behind a counter: a mat on the floor, the floor showing round it."""
    box(d, 1, 3, w - 2, 12, mat, rim)
    for x in range(4, w - 3, 3):
        d.line((x, 5, x, 10), fill=ridge)


def behind_the_bar_counter(d: Draw) -> None:
    floor_mat(d, 48, c.BLACK, c.CHAR, (90, 90, 104))
    box(d, 35, 1, 45, 14, c.WOOD, c.WOUT)  # crate of bottles
    for x in (37, 40, 43):
        oval(d, x - 1, 3, x + 1, 6, c.GREEN_D, c.TEAL_DD)
        oval(d, x - 1, 9, x + 1, 12, (120, 70, 40), c.WOUT)


def behind_the_cafe_counter(d: Draw) -> None:
    floor_mat(d, 48, c.SAND, c.WOOD_D, c.CREAM_D)
    stool(d, 10, 7, c.WOOD_L, c.WOUT)
    box(d, 33, 2, 44, 13, c.CREAM_D, c.WOUT)  # sack of coffee beans
    box(d, 35, 5, 42, 10, c.WOOD_DD)
    px(d, 38, 7, c.SAND)


def cafe_customer_seating(d: Draw) -> None:
    for cx, cy in ((11, 12), (36, 20)):
        chair(d, cx - 3, cy - 11, c.TEAL_D)
        chair(d, cx - 3, cy + 6, c.TEAL_D, back_up=False)
        oval(d, cx - 6, cy - 5, cx + 6, cy + 5, c.WHITE, c.STEEL_D)  # round table with a cup
        box(d, cx - 1, cy - 1, cx + 1, cy + 1, c.WOOD_DD)


def piano(d: Draw) -> None:
    block(d, 0, 0, 31, 15, c.CHAR, c.BLACK, 6, c.BLACK)
    box(d, 2, 10, 29, 13, c.WHITE, c.BLACK)  # keyboard
    for x in range(4, 29, 3):
        if x % 21 not in (10,):
            box(d, x, 10, x, 11, c.BLACK)
    box(d, 10, 2, 21, 6, c.CREAM, c.WOUT)  # sheet music
    d.line((12, 4, 19, 4), fill=c.CHAR)


def blackboard(d: Draw) -> None:
    box(d, 0, 0, 47, 12, (48, 92, 74), c.WOOD_DD)
    box(d, 1, 1, 46, 11, None, c.WOOD)
    for x0, x1, y in ((4, 20, 4), (4, 14, 7), (26, 42, 4), (26, 37, 7), (18, 30, 9)):
        d.line((x0, y, x1, y), fill=(220, 230, 220))  # chalk writing
    box(d, 0, 12, 47, 14, c.WOOD, c.WOUT)  # chalk tray
    box(d, 8, 12, 11, 12, c.WHITE)


def game_console(d: Draw) -> None:
    block(d, 2, 1, 13, 7, c.CHAR, c.BLACK, 2, c.BLACK)
    px(d, 11, 3, c.GREEN_L)  # power light
    d.line((5, 7, 4, 10), fill=c.BLACK)
    d.line((10, 7, 11, 10), fill=c.BLACK)
    for x in (1, 9):  # two controllers
        box(d, x, 10, x + 5, 13, c.SLATE, c.BLACK)
        px(d, x + 1, 11, c.WHITE)
        px(d, x + 4, 11, c.RED_L)


def monitor(d: Draw, x: int, y: int) -> None:
    box(d, x, y, x + 11, y + 7, c.BLACK)
    box(d, x + 1, y + 1, x + 10, y + 6, c.BLUE_L)
    d.line((x + 2, y + 2, x + 7, y + 2), fill=c.WHITE)
    d.line((x + 2, y + 4, x + 5, y + 4), fill=c.BLUE_D)
    box(d, x + 5, y + 8, x + 6, y + 8, c.CHAR)


def computer_desk(d: Draw) -> None:
    block(d, 0, 2, 31, 14, c.STEEL_L, c.STEEL_D, 3, c.OUT)
    monitor(d, 3, 1)
    box(d, 4, 10, 14, 11, c.CHAR, c.BLACK)  # keyboard
    oval(d, 17, 9, 19, 11, c.WHITE, c.CHAR)  # mouse
    box(d, 23, 1, 29, 11, c.CHAR, c.BLACK)  # tower
    px(d, 26, 3, c.GREEN_L)


def computer(d: Draw) -> None:
    block(d, 0, 3, 15, 15, c.WOOD_L, c.WOOD_D, 3)
    monitor(d, 2, 0)
    box(d, 3, 10, 12, 11, c.CHAR, c.BLACK)


def bookshelf(d: Draw) -> None:
    block(d, 0, 0, 47, 15, c.DARKW, c.DARKW_D, 1, c.WOUT)
    for row, y in enumerate((1, 8)):
        x = 2
        k = row * 3
        while x < 45:
            w = 2 + (k * 7) % 3
            box(d, x, y, x + w - 1, y + 5, BOOKS[k % len(BOOKS)])
            px(d, x, y + 1, c.CREAM)
            x += w + (1 if k % 4 == 3 else 0)
            k += 1
    d.line((1, 7, 46, 7), fill=c.DARKW_L)


def library_table(d: Draw) -> None:
    for x in (4, 21, 38):
        chair(d, x, 0, c.GREEN_D)
        chair(d, x, 26, c.GREEN_D, back_up=False)
    block(d, 0, 6, 47, 25, c.DARKW_L, c.DARKW_D, 4)
    for x in (8, 38):  # green banker's lamps
        oval(d, x - 3, 8, x + 3, 12, c.GREEN_D, c.TEAL_DD)
        px(d, x, 10, c.YEL)
    box(d, 18, 11, 24, 18, c.WHITE, c.STEEL_D)  # open book
    box(d, 25, 11, 31, 18, c.WHITE, c.STEEL_D)
    box(d, 13, 14, 16, 19, c.RED_D, c.WOUT)


def classroom_student_seating(d: Draw) -> None:
    for row in range(2):
        for col in range(4):
            x, y = col * 16, row * 16
            block(d, x + 2, y + 1, x + 13, y + 7, c.WOOD_L, c.WOOD_D, 2)  # desk
            box(d, x + 4, y + 2, x + 8, y + 4, c.WHITE, c.STEEL_D)  # notebook
            box(d, x + 4, y + 10, x + 11, y + 14, c.STEEL, c.OUT)  # chair
            box(d, x + 4, y + 13, x + 11, y + 14, c.STEEL_D, c.OUT)


def classroom_podium(d: Draw) -> None:
    block(d, 2, 1, 13, 15, c.WOOD_L, c.WOOD_D, 8)
    box(d, 4, 2, 11, 5, c.WHITE, c.STEEL_D)  # lecture notes
    box(d, 6, 10, 9, 12, c.YEL)  # college crest


def behind_the_pharmacy_counter(d: Draw) -> None:
    floor_mat(d, 48, (170, 206, 226), c.BLUE_D, c.WHITE_D)
    stool(d, 24, 7, c.WHITE, c.STEEL_D)
    box(d, 36, 3, 45, 12, c.WHITE, c.STEEL_D)  # box of stock
    box(d, 40, 5, 41, 10, c.GREEN)
    box(d, 38, 7, 43, 8, c.GREEN)


def behind_the_grocery_counter(d: Draw) -> None:
    floor_mat(d, 48, c.GREEN_D, c.TEAL_DD, c.GREEN)
    stool(d, 24, 7, c.WOOD_L, c.WOUT)
    box(d, 3, 2, 13, 13, c.SAND, c.WOOD_D)  # cardboard box of produce
    d.line((3, 7, 13, 7), fill=c.WOOD_D)
    oval(d, 5, 3, 7, 5, c.RED)
    oval(d, 9, 3, 11, 5, c.YEL)


def behind_the_supply_store_counter(d: Draw) -> None:
    floor_mat(d, 48, c.SLATE, c.OUT, c.STEEL_D)
    stool(d, 24, 7, c.STEEL, c.OUT)
    box(d, 34, 1, 45, 14, c.WOOD, c.WOUT)  # wooden crate
    d.line((34, 1, 45, 14), fill=c.WOOD_D)
    d.line((34, 7, 45, 7), fill=c.WOUT)


def store_shelf(d: Draw, frame: RGB, face: RGB, line: RGB, goods: Callable[[int, int, int], None]) -> None:
    block(d, 0, 0, 47, 15, frame, face, 1, line)
    d.line((1, 7, 46, 7), fill=line)
    for row, y in enumerate((1, 9)):
        for k, x in enumerate(range(2, 45, 4)):
            goods(x, y, k + row)


def pharmacy_store_shelf(d: Draw) -> None:
    def goods(x: int, y: int, k: int) -> None:
        if k % 3 == 2:  # pill bottles with white caps
            box(d, x, y + 2, x + 2, y + 5, (230, 150, 60), c.WOUT)
            box(d, x, y + 1, x + 2, y + 1, c.WHITE)
        else:  # white medicine boxes with a coloured band
            box(d, x, y + 1, x + 2, y + 5, c.WHITE, c.STEEL_D)
            px(d, x + 1, y + 3, (c.RED, c.BLUE, c.GREEN)[k % 3])
    store_shelf(d, c.WHITE, c.WHITE_D, c.STEEL_D, goods)


def grocery_store_shelf(d: Draw) -> None:
    def goods(x: int, y: int, k: int) -> None:
        if y < 8:  # fruit and vegetables on top
            oval(d, x - 1, y + 2, x + 2, y + 5, (c.RED_L, c.ORANGE, c.GREEN_L, c.YEL)[k % 4], c.WOUT)
        else:  # cans and cereal boxes below
            box(d, x, y, x + 2, y + 5, (c.RED, c.YEL_D, c.BLUE, c.ORANGE)[k % 4], c.WOUT)
    store_shelf(d, c.WOOD_L, c.WOOD, c.WOUT, goods)


def supply_store_product_shelf(d: Draw) -> None:
    def goods(x: int, y: int, k: int) -> None:
        kind = k % 3
        if kind == 0:  # paint cans
            box(d, x - 1, y + 1, x + 2, y + 5, (c.BLUE_L, c.RED, c.YEL)[k // 3 % 3], c.OUT)
            d.line((x - 1, y + 1, x + 2, y + 1), fill=c.STEEL_L)
        elif kind == 1:  # hammer
            box(d, x, y + 1, x + 2, y + 2, c.CHAR)
            box(d, x + 1, y + 2, x + 1, y + 5, c.WOOD)
        else:  # coil of rope
            oval(d, x - 1, y + 1, x + 2, y + 5, c.SAND, c.WOOD_D)
    store_shelf(d, c.STEEL, c.STEEL_D, c.OUT, goods)


def register(d: Draw, x: int, y: int) -> None:
    block(d, x, y, x + 8, y + 7, c.CHAR, c.BLACK, 3, c.BLACK)
    box(d, x + 2, y + 1, x + 6, y + 2, c.GREEN_L)  # display


def pharmacy_store_counter(d: Draw) -> None:
    block(d, 0, 2, 47, 15, c.WHITE, c.WHITE_D, 6, c.STEEL_D)
    register(d, 4, 2)
    box(d, 22, 10, 25, 13, c.GREEN)  # green cross on the front
    d.line((20, 11, 27, 11), fill=c.GREEN)
    d.line((20, 12, 27, 12), fill=c.GREEN)
    box(d, 34, 4, 38, 7, c.WHITE, c.RED)  # prescription bag
    box(d, 40, 4, 43, 7, (230, 150, 60), c.WOUT)


def grocery_store_counter(d: Draw) -> None:
    block(d, 0, 2, 47, 15, c.WOOD_L, c.WOOD_D, 6)
    box(d, 2, 4, 29, 8, c.BLACK, c.CHAR)  # conveyor belt
    for x in range(5, 29, 4):
        px(d, x, 6, c.CHAR)
    oval(d, 8, 4, 11, 7, c.RED_L, c.WOUT)
    box(d, 16, 4, 19, 7, c.YEL, c.WOUT)
    register(d, 35, 2)


def supply_store_counter(d: Draw) -> None:
    block(d, 0, 2, 47, 15, c.STEEL_L, c.ORANGE, 6, c.OUT)
    register(d, 4, 2)
    box(d, 20, 4, 26, 8, c.YEL, c.OUT)  # power drill
    box(d, 24, 7, 25, 9, c.CHAR)
    box(d, 32, 3, 43, 8, c.SAND, c.WOOD_D)  # parcel
    d.line((37, 3, 37, 8), fill=c.WOOD_D)
    d.line((0, 12, 47, 12), fill=(200, 96, 50))


def soil_bed(d: Draw, w: int, h: int, edge: RGB | None) -> None:
    box(d, 0, 0, w - 1, h - 1, c.SOIL)
    for y in range(2, h - 1, 4):
        d.line((1, y, w - 2, y), fill=c.SOIL_D)  # furrows
        d.line((1, y + 1, w - 2, y + 1), fill=c.SOIL_L)
    if edge:
        box(d, 0, 0, w - 1, h - 1, None, edge)


def dorm_garden(d: Draw) -> None:
    soil_bed(d, 48, 48, None)
    for r, y in enumerate(range(4, 46, 8)):  # neat rows of lettuces and carrots
        for x in range(4, 46, 8):
            if r % 2 == 0:
                oval(d, x - 3, y - 2, x + 3, y + 3, c.GREEN_L, c.GREEN_D)
                px(d, x, y, (170, 230, 150))
            else:
                d.line((x - 1, y - 2, x, y + 1), fill=c.GREEN)
                d.line((x + 1, y - 2, x, y + 1), fill=c.GREEN)
                box(d, x - 1, y + 1, x + 1, y + 2, c.ORANGE)


def house_garden(d: Draw) -> None:
    soil_bed(d, 48, 48, c.WOOD_DD)
    box(d, 1, 1, 46, 46, None, c.WOOD)  # wooden edging
    for i, (x, y) in enumerate((x, y) for y in (10, 24, 38) for x in (9, 24, 39)):
        if i % 2 == 0:  # tomato plants on stakes
            d.line((x, y - 7, x, y + 5), fill=c.WOOD_DD)
            oval(d, x - 5, y - 5, x + 5, y + 4, c.GREEN, c.GREEN_D)
            for dx, dy in ((-2, -2), (2, 0), (-1, 2)):
                oval(d, x + dx - 1, y + dy - 1, x + dx + 1, y + dy + 1, c.RED_L)
        else:  # flowering bushes
            oval(d, x - 5, y - 4, x + 5, y + 5, c.GREEN_L, c.GREEN_D)
            for dx, dy in ((-2, -1), (2, 1), (0, 3), (1, -3)):
                px(d, x + dx, y + dy, (c.PINK, c.YEL, c.WHITE, c.PURPLE)[(dx + dy + i) % 4])


def garden_chair(d: Draw) -> None:
    block(d, 2, 0, 13, 5, c.WHITE, c.WHITE_D, 2, c.STEEL_D)  # slatted back
    box(d, 2, 5, 13, 13, c.WHITE, c.STEEL_D)  # seat
    for y in (7, 10):
        d.line((3, y, 12, y), fill=c.WHITE_D)
    box(d, 1, 4, 2, 12, c.WHITE_D, c.STEEL_D)  # arms
    box(d, 13, 4, 14, 12, c.WHITE_D, c.STEEL_D)
    box(d, 3, 14, 4, 15, c.STEEL_D)
    box(d, 11, 14, 12, 15, c.STEEL_D)


def park_garden(d: Draw) -> None:
    box(d, 0, 0, 63, 63, (86, 180, 120))  # lawn
    box(d, 28, 0, 35, 63, c.CREAM_D)  # gravel paths crossing
    box(d, 0, 28, 63, 35, c.CREAM_D)
    oval(d, 20, 20, 43, 43, c.CREAM_D)
    oval(d, 24, 24, 39, 39, c.SOIL, c.WOOD_DD)  # round central bed
    for k, (x, y) in enumerate(((28, 28), (34, 28), (31, 31), (28, 34), (34, 34), (31, 26), (31, 36))):
        oval(d, x - 1, y - 1, x + 1, y + 1, (c.RED_L, c.YEL, c.PINK, c.WHITE, c.PURPLE)[k % 5])
    for k, (x0, y0) in enumerate(((3, 3), (39, 3), (3, 39), (39, 39))):  # four corner beds
        box(d, x0, y0, x0 + 21, y0 + 21, c.SOIL, c.WOOD_DD)
        for j in range(9):
            x, y = x0 + 4 + (j % 3) * 7, y0 + 4 + (j // 3) * 7
            oval(d, x - 2, y - 2, x + 2, y + 2, c.GREEN_D)
            px(d, x, y, (c.RED_L, c.YEL, c.PINK, c.PURPLE, c.WHITE)[(j + k) % 5])
            px(d, x - 1, y - 1, (c.RED_L, c.YEL, c.PINK, c.PURPLE, c.WHITE)[(j + k) % 5])


def harp(d: Draw) -> None:
    d.polygon([(3, 1), (5, 1), (13, 11), (13, 14), (3, 14)], outline=c.YEL_D)  # golden frame
    d.line((3, 1, 3, 14), fill=c.YEL, width=2)  # pillar
    d.line((4, 14, 13, 14), fill=c.YEL_D, width=2)  # sound box
    d.line((5, 1, 13, 11), fill=c.YEL, width=2)  # neck
    for x in range(6, 13, 2):
        d.line((x, 3 + (x - 5), x, 13), fill=c.WHITE_D)  # strings
    box(d, 2, 15, 14, 15, c.WOOD_DD)


def lifting_weight(d: Draw) -> None:
    box(d, 0, 1, 15, 14, (70, 80, 100), c.OUT)  # rubber floor mat
    box(d, 1, 7, 14, 8, c.STEEL_L)  # barbell bar
    d.line((1, 8, 14, 8), fill=c.STEEL_D)
    for x in (2, 11):  # big round plates, seen edge-on from above
        box(d, x, 2, x + 2, 13, c.BLACK, (30, 30, 36))
        d.line((x + 1, 3, x + 1, 12), fill=c.CHAR)


def pool_table(d: Draw) -> None:
    box(d, 0, 0, 31, 31, c.WOOD, c.WOUT)  # rails
    box(d, 3, 3, 28, 28, (50, 140, 96), c.GREEN_D)  # felt
    for x, y in ((2, 2), (29, 2), (2, 15), (29, 15), (2, 29), (29, 29)):
        box(d, x - 1, y - 1, x + 1, y + 1, c.BLACK)  # pockets
    for k, (x, y) in enumerate(((15, 8), (14, 10), (17, 10), (13, 12), (16, 12), (19, 12))):
        oval(d, x - 1, y - 1, x + 1, y + 1, (c.YEL, c.RED, c.BLUE_D, c.ORANGE, c.PURPLE_D, c.BLACK)[k])
    oval(d, 15, 21, 17, 23, c.WHITE)  # cue ball
    d.line((17, 24, 25, 30), fill=c.WOOD_L)  # cue


OBJECTS: dict[str, Callable[[Draw], None]] = {
    "bed": bed, "desk": desk, "closet": closet, "shelf": shelf, "easel": easel,
    "bathroom sink": bathroom_sink, "shower": shower, "toilet": toilet, "kitchen sink": kitchen_sink,
    "refrigerator": refrigerator, "toaster": toaster, "cooking area": cooking_area,
    "common room table": common_room_table, "common room sofa": common_room_sofa, "guitar": guitar,
    "microphone": microphone, "bar customer seating": bar_customer_seating,
    "behind the bar counter": behind_the_bar_counter, "behind the cafe counter": behind_the_cafe_counter,
    "cafe customer seating": cafe_customer_seating, "piano": piano, "blackboard": blackboard,
    "game console": game_console, "computer desk": computer_desk, "computer": computer,
    "library sofa": library_sofa, "bookshelf": bookshelf, "library table": library_table,
    "classroom student seating": classroom_student_seating, "classroom podium": classroom_podium,
    "behind the pharmacy counter": behind_the_pharmacy_counter,
    "behind the grocery counter": behind_the_grocery_counter, "pharmacy store shelf": pharmacy_store_shelf,
    "grocery store shelf": grocery_store_shelf, "pharmacy store counter": pharmacy_store_counter,
    "grocery store counter": grocery_store_counter, "supply store product shelf": supply_store_product_shelf,
    "behind the supply store counter": behind_the_supply_store_counter,
    "supply store counter": supply_store_counter, "dorm garden": dorm_garden, "house garden": house_garden,
    "garden chair": garden_chair, "park garden": park_garden, "harp": harp, "lifting weight": lifting_weight,
    "pool table": pool_table,
}
