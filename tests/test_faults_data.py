"""What the town's data says, the window and the report follow (issue 11, item 10): a resident's sprite is the
residents file's `sprite` (so a renamed resident keeps its look; a missing sheet is logged and drawn as the
generic figure), and a report sets the published figures beside its own only where the scenario gives them."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest
from agents_kit import SCENARIO, agent_settings
from conftest import THE_VILLE, THE_VILLE_RESIDENTS
from mapkit import write_town

from smallville.config import PROJECT_ROOT
from smallville.core.events import Spawned
from smallville.errors import MapError
from smallville.eval import report
from smallville.eval.study import study
from smallville.inference.embed import LocalEmbedder
from smallville.testing.scripted import ScriptedModel
from smallville.viewer.app import headless
from smallville.world.residents import load_residents
from smallville.world.scenario import load_scenario
from smallville.world.town import load_town

headless()
pygame = pytest.importorskip("pygame")

from smallville.viewer.camera import Camera  # noqa: E402
from smallville.viewer.render import CHARACTERS, GENERIC, TownRenderer, load_map_surface  # noqa: E402
from smallville.viewer.scene import Scene  # noqa: E402

THE_VILLE_SCENARIO = PROJECT_ROOT / "maps" / "the_ville" / "scenario.toml"
# The paper's figures (Park et al. 2023, section 7), as the report used to hold them in code.
PAPER = {"mayor.aware_start": 0.04, "mayor.aware_end": 0.32, "party.aware_start": 0.04, "party.aware_end": 0.52,
         "density_before": 0.167, "density_after": 0.74, "party.invited": 12, "party.invited_and_came": 5,
         "relationship_hallucination_rate": 0.013}


# -- sprites ------------------------------------------------------------------------------------------------


def _renamed_residents(tmp_path: Path, sprite: str | None = None) -> list:
    """The Ville's residents with Isabella Rodriguez renamed (and, if given, her sprite changed)."""
    text = THE_VILLE_RESIDENTS.read_text(encoding="utf-8")  # the name, not her home's ("...'s apartment")
    text = text.replace('name = "Isabella Rodriguez"', 'name = "Isabel Renamed"')
    text = text.replace('"Isabella Rodriguez" =', '"Isabel Renamed" =')
    if sprite is not None:
        text = text.replace('sprite = "isabella_rodriguez"', f'sprite = "{sprite}"')
    path = tmp_path / "residents.toml"
    path.write_text(text, encoding="utf-8")
    return load_residents(path, load_town(THE_VILLE))


def _draw(residents: list, who: str, out: Path) -> tuple[pygame.Surface, pygame.Rect, int]:
    """A frame of the Ville centred on `who` at zoom 3; returns it, the rect its figure was drawn in, and
    the figure's size."""
    if not pygame.get_init():
        pygame.init()
    pygame.display.set_mode((320, 240))
    surface = load_map_surface(THE_VILLE)
    renderer = TownRenderer(surface, [r.name for r in residents], sprites={r.name: r.sprite for r in residents})
    scene = Scene()
    for r in residents:
        scene.apply(Spawned(0, r.name, r.spawn[0], r.spawn[1], ":".join(r.home)))
    me = next(r for r in residents if r.name == who)
    camera = Camera(surface.get_width(), surface.get_height(), 320, 240, cx=(me.spawn[0] + 0.5) * 16,
                    cy=(me.spawn[1] + 0.5) * 16, zoom_index=5)
    frame = pygame.Surface((320, 240))
    renderer.draw(frame, scene, camera, 0.0, selected=None)
    pygame.image.save(frame, str(out))
    size = round(16 * camera.zoom)
    x, y = camera.to_screen((me.spawn[0] + 0.5) * 16, (me.spawn[1] + 1) * 16)
    return frame, pygame.Rect(round(x) - size // 2, round(y) - size, size, size), size


def _generic_share(frame: pygame.Surface, rect: pygame.Rect) -> float:
    pixels = [frame.get_at((x, y))[:3] for x in range(rect.left, rect.right) for y in range(rect.top, rect.bottom)]
    return sum(p == GENERIC for p in pixels) / len(pixels)


def test_a_renamed_resident_keeps_its_sprite(tmp_path: Path) -> None:
    residents = _renamed_residents(tmp_path)
    frame, rect, size = _draw(residents, "Isabel Renamed", tmp_path / "renamed.png")
    assert _generic_share(frame, rect) == 0, "drawn as the generic figure"
    # the figure is Isabella's own sheet (the standing frame, facing down), scaled to the zoom
    sheet = pygame.image.load(str(CHARACTERS / "isabella_rodriguez.png")).convert_alpha()
    expected = pygame.transform.scale(sheet.subsurface((16, 0, 16, 16)), (size, size))
    opaque = [(x, y) for x in range(size) for y in range(size) if expected.get_at((x, y)).a == 255]
    assert len(opaque) > size * size // 5
    assert all(frame.get_at((rect.left + x, rect.top + y))[:3] == expected.get_at((x, y))[:3] for x, y in opaque)


def test_a_missing_sprite_sheet_is_logged_and_drawn_as_the_generic_figure(tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    residents = _renamed_residents(tmp_path, sprite="nobody_drew_this")
    with caplog.at_level(logging.WARNING, logger="smallville.viewer.render"):
        frame, rect, _ = _draw(residents, "Isabel Renamed", tmp_path / "missing.png")
    assert _generic_share(frame, rect) > 0.1
    said = [r.getMessage() for r in caplog.records]
    assert any("Isabel Renamed" in m and "nobody_drew_this.png" in m and "missing" in m for m in said), said
    assert not any("Klaus Mueller" in m for m in said)  # the others have their sheets


def test_a_sprite_must_name_a_sheet_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(MapError, match=r"Isabel Renamed.*sprite '\.\./\.\./secrets'"):
        _renamed_residents(tmp_path, sprite="../../secrets")


# -- baselines ----------------------------------------------------------------------------------------------


def test_the_villes_scenario_gives_the_papers_figures() -> None:
    names = [r.name for r in load_residents(THE_VILLE_RESIDENTS, load_town(THE_VILLE))]
    given = load_scenario(THE_VILLE_SCENARIO, names).baselines()
    assert given is not None and given["source"] == "paper" and given["figures"] == pytest.approx(PAPER)


@pytest.mark.parametrize(("text", "error"), [
    (SCENARIO, None),
    (SCENARIO.replace("[relationship_question]", "[facts.baseline]\naware_end = 0.5\n[relationship_question]"),
     "needs the scenario's \\[baseline\\]"),
    (SCENARIO.replace("[relationship_question]", "[facts.baseline]\ninvited = 3\n[relationship_question]")
     + "[baseline]\nsource = \"a study\"\n", "invited need a gathering"),
    (SCENARIO + "[baseline]\nsource = \"a study\"\ndensity_after = 7.4\n", "density_after"),
    (SCENARIO + "[baseline]\nsource = \"a study\"\ndensity = 0.7\n", "density"),
])
def test_a_scenarios_baseline_is_checked(tmp_path: Path, text: str, error: str | None) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    if error is None:
        assert load_scenario(path, ["Ada Lovelace", "Bob Builder"]).baselines() is None
    else:
        with pytest.raises(MapError, match=error):
            load_scenario(path, ["Ada Lovelace", "Bob Builder"])


@pytest.fixture(scope="module")
def kites(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list]:
    """A study of the small town's kite festival, a scenario with no published figures."""
    root = tmp_path_factory.mktemp("kites")
    settings = agent_settings(write_town(root / "town"), talk_cooldown_minutes=30)
    out = root / "report"
    study(out, settings, seeds=1, days=8 / 24, interviews=False, progress=False, lm=ScriptedModel(),
          embedder=LocalEmbedder())
    written = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return written, (out / "summary.md").read_text(encoding="utf-8")


def test_a_report_of_a_scenario_without_baselines_shows_none(kites) -> None:
    written, summary = kites
    assert written["baseline"] is None and "paper" not in written
    assert "| figure | this study (1 run(s)) |" in summary
    for figure in ("0.740", "0.167", "52%", "32%", "1.3%", "paper"):
        assert figure not in summary, figure


def test_the_villes_report_sets_the_papers_figures_beside_its_own(kites, tmp_path: Path) -> None:
    """The Ville's runs carry its scenario's baseline: the report shows the paper's figures, by name."""
    written, _ = kites
    names = [r.name for r in load_residents(THE_VILLE_RESIDENTS, load_town(THE_VILLE))]
    runs = copy.deepcopy(written["runs"])
    for run in runs:  # the kite festival standing in for the party, as if the Ville's scenario had run
        run["facts"] = {"party": run["facts"]["kites"]}
        run["baseline"] = load_scenario(THE_VILLE_SCENARIO, names).baselines()
    got = report.write(tmp_path, runs, _graphs(runs))
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert got["baseline"]["figures"] == pytest.approx(PAPER)
    assert "| figure | paper | this study (1 run(s)) |" in summary
    assert "| `party.aware_end` | 52% |" in summary and "| `density_after` | 0.740 |" in summary
    # runs of scenarios whose figures differ are compared with none
    other = copy.deepcopy(runs[0])
    other["baseline"] = None
    assert report.baseline([runs[0], other]) is None


def _graphs(runs: list[dict]) -> list[dict]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(["Ada Lovelace", "Bob Builder"])
    return [{"log_before": graph, "log_after": graph} for _ in runs]
