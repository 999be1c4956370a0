"""`--expand`: backgrounds through the model pool, against the fake OpenAI-compatible server on loopback.

A server that answers gives every person a model-written background, each call recorded; one that answers
garbage now and then gives those people the template (counted, listed); one that refuses stops the command
with one line and exit 2, and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from inference_kit import KEY_ENV, SECRET, settings_for

from smallville.inference.base import AuthenticationFailed, ModelsUnusable
from smallville.population.cli import main as population_main
from smallville.population.generate import generate
from smallville.population.people import read_population
from smallville.testing.fake_server import FakeServer

DATA = Path(__file__).parent / "data" / "population"
TWENTY = {"total_num": 20, "distributions": [
    {"distribution_name": "Gender", "categories": [{"category_name": "Female", "percentage": 0.5},
                                                   {"category_name": "Male", "percentage": 0.5}]},
    {"distribution_name": "Profession", "categories": [{"category_name": "Economists", "percentage": 0.5},
                                                       {"category_name": "Writers", "percentage": 0.5}]}]}


def background_answer(messages: list[dict[str, Any]], schema: dict[str, Any]) -> str:
    """The fake server's answer writer (`FakeServer(answers=background_answer)`)."""
    asked = str(messages[-1]["content"])
    name = asked.removeprefix("Write the background of ").split(".", 1)[0]
    return json.dumps({"background": f"{name} is a patient listener who keeps a garden and reads history at night."})


ANSWERS = background_answer


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "twenty.json"
    path.write_text(json.dumps(TWENTY))
    return path


def _settings_file(tmp_path: Path, server: FakeServer, **inference: Any) -> Path:
    lines = ["[inference]"] + [f"{k} = {json.dumps(v)}" for k, v in {
        "answer_retries": 0, "retries": 1, "backoff_s": 0.01, "backoff_max_s": 0.02, **inference}.items()]
    lines += ["[[inference.endpoints]]", 'name = "fake"', f'base_url = "{server.base_url}"', 'model = "fake-model"',
              f'api_key_env = "{KEY_ENV}"', "max_concurrency = 4"]
    path = tmp_path / "models.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_expand_writes_each_background_through_the_model_and_records_every_call(tmp_path: Path,
                                                                                config: Path) -> None:
    with FakeServer(answers=ANSWERS) as server:
        done = generate(config, 1, tmp_path / "out", expand=True, inference=settings_for(server, answer_retries=0))
    _, people = read_population(done.population)
    assert all(p.background == f"{p.name} is a patient listener who keeps a garden and reads history at night."
               for p in people)
    assert done.expanded is not None and (done.expanded["from_model"], done.expanded["fallbacks"]) == (20, 0)
    calls = [json.loads(line) for line in (tmp_path / "out" / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 20 and {c["purpose"] for c in calls} == {"population_background"}
    assert json.loads((tmp_path / "out" / "expand.json").read_text())["fallbacks"] == 0
    assert (tmp_path / "out" / "inference.json").is_file()


def test_garbage_answers_fall_back_to_the_template_counted(tmp_path: Path, config: Path, caplog) -> None:
    with FakeServer(answers=ANSWERS) as server:
        server.control(script=["garbage", "garbage", "garbage"])  # three calls answered with garbage, then sense
        done = generate(config, 1, tmp_path / "out", expand=True, inference=settings_for(server, answer_retries=0))
    assert done.expanded is not None
    assert (done.expanded["from_model"], done.expanded["fallbacks"]) == (17, 3)
    assert done.expanded["reasons"] == {"AnswerInvalid": 3}
    _, people = read_population(done.population)
    fallen = [p for p in people if p.id in done.expanded["fallback_ids"]]
    assert len(fallen) == 3 and all(p.background and p.background.startswith(f"{p.name} (") for p in fallen)
    assert "3 of 20 backgrounds fell back to the template" in caplog.text
    assert json.loads((tmp_path / "out" / "expand.json").read_text())["fallback_ids"] == done.expanded["fallback_ids"]


def test_answers_that_fit_the_schema_but_say_nothing_fall_back(tmp_path: Path, config: Path) -> None:
    # the fake's own minimal answers ("xxxx...") are valid JSON of the schema, but no background
    with FakeServer() as server:
        done = generate(config, 1, tmp_path / "out", expand=True, inference=settings_for(server, answer_retries=0))
    assert done.expanded is not None and done.expanded["reasons"] == {"BackgroundRejected": 20}


def test_a_server_that_refuses_stops_with_one_line_and_exit_2(tmp_path: Path, config: Path, capsys,
                                                              monkeypatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-0000")
    with FakeServer(api_key=SECRET, answers=ANSWERS) as server:
        with pytest.raises(AuthenticationFailed):
            generate(config, 1, tmp_path / "direct", expand=True, inference=settings_for(server, api_key_env=KEY_ENV))
        settings = _settings_file(tmp_path, server)
        code = population_main(["population", "generate", str(config), "--out", str(tmp_path / "out"), "--expand",
                                "--config", str(settings)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    last = err[-1]
    assert last.startswith("error: [fake] HTTP 401") and f"${KEY_ENV} was refused" in last, err
    assert "sk-wrong-key-0000" not in "\n".join(err) and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out" / "population.jsonl").exists()  # a population that could not think is not written


def test_a_server_whose_every_answer_is_garbage_cannot_think(tmp_path: Path, config: Path, capsys) -> None:
    with FakeServer(answers=ANSWERS) as server:
        server.control(default="garbage")
        with pytest.raises(ModelsUnusable, match="the first 8 model calls all failed"):
            generate(config, 1, tmp_path / "direct", expand=True, inference=settings_for(server, answer_retries=0))
        settings = _settings_file(tmp_path, server)
        code = population_main(["population", "generate", str(config), "--out", str(tmp_path / "out"), "--expand",
                                "--config", str(settings)])
    assert code == 2
    assert "cannot" not in capsys.readouterr().out
    assert not (tmp_path / "out" / "population.jsonl").exists()


def test_a_server_that_is_not_there_stops_the_command(tmp_path: Path, config: Path, capsys) -> None:
    with FakeServer() as server:
        settings = _settings_file(tmp_path, server)
    # stopped: the port refuses connections
    code = population_main(["population", "generate", str(config), "--out", str(tmp_path / "out"), "--expand",
                            "--config", str(settings)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "fake" in err[-1]


def test_expand_for_a_town_puts_the_model_backgrounds_in_the_residents_file(tmp_path: Path) -> None:
    import tomllib

    with FakeServer(answers=ANSWERS) as server:
        done = generate(DATA / "ville.json", 2, tmp_path / "out", town=Path(__file__).parents[1] / "maps" / "the_ville",
                        expand=True, inference=settings_for(server, answer_retries=0))
    assert done.residents is not None
    rows = tomllib.loads(done.residents.read_text())["residents"]
    assert all(r["background"].startswith(f"{r['name']} is a patient listener") for r in rows)


def test_templates_are_the_default_and_call_no_model(tmp_path: Path, config: Path) -> None:
    done = generate(config, 1, tmp_path / "out")
    assert done.expanded is None and not (tmp_path / "out" / "calls.jsonl").exists()
