"""The window with SDL's dummy video driver: the scene reducer on hand-built events, jumping through a real
save, and the replay window driven by input events, with frames that really get drawn."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from smallville.core.events import Act, ClockMark, Converse, ObjectState, Plan, Remember, Say, Spawned, Walk
from smallville.viewer.app import headless

headless()
pygame = pytest.importorskip("pygame")

from smallville.agents.history import History  # noqa: E402
from smallville.config import load_settings  # noqa: E402
from smallville.errors import SaveError  # noqa: E402
from smallville.run import drive, new_run  # noqa: E402
from smallville.viewer.app import Viewer  # noqa: E402
from smallville.viewer.scene import Scene, Timeline  # noqa: E402
from smallville.viewer.sources import ReplaySource  # noqa: E402


def test_the_scene_follows_walks_actions_talk_and_objects() -> None:
    scene = Scene()
    for event in [Spawned(0, "Ada", 1, 1, "H:bed"), Spawned(0, "Bob", 5, 1, "H:bed"),
                  Walk(10, "Ada", "H:kitchen", ((1, 1), (2, 1), (3, 1), (3, 2))),
                  Act(10, "Ada", "cooking", "H:kitchen:stove", "🍳", 40), ObjectState(13, "H:kitchen:stove", "hot"),
                  Converse(20, 1, "Ada", "Bob", 2), Say(21, "Ada", "Bob", "Morning!", 1),
                  Say(23, "Bob", "Ada", "Bye then.", 1, end=True)]:
        scene.apply(event)
    ada, bob = scene.figures["Ada"], scene.figures["Bob"]
    assert ada.tile(10) == (1, 1) and ada.tile(12) == (3, 1) and ada.tile(99) == (3, 2)
    assert ada.point(10.5) == (1.5, 1.0) and ada.facing_at(10.5) == "right" and ada.facing_at(12.5) == "down"
    assert ada.walking(11) and not ada.walking(13)
    assert (ada.action, ada.emoji, ada.at) == ("cooking", "🍳", "H:kitchen:stove")
    assert scene.objects == {"H:kitchen:stove": "hot"} and scene.talks == 1
    assert ada.bubble(22, 10) == "Morning!" and ada.bubble(21 + 16, 10) == ""
    assert bob.bubble(23, 10) == "Bye then." and not ada.talking_to and not bob.talking_to
    scene.apply(ObjectState(30, "H:kitchen:stove", "idle"))
    assert scene.objects == {}


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Ville's 25 on their routines, midnight to 10 am, saved for real."""
    settings = load_settings(None, {"agents": {"mind": "routine"}})
    save, sim = new_run(tmp_path_factory.mktemp("viewer") / "morning", settings, 10)
    drive(save, sim, save.manifest["target_tick"], progress=False)
    return save.root


def test_a_jump_anywhere_equals_folding_the_whole_log(morning: Path) -> None:
    source = ReplaySource.open(morning)
    events = source.timeline.events
    rng = random.Random(5)
    for tick in [source.first, source.last, *rng.sample(range(source.first, source.last), 12)]:
        whole = Scene(tick=source.first)
        for event in events:
            if event.t > tick:
                break
            whole.apply(event)
        whole.tick = tick
        assert source.scene_at(tick) == whole
    walkers = [f for f in source.scene_at(source.last).figures.values() if f.path]
    assert len(walkers) >= 15, "the routine morning moved nobody"
    with pytest.raises(ValueError, match="tick order"):
        Timeline([ClockMark(5), ClockMark(3)], 6)


def key(k: int, char: str = "") -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode=char, scancode=0)


def click(pos: tuple[int, int]) -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1),
            pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1)]


def test_the_replay_window_plays_seeks_selects_follows_and_saves_screenshots(morning: Path, tmp_path: Path) -> None:
    viewer = Viewer(ReplaySource.open(morning), start=ReplaySource.open(morning).first)
    source = viewer.source
    first = viewer.frame([], 0.016).copy()
    viewer.frame([key(pygame.K_SPACE, " ")], 0.016)
    assert viewer.playing
    for _ in range(30):
        viewer.frame([], 1 / 60)
    assert viewer.at == pytest.approx(source.first + 0.5 * viewer.speed * 60 / 10, rel=0.05)
    # Click the middle of the timeline: the moment shown is the save's middle.
    bar = viewer.scrubber.rect
    viewer.frame(click(bar.center), 0.016)
    assert abs(viewer.at - (source.first + source.last) / 2) <= (source.last - source.first) / bar.width + 1
    viewer.frame([key(pygame.K_SPACE, " ")], 0.016)
    assert not viewer.playing
    at = viewer.at
    viewer.frame([key(pygame.K_PERIOD, ".")], 0.016)
    assert viewer.at == at + 6  # one game minute of 10-second ticks
    # Select someone by clicking where they are drawn, then follow them.
    viewer.frame([key(pygame.K_TAB)], 0.016)
    name = viewer.selected
    assert name
    viewer.frame([key(pygame.K_f, "f")], 0.016)
    viewer.frame([], 0.016)
    assert viewer.camera.following == name and viewer.camera.view_w == 1280 - 420  # the inspector is open
    viewer.frame([key(pygame.K_ESCAPE)], 0.016)
    assert viewer.selected is None and viewer.camera.following is None and viewer.running
    px, py = viewer.scene.figures[name].point(viewer.at)
    sx, sy = viewer.camera.to_screen((px + 0.5) * 16, (py + 1) * 16)
    viewer.frame(click((round(sx), round(sy) - 8 + 30)), 0.016)
    assert viewer.selected == name
    panel = viewer.frame([], 0.016).subsurface(pygame.Rect(1280 - 420, 30, 420, 720 - 64))
    assert len({panel.get_at((x, y))[:3] for x in range(0, 420, 7) for y in range(0, 200, 5)}) > 3, "empty panel"
    frame = viewer.frame([], 0.016)
    assert pygame.image.tostring(frame, "RGB") != pygame.image.tostring(first, "RGB")
    shot = viewer.screenshot(tmp_path / "shot.png")
    assert shot is not None and shot.stat().st_size > 50_000
    assert pygame.image.load(str(shot)).get_size() == (1280, 720)
    assert viewer.screenshot(tmp_path / "no" / "such" / "dir.png") is None  # said in the window, no crash
    assert viewer.message.startswith("no screenshot")
    # A blank line said (a model's empty answer in an old save) draws no bubble and breaks nothing.
    from smallville.core.events import Say

    viewer.scene.apply(Say(int(viewer.at), name, name, "   ", 99))
    viewer.frame([], 0.016)
    viewer.frame([pygame.event.Event(pygame.VIDEORESIZE, w=800, h=600, size=(800, 600))], 0.016)
    assert viewer.screen.get_size() == (800, 600) and viewer.camera.view_h == 600 - 30 - 34
    viewer.frame([key(pygame.K_h, "h")], 0.016)
    assert viewer.show_help
    viewer.frame([key(pygame.K_ESCAPE), key(pygame.K_ESCAPE), key(pygame.K_ESCAPE)], 0.016)
    assert not viewer.running  # help, then the inspector, then the window
    # A window opened again after pygame.quit() (the CLI and the benchmark do this) draws with fresh fonts.
    pygame.quit()
    again = Viewer(ReplaySource.open(morning))
    assert again.frame([], 0.016).get_size() == (1280, 720)


def test_a_save_that_cannot_be_replayed_says_why(tmp_path: Path, morning: Path) -> None:
    with pytest.raises(SaveError, match="no such save"):
        ReplaySource.open(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(SaveError, match=r"manifest\.json"):
        ReplaySource.open(broken)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text((morning / "manifest.json").read_text())
    (empty / "events.jsonl").write_text("")
    with pytest.raises(SaveError, match="no events"):
        ReplaySource.open(empty)


def test_replay_on_the_command_line_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        morning: Path) -> None:
    from smallville.cli import main

    assert main(["replay", str(tmp_path / "nowhere")]) == 2
    assert "no such save directory" in capsys.readouterr().err
    assert main(["replay", str(morning), "--at", "soon"]) == 2
    assert "give hours into the run" in capsys.readouterr().err


def test_the_inspector_shows_a_mind_as_it_was_then() -> None:
    history = History([
        Plan(0, "Ada", "day", 0, ((420, 120, "breakfast"), (540, 480, "paint"))),
        Plan(0, "Ada", "hourly", 0, ((420, 60, "eat"), (480, 60, "walk"))),
        Remember(400, "Ada", 0, "event", "observation", "the stove is hot", 2),
        Remember(410, "Ada", 1, "chat", "conversation", "Bob said the kite festival is on Sunday", 7),
        Converse(405, 1, "Bob", "Ada", 2), Say(406, "Bob", "Ada", "Kites on Sunday!", 1),
        Remember(500, "Ada", 2, "thought", "reflection", "Ada looks forward to Sunday", 6, evidence=(1,)),
        Plan(520, "Ada", "hourly", 0, ((480, 60, "go to the park"),), reason="after talking with Bob"),
    ])
    early = history.mind_at("Ada", 405)
    assert [m.text for m in early.memories] == ["the stove is hot"] and early.memory_count == 1
    assert early.reflections == [] and early.hourly == [(420, 60, "eat"), (480, 60, "walk")]
    assert [(t.other, t.times) for t in early.talks] == [("Bob", 1)] and early.talks[0].last_line == ""
    late = history.mind_at("Ada", 600)
    assert [m.id for m in late.memories] == [2, 1, 0]
    ((insight, cited),) = late.reflections
    assert insight.text == "Ada looks forward to Sunday" and [c.id for c in cited] == [1]
    assert late.hourly == [(480, 60, "go to the park")] and late.replanned == "after talking with Bob"
    assert late.talks[0].last_line == "Bob: Kites on Sunday!"
    assert history.mind_at("Bob", 600).talks[0].other == "Ada"
    assert [m.id for m in history.memories_at("Ada", 409)] == [0]


def test_a_map_whose_tiles_cannot_be_drawn_is_a_clear_error(tmp_path: Path, small_settings) -> None:
    from smallville.errors import MapError

    save, sim = new_run(tmp_path / "run", small_settings, 1)  # the small town has no tileset image
    drive(save, sim, save.manifest["target_tick"], progress=False)
    with pytest.raises(MapError, match="cannot draw the map"):
        Viewer(ReplaySource.open(save.root))
