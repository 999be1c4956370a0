"""Record / replay, accounting figures, settings from TOML and environment, and the doctor table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from inference_kit import CHAT, KEY_ENV, SECRET, Plan, Step, opts, run, servers, settings_for
from pydantic import BaseModel, Field

from smallville.errors import ConfigError
from smallville.inference.accounting import Accounting
from smallville.inference.base import AnswerInvalid, CallOptions, EndpointUnavailable, Message, NotRecorded
from smallville.inference.doctor import check_endpoints, healthy, render_table
from smallville.inference.pool import ServerPool
from smallville.inference.record import Recorder, Replayer, request_key
from smallville.inference.settings import InferenceSettings, apply_env, parse_inference_settings


class Counting:
    """A fake model whose answers change on every call (so replay order is visible)."""

    def __init__(self) -> None:
        self.n = 0

    async def complete_model(self, messages: Sequence[Message], answer: type[BaseModel], options: CallOptions):
        self.n += 1
        n = self.n
        await asyncio.sleep(0.001 * (7 - n % 7))  # finish out of start order
        if messages[-1].content == "fail":
            raise AnswerInvalid("never fits", "fake", last_answer="{}")
        return answer.model_validate({"summary": f"answer {n}", "steps": [
            {"minutes": 5 + n, "action": "write", "place": "library"}], "mood": None})

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        self.n += 1
        return f"text {self.n} ü"


async def _session(model) -> list[str]:
    same = [Message("user", "same question")]
    results = await asyncio.gather(*(model.complete_model(same, Plan, opts()) for _ in range(5)))
    out = [r.model_dump_json() for r in results]
    out.append(await model.complete_text(CHAT, opts("talk", seed=1)))
    out.append((await model.complete_model(CHAT, Plan, opts(temperature=0.1))).model_dump_json())
    try:
        await model.complete_model([Message("user", "fail")], Plan, opts())
    except AnswerInvalid as exc:
        out.append(f"{type(exc).__name__}|{exc}|{exc.endpoint}|{exc.last_answer}")
    return out


def test_replay_is_bit_identical_with_identical_requests_in_start_order(tmp_path):
    path = tmp_path / "calls.jsonl"
    with Recorder(Counting(), path) as recorder:
        original = run(_session(recorder))
    assert len(set(original[:5])) == 5  # identical requests, different answers
    replayed = run(_session(Replayer(path)))
    assert replayed == original
    assert original[-1].startswith("AnswerInvalid|[fake] never fits|fake|{}")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 8 and {line["purpose"] for line in lines} == {"plan", "talk"}
    first = lines[0]
    assert first["answer_model"] == "Plan" and len(first["schema_hash"]) == 16 and first["options"]["seed"] is None


def test_replayer_refuses_what_was_not_recorded(tmp_path):
    path = tmp_path / "calls.jsonl"
    with Recorder(Counting(), path) as recorder:
        run(recorder.complete_text(CHAT, opts("talk")))
    replayer = Replayer(path)
    assert run(replayer.complete_text(CHAT, opts("talk"))) == "text 1 ü"
    with pytest.raises(NotRecorded, match="occurrence 2"):
        run(replayer.complete_text(CHAT, opts("talk")))
    with pytest.raises(NotRecorded):  # any change to the request is another request
        run(Replayer(path).complete_text(CHAT, opts("talk", temperature=0.71)))
    with pytest.raises(NotRecorded, match="no recording"):
        Replayer(tmp_path / "missing.jsonl")


def test_torn_last_line_is_skipped_and_recording_continues(tmp_path):
    path = tmp_path / "calls.jsonl"
    with Recorder(Counting(), path) as recorder:
        run(recorder.complete_text(CHAT, opts("talk")))
    with path.open("a") as f:
        f.write('{"v": 1, "key": "abc", "n"')  # a crash mid-write
    assert Replayer(path).size == 1
    path.write_text(path.read_text().rsplit("\n", 1)[0] + "\n")
    with Recorder(Counting(), path) as recorder:  # continuing: the occurrence counter goes on
        run(recorder.complete_text(CHAT, opts("talk")))
    replayer = Replayer(path)
    assert [run(replayer.complete_text(CHAT, opts("talk"))) for _ in range(2)] == ["text 1 ü", "text 1 ü"]


def test_request_key_covers_everything_that_shapes_the_answer():
    base = request_key("model", CHAT, Plan, opts())
    assert base == request_key("model", list(CHAT), Plan, opts())
    assert base != request_key("model", CHAT, Step, opts())
    assert base != request_key("model", CHAT, Plan, opts(seed=1))
    assert base != request_key("model", CHAT, Plan, opts("other"))
    assert base != request_key("text", CHAT, None, opts())


def test_recording_a_real_pool_holds_no_key_and_replays_without_server(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    path = tmp_path / "calls.jsonl"
    with servers(1, api_key=SECRET) as (srv,):
        srv.script("garbage", "500")

        async def go() -> list[str]:
            async with ServerPool(settings_for(srv, api_key_env=KEY_ENV)) as pool:
                with Recorder(pool, path) as recorder:
                    return await _session_pool(recorder)

        original = run(go())
    text = path.read_text()
    assert SECRET not in text and "authorization" not in text.lower() and "127.0.0.1" not in text
    assert run(_session_pool(Replayer(path))) == original


async def _session_pool(model) -> list[str]:
    plan = await model.complete_model(CHAT, Plan, opts(seed=7))
    words = await model.complete_text(CHAT, opts("talk", seed=7))
    return [plan.model_dump_json(), words]


def test_accounting_counts_and_saves(tmp_path):
    acc = Accounting()
    with servers(2) as (a, b):
        a.script("500", "garbage")

        async def go() -> None:
            async with ServerPool(settings_for(a, b), acc) as pool:
                await pool.complete_model(CHAT, Plan, opts("plan"))
                await pool.complete_text(CHAT, opts("talk"))
                await pool.complete_text(CHAT, opts("talk"))

        run(go())
    snap = acc.snapshot()
    plan, talk = snap["by_purpose"]["plan"], snap["by_purpose"]["talk"]
    # plan: a -> 500, fail over to b -> ok. talks: a -> garbage is fine text; then b or a
    assert (plan["calls"], plan["ok"], plan["retries"], plan["fallbacks"], plan["invalid_answers"]) == (1, 1, 1, 1, 0)
    assert (talk["calls"], talk["ok"], talk["failed"]) == (2, 2, 0)
    assert snap["totals"]["calls"] == 3 and snap["totals"]["requests"] == 4
    assert snap["by_endpoint"]["a"]["errors"] == 1 and snap["by_endpoint"]["a"]["error_kinds"] == {"http_500": 1}
    assert plan["prompt_tokens"] > 0 and plan["completion_tokens"] > 0
    assert 0 < plan["latency_s_p50"] <= plan["latency_s_p95"] <= plan["latency_s_sum"]
    saved = json.loads(acc.save(tmp_path / "run" / "inference.json").read_text())
    assert saved == json.loads(json.dumps(snap))


def test_settings_errors_name_the_key_and_env_overrides():
    with pytest.raises(ConfigError, match=r"inference\.endpoints\[0\]\.base_url: .*http://"):
        parse_inference_settings({"endpoints": [{"name": "gpu", "base_url": "gpu:8000", "model": "m"}]})
    with pytest.raises(ConfigError, match=r"inference\.retrys: Extra inputs"):
        parse_inference_settings({"retrys": 3})
    with pytest.raises(ConfigError, match="unique"):
        parse_inference_settings({"endpoints": [{"name": "x", "base_url": "http://h/v1", "model": "m"}] * 2})
    empty = InferenceSettings()
    assert empty.uses_embedded_server and apply_env(empty, {}).uses_embedded_server
    assert apply_env(empty, {"OPENAI_API_KEY": SECRET}).uses_embedded_server  # a key alone changes nothing
    env = apply_env(empty, {"OPENAI_BASE_URL": "http://gpu:8000/v1/", "SMALLVILLE_MODEL": "qwen"})
    assert [(e.name, e.base_url, e.model) for e in env.endpoints] == [("env", "http://gpu:8000/v1", "qwen")]
    with pytest.raises(ConfigError, match="SMALLVILLE_MODEL"):
        apply_env(empty, {"OPENAI_BASE_URL": "http://gpu:8000/v1"})
    openai_env = apply_env(empty, {"SMALLVILLE_MODEL": "gpt-4o-mini"})
    assert openai_env.endpoints[0].base_url == "https://api.openai.com/v1"
    two = parse_inference_settings({"endpoints": [{"name": "x", "base_url": "http://h1/v1", "model": "m"},
                                                  {"name": "y", "base_url": "http://h2/v1", "model": "m"}]})
    assert {e.model for e in apply_env(two, {"SMALLVILLE_MODEL": "n"}).endpoints} == {"n"}
    assert SECRET not in repr(apply_env(two, {"OPENAI_API_KEY": SECRET}))


def test_doctor_reports_each_endpoint():
    with servers(2) as (good, dead):
        dead.kill()
        settings = settings_for(good, dead, good, names=("good", "dead", "wrong-model"))
        settings.endpoints[2] = settings.endpoints[2].model_copy(update={"model": "llama-9000"})
        rows = check_endpoints(settings)
    by_name = {r["name"]: r for r in rows}
    assert by_name["good"]["reachable"] and by_name["good"]["structured_ok"] and by_name["good"]["model_present"]
    assert by_name["good"]["latency_ms"] > 0 and not by_name["good"]["problem"]
    assert not by_name["dead"]["reachable"] and "unreachable" in by_name["dead"]["problem"]
    assert by_name["wrong-model"]["model_present"] is False and "fake-model" in by_name["wrong-model"]["problem"]
    table = render_table(rows)
    assert table.splitlines()[0].split()[:2] == ["endpoint", "base"] and "wrong-model: model 'llama-9000'" in table
    assert not healthy(rows) and healthy([by_name["good"]])


# -- hardening: each of these failed before its fix ---------------------------------------------------


class Aliased(BaseModel):
    origin: str = Field(alias="from")
    when: str


class Raising:
    """A model whose calls fail with the given errors, in order."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    async def complete_model(self, messages: Sequence[Message], answer: type[BaseModel], options: CallOptions):
        if answer is Aliased:
            return Aliased.model_validate({"from": "Hobbs Cafe", "when": "08:00"})
        raise self.errors.pop(0)

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        raise self.errors.pop(0)


def test_replay_gives_back_aliased_answers_and_the_same_error_classes(tmp_path):
    from smallville.inference.local import EmbeddedServerError
    from smallville.inference.pool import RequestRejected

    path = tmp_path / "calls.jsonl"
    errors: list[Exception] = [RequestRejected("HTTP 400: too long", "gpu"), EmbeddedServerError("it died")]

    async def session(model) -> list[str]:
        out = [(await model.complete_model(CHAT, Aliased, opts())).model_dump_json(by_alias=True)]
        for _ in range(2):
            try:
                await model.complete_text(CHAT, opts("talk"))
            except EndpointUnavailable as exc:  # what a caller would catch
                out.append(f"unavailable|{exc}|{exc.endpoint}")
            except RequestRejected as exc:
                out.append(f"rejected|{exc}|{exc.endpoint}")
        return out

    with Recorder(Raising(list(errors)), path) as recorder:
        original = run(session(recorder))
    assert original[1:] == ["rejected|[gpu] HTTP 400: too long|gpu", "unavailable|[embedded] it died|embedded"]
    assert run(session(Replayer(path))) == original


def test_a_base_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ConfigError, match="must not hold credentials") as info:
        parse_inference_settings({"endpoints": [{"name": "gpu", "base_url": f"https://me:{SECRET}@gpu/v1",
                                                 "model": "m"}]})
    assert SECRET not in str(info.value)
