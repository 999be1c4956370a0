"""`smallville eval diffusion` end to end on the small town: runs of two seeds driven by the scripted model,
interviews with the bundled embedding model, and the report on disk (JSON, Markdown, plots, GraphML); saves
that cannot be evaluated give one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import networkx as nx
import pytest
from agents_kit import agent_settings, run
from mapkit import write_town

from smallville.cli import main
from smallville.config import Settings
from smallville.errors import MapError, SaveError
from smallville.eval import spread
from smallville.eval.diffusion import open_save
from smallville.eval.study import evaluate, study
from smallville.inference.embed import LocalEmbedder
from smallville.testing.scripted import ScriptedModel

HOURS = 24


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def studied(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> tuple[Path, dict, Path]:
    root = tmp_path_factory.mktemp("study")
    town = write_town(root / "town")
    settings = agent_settings(town, talk_cooldown_minutes=30)
    out = root / "report"
    report = study(out, settings, seeds=2, days=HOURS / 24, progress=False, lm=ScriptedModel(), embedder=embedder)
    return out, report, town[1].parent / "scenario.toml"


def test_the_report_holds_every_figure_with_the_paper_beside_it(studied) -> None:
    out, report, _ = studied
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(report))
    assert [r["name"] for r in report["runs"]] == ["seed-7", "seed-8"]
    for r in report["runs"]:
        assert r["method"] == "interview" and r["complete"] and r["game_hours"] == pytest.approx(HOURS, abs=0.01)
        kites = r["facts"]["kites"]
        assert kites["aware_start"] == pytest.approx(0.5)  # Ada, one of the two, knows at the start
        assert kites["held_start"] == 0.5 and kites["curve"][0]["held"] == 1
        assert 0 <= r["density_before"] <= r["density_after"] <= 1
        # two calls per resident per moment: the news questions and the names
        assert r["phases"]["interviews_before"]["calls"] == 4 and r["phases"]["interviews_after"]["calls"] == 4
        # the interviews' memory check agrees with the log: held = a memory carried it by then
        held_after = {a["who"] for a in r["interviews"]["after"] if a["facts"]["kites"]["held"]}
        assert held_after == set(kites["holders"])
        for holder in kites["holders"].values():
            assert holder["replay"].startswith(f"smallville replay {r['save']} --at ")
    agg = report["aggregate"]
    assert agg["kites.aware_end"]["n"] == 2 and agg["density_after"]["ci95"] is not None
    summary = (out / "summary.md").read_text()
    # the kites scenario gives no paper figures: none are shown beside it (the Ville's scenario carries them)
    assert "| figure | this study (2 run(s)) |" in summary and "0.740" not in summary
    assert "![awareness.png](awareness.png)" in summary


def test_news_reached_bob_and_the_cascade_says_from_whom(studied) -> None:
    _, report, _ = studied
    reached = [r for r in report["runs"] if "Bob Builder" in r["facts"]["kites"]["holders"]]
    assert reached, "Ada and Bob share a bedroom: the kite festival must reach Bob in some run"
    for r in reached:
        bob = r["facts"]["kites"]["holders"]["Bob Builder"]
        assert bob["tag"] == "conversation" and bob["source"] in ("Ada Lovelace", spread.SELF)
        if bob["source"] == "Ada Lovelace":
            assert r["facts"]["kites"]["cascade"][0]["teller"] == "Ada Lovelace"
        assert r["facts"]["kites"]["held_end"] == 1.0


def test_plots_and_graphs_are_on_disk(studied) -> None:
    out, report, _ = studied
    for png in ("awareness.png", "network.png", "cascade-kites.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, png
    assert set(report["files"]["png"]) == {"awareness.png", "network.png", "cascade-kites.png"}
    graph = nx.read_graphml(out / "graphs" / "seed-7-interview_after.graphml")
    assert set(graph.nodes) == {"Ada Lovelace", "Bob Builder"}
    assert (out / "runs" / "seed-7" / "calls.jsonl").stat().st_size > 0  # the interview calls, recorded


def test_an_existing_save_evaluated_from_memory_alone(studied, tmp_path: Path) -> None:
    out, _, _ = studied
    save = out / "runs" / "seed-7" / "save"
    run_, graphs = evaluate(save, tmp_path / "r", Settings(), interviews=False)  # no call: no models opened
    assert run_["method"] == "memory" and run_["facts"]["kites"]["aware_end"] == run_["facts"]["kites"]["held_end"]
    assert "no interviews" in run_["notes"][-1] and "log_after" in graphs


def test_saves_that_cannot_be_evaluated_give_a_clear_error(studied, tmp_path: Path, capsys) -> None:
    out, _, scenario = studied
    save = out / "runs" / "seed-7" / "save"
    # an unfinished run: evaluated, and the report says so
    cut = tmp_path / "cut"
    shutil.copytree(save, cut)
    manifest = json.loads((cut / "manifest.json").read_text())
    manifest["target_tick"] *= 2
    (cut / "manifest.json").write_text(json.dumps(manifest))
    assert any("unfinished" in n for n in open_save(cut).notes)
    # a scenario with a mistake, and one whose holder is not in this run
    bad = tmp_path / "bad.toml"
    bad.write_text(scenario.read_text().replace('evidence = ["kite", "festival"]', 'evidence = ["Kite!"]'))
    with pytest.raises(MapError, match="single lower-case words"):
        open_save(save, bad)
    stranger = tmp_path / "stranger.toml"
    stranger.write_text(scenario.read_text().replace('holder = "Ada Lovelace"', 'holder = "Sam Moore"'))
    with pytest.raises(MapError, match="not a resident"):
        open_save(save, stranger)
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text(scenario.read_text().replace("[relationship_question]", """[facts.gathering]
place = "Nowhere:attic"
start = 2023-02-13T17:00:00
end = 2023-02-13T19:00:00
[relationship_question]"""))
    with pytest.raises(SaveError, match="'Nowhere:attic' is not an arena"):
        open_save(save, nowhere)
    # a resident of the save missing from its residents file
    gone = tmp_path / "gone"
    shutil.copytree(save, gone)
    manifest = json.loads((gone / "manifest.json").read_text())
    manifest["residents"]["names"].append("Zed Zephyr")
    (gone / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SaveError, match="Zed Zephyr"):
        open_save(gone)
    # the command line: one line, status 2, no traceback
    assert main(["eval", "diffusion", "--save", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_a_routine_run_has_nothing_to_evaluate(tmp_path: Path) -> None:
    settings = agent_settings(write_town(tmp_path / "town"), mind="routine")
    run(settings, tmp_path / "routine", 1)
    with pytest.raises(SaveError, match="routine"):
        open_save(tmp_path / "routine")


def test_seeds_side_by_side_against_a_server(tmp_path: Path) -> None:
    """`--parallel 2`: two seeds in processes of their own against one OpenAI-compatible server (the fake,
    answering like the scripted model), then the interviews through it too; a bad --parallel is refused."""
    from smallville.inference.settings import EndpointSettings, InferenceSettings
    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServerProcess

    with FakeServerProcess(latency_s=0.0, answers=scripted.answer) as server:
        endpoint = EndpointSettings(name="fake", base_url=server.base_url, model="fake-model",  # type: ignore[arg-type]
                                    max_concurrency=64, timeout_s=30.0)
        settings = agent_settings(write_town(tmp_path / "town"), InferenceSettings(endpoints=[endpoint]))
        report = study(tmp_path / "out", settings, seeds=2, days=6 / 24, parallel=2, progress=False)
    assert [r["name"] for r in report["runs"]] == ["seed-7", "seed-8"]
    assert all(r["complete"] and r["phases"]["interviews_after"]["calls"] == 4 for r in report["runs"])
    assert all(r["phases"]["interviews_after"]["tokens"] > 0 for r in report["runs"])  # the pool's accounting
    logs = [(tmp_path / "out" / "runs" / n / "save" / "events.jsonl").read_bytes() for n in ("seed-7", "seed-8")]
    assert logs[0] != logs[1]
    with pytest.raises(SystemExit) as refused:  # argparse refuses the flag, naming it, before anything starts
        main(["eval", "diffusion", "--parallel", "0", "--out", str(tmp_path / "o")])
    assert refused.value.code == 2 and not (tmp_path / "o").exists()
