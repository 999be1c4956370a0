"""Structured answers: schema forms, parsing, re-asking with the error fed back, and the typed failure."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

import pytest
from inference_kit import CHAT, Plan, opts, run, servers, settings_for
from pydantic import BaseModel, Field

from smallville.inference.accounting import Accounting
from smallville.inference.base import AnswerInvalid
from smallville.inference.pool import ServerPool
from smallville.inference.structured import (
    AnswerProblem,
    RawAnswer,
    extract_json,
    parse_answer,
    response_format,
    schema_hash,
    strict_schema,
)
from smallville.testing.fake_server.answers import minimal_instance


def test_response_format_per_mode():
    standard = response_format(Plan, "json_schema")
    assert standard["type"] == "json_schema" and standard["json_schema"]["name"] == "Plan"
    strict = standard["json_schema"]["schema"]
    assert strict["required"] == ["summary", "steps", "mood"] and strict["additionalProperties"] is False
    assert strict["$defs"]["Step"]["additionalProperties"] is False
    assert response_format(Plan, "json_object_schema") == {"type": "json_object", "schema": Plan.model_json_schema()}
    assert response_format(Plan, "prompt") is None
    standard["json_schema"]["name"] = "changed"  # callers get copies: the cache cannot be corrupted
    assert response_format(Plan, "json_schema")["json_schema"]["name"] == "Plan"


def test_strict_schema_still_accepts_what_pydantic_accepts():
    schema = strict_schema(Plan.model_json_schema())
    assert "default" not in json.dumps(schema)
    assert Plan.model_validate(minimal_instance(schema, schema["$defs"]))


def test_schema_hash_is_stable_and_distinguishes_models():
    class Other(BaseModel):
        summary: str

    assert schema_hash(Plan) == schema_hash(Plan) and len(schema_hash(Plan)) == 16
    assert schema_hash(Plan) != schema_hash(Other)


@pytest.mark.parametrize("text", [
    '{"a": 1}', '```json\n{"a": 1}\n```', 'Sure! Here it is:\n```\n{"a": 1}\n```\nAnything else?',
    'The answer is {"a": 1} as requested.', '  {"a": 1}  ',
])
def test_extract_json_finds_the_object(text):
    assert extract_json(text) == {"a": 1}


def test_parse_answer_problems_say_what_was_wrong():
    def problem(raw: RawAnswer) -> str:
        with pytest.raises(AnswerProblem) as info:
            parse_answer(raw, Plan)
        return info.value.feedback

    assert "no choices" in problem(RawAnswer("", None, "a", choices=0))
    assert "cut off" in problem(RawAnswer('{"summary": "x", "st', "length", "a"))
    assert "empty" in problem(RawAnswer("  ", "stop", "a"))
    assert "not JSON" in problem(RawAnswer("no idea", "stop", "a"))
    feedback = problem(RawAnswer('{"summary": "x", "steps": [{"minutes": 1, "action": "a", "place": "moon"}]}',
                                 "stop", "a"))
    assert "steps.0.minutes" in feedback and "steps.0.place" in feedback


class _Everything(BaseModel):
    when: datetime
    kind: Literal["a", "b"]
    score: int = Field(ge=1, le=10)
    ratio: float = Field(gt=0.5, lt=2.0)
    tags: list[str] = Field(min_length=2)
    pair: tuple[int, str]
    nested: Plan | None
    flag: bool = True
    name: str = Field(min_length=3)


def test_fake_server_builds_valid_instances_of_rich_schemas():
    for model in (_Everything, Plan):
        schema = model.model_json_schema()
        assert model.model_validate(minimal_instance(schema, schema.get("$defs", {})))
        strict = strict_schema(schema)
        assert model.model_validate(minimal_instance(strict, strict.get("$defs", {})))


@pytest.mark.parametrize("fault", ["garbage", "bad_schema", "length", "empty"])
def test_one_bad_answer_is_re_asked_with_the_problem_fed_back(fault):
    with servers(1) as (srv,):
        srv.script(fault)
        acc = Accounting()

        async def go() -> Plan:
            async with ServerPool(settings_for(srv), acc) as pool:
                return await pool.complete_model(CHAT, Plan, opts(max_tokens=100))

        assert isinstance(run(go()), Plan)
        assert srv.requests == 2
        retry = srv.stats()["recent"][-1]
        if fault != "empty":  # the bad answer and the problem go back to the model
            assert retry["messages"][-2]["role"] == "assistant"
            assert retry["messages"][-1]["role"] == "user" and len(retry["messages"]) == len(CHAT) + 2
        if fault == "length":  # a cut answer gets more room
            assert retry["max_tokens"] == 200
        snap = acc.snapshot()["by_purpose"]["plan"]
        assert snap["invalid_answers"] == 1 and snap["ok"] == 1


def test_answers_that_never_fit_raise_answer_invalid_with_endpoint_and_last_answer():
    with servers(1) as (srv,):
        srv.set_default("bad_schema")
        acc = Accounting()

        async def go() -> Plan:
            async with ServerPool(settings_for(srv, answer_retries=2), acc) as pool:
                return await pool.complete_model(CHAT, Plan, opts())

        with pytest.raises(AnswerInvalid) as info:
            run(go())
        assert srv.requests == 3
        error = info.value
        assert error.endpoint == "a" and str(error).startswith("[a] no valid Plan after 3 answer(s)")
        assert json.loads(error.last_answer)["summary"] == {"wrong": [1, 2]}
        snap = acc.snapshot()["by_purpose"]["plan"]
        assert snap["failed"] == 1 and snap["failures"] == {"AnswerInvalid": 1} and snap["invalid_answers"] == 3


def test_text_answers_are_never_empty():
    with servers(1) as (srv,):
        srv.script("empty")

        async def go(retries: int) -> str:
            async with ServerPool(settings_for(srv, answer_retries=retries)) as pool:
                return await pool.complete_text(CHAT, opts("talk"))

        assert run(go(1)).startswith("A fake answer")
        srv.set_default("empty")
        with pytest.raises(AnswerInvalid, match="empty answer"):
            run(go(1))


def test_prompt_mode_parses_fenced_answers():
    with servers(1) as (srv,):
        async def go() -> Plan:
            async with ServerPool(settings_for(srv, structured="prompt")) as pool:
                return await pool.complete_model(CHAT, Plan, opts())

        assert run(go()).steps
        answer = srv.stats()["recent"][-1]
        assert answer["messages"][-1]["role"] == "system" and "JSON schema" in answer["messages"][-1]["content"]


# -- hardening: each of these failed before its fix ---------------------------------------------------


def test_a_cut_answer_never_gets_less_room_than_the_caller_asked():
    with servers(1) as (srv,):
        srv.script("length")

        async def go() -> Plan:
            async with ServerPool(settings_for(srv)) as pool:
                return await pool.complete_model(CHAT, Plan, opts(max_tokens=10_000))

        assert isinstance(run(go()), Plan)
        assert srv.stats()["recent"][-1]["max_tokens"] == 10_000  # not the 8,192 cap


class _Reading(BaseModel):
    value: float


@pytest.mark.parametrize("text", [
    "[" * 100_000,  # a small model stuck in a loop: deeper than Python's parser recurses
    '{"value": ' + "[" * 100_000,
    '```json\n' + "{" * 50_000 + '\n```',
    '{"value": NaN}', '{"value": Infinity}', 'Here: {"value": -Infinity}',  # not JSON, and null once recorded
])
def test_any_garbage_is_an_answer_problem_never_a_crash_or_nan(text):
    with pytest.raises(AnswerProblem):
        parse_answer(RawAnswer(text, "stop", "a"), _Reading)
    assert parse_answer(RawAnswer('{"value": 1.5, "note": "NaN"}', "stop", "a"), _Reading).value == 1.5


def test_finding_json_amid_brace_laden_prose_stays_cheap():
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError):
        extract_json('{"a": "' + "{" * 30_000)  # every "{" a failed attempt that scans to the end
    assert time.perf_counter() - start < 0.1  # quadratic before: ~0.5 s with the event loop held
