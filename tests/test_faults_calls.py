"""The recording of model calls (`calls.jsonl`) through a crash and an oversized answer: a resume cuts it back
with the log to the newest checkpoint, so no call is recorded twice and the recording is the uncut run's;
an answer over the cap is recorded without its text, and a replay stops there instead of making one up."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agents_kit import agent_settings, run

from smallville.inference.base import AnswerInvalid, CallOptions, Message, NotRecorded
from smallville.inference.embed import LocalEmbedder
from smallville.inference.record import MAX_ANSWER_BYTES, Recorder, Replayer, read_recording
from smallville.persist.save import Save
from smallville.run import drive, resume_run
from smallville.testing.scripted import ScriptedModel


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def _calls(path: Path) -> list[dict[str, Any]]:
    return read_recording(path)  # the calls, without the lines a resume blanked


def _index(call: dict[str, Any]) -> tuple[str, int]:
    return call["key"], call["n"]


def test_a_resume_cuts_the_recording_back_with_the_log(tmp_path: Path, small_town, embedder) -> None:
    settings = agent_settings(small_town)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run(settings, whole, 8, lm=ScriptedModel(), embedder=embedder)
    run(settings, cut, 7.3, lm=ScriptedModel(), embedder=embedder)
    # A crash just before the 7:18 checkpoint (the residents are waking, planning, talking): the calls made
    # since the 7:00 one are on disk, the checkpoint that would count them is not.
    save = Save.open(cut)
    (save.checkpoints_dir / f"tick-{save.checkpoint_ticks()[-1]:09d}.json").unlink()
    point = save.latest_checkpoint()
    recorded = (cut / "calls.jsonl").read_bytes()
    assert len(recorded) > point["calls_bytes"] > 0 and recorded[point["calls_bytes"] - 1:point["calls_bytes"]] == b"\n"

    # A checkpoint from before `calls_bytes` existed: the recording is left as it is.
    old = tmp_path / "old"
    shutil.copytree(cut, old)
    newest = old / "checkpoints" / f"tick-{point['tick']:09d}.json"
    data = json.loads(newest.read_text())
    del data["calls_bytes"]
    newest.write_text(json.dumps(data))
    resume_run(old)[0].release_lock()
    assert (old / "calls.jsonl").read_bytes() == recorded

    resumed, sim = resume_run(cut)
    # cut back with the log, and without the calls of the thoughts the checkpoint keeps as their inputs (they
    # start again, and make those calls again)
    again = {j["id"] for j in point["state"]["mind"]["jobs"] if j["result"] is None}
    kept = [json.loads(line) for line in recorded[:point["calls_bytes"]].splitlines()
            if json.loads(line).get("thought") not in again]
    assert (cut / "calls.jsonl").stat().st_size == point["calls_bytes"]  # blanked in place: the checkpoint holds
    assert _calls(cut / "calls.jsonl") == kept
    drive(resumed, sim, round(8 * sim.clock.ticks_per_hour), progress=False, lm=ScriptedModel(), embedder=embedder)
    resumed.release_lock()
    assert (cut / "events.jsonl").read_bytes() == (whole / "events.jsonl").read_bytes()
    calls = _calls(cut / "calls.jsonl")
    indices = [_index(c) for c in calls]
    assert len(indices) == len(set(indices)), "a call recorded twice"
    # The same calls with the same occurrence numbers and answers (the lines' order is the order calls ended in,
    # which concurrency decides).
    assert sorted(calls, key=_index) == sorted(_calls(whole / "calls.jsonl"), key=_index)


class _Huge:
    """A model that answers one question with more than a recording keeps."""

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        if messages[-1].content == "huge":
            return "é" * (MAX_ANSWER_BYTES // 2 + 1)  # two bytes each in UTF-8: just over the cap
        if messages[-1].content == "fail":
            raise AnswerInvalid("never fits", "fake", last_answer="x" * (MAX_ANSWER_BYTES + 5))
        return "small"

    async def complete_model(self, messages: Sequence[Message], answer: Any, options: CallOptions) -> Any:
        raise NotImplementedError


def test_an_answer_over_the_cap_is_recorded_without_its_text(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    small, huge, fail = ([Message("user", text)] for text in ("hi", "huge", "fail"))
    talk = CallOptions("talk")
    with Recorder(_Huge(), path) as recorder:
        assert asyncio.run(recorder.complete_text(small, talk)) == "small"
        assert len(asyncio.run(recorder.complete_text(huge, talk))) == MAX_ANSWER_BYTES // 2 + 1  # the run has it
        with pytest.raises(AnswerInvalid):
            asyncio.run(recorder.complete_text(fail, talk))
    assert path.stat().st_size < MAX_ANSWER_BYTES + 10_000  # one capped error answer, no huge answer
    records = _calls(path)
    omitted = records[1]["answer_omitted"]
    assert "answer" not in records[1] and omitted["cap"] == MAX_ANSWER_BYTES
    assert omitted["bytes"] == MAX_ANSWER_BYTES + 2
    assert len(omitted["sha256"]) == 64 and omitted["preview"].startswith("éé")
    error = records[2]["error"]
    assert len(error["last_answer"]) == MAX_ANSWER_BYTES and error["last_answer_cut"] == MAX_ANSWER_BYTES + 5

    replayer = Replayer(path)
    assert asyncio.run(replayer.complete_text(small, talk)) == "small"
    with pytest.raises(NotRecorded, match=rf"was {MAX_ANSWER_BYTES + 2} bytes, over the recording's cap"):
        asyncio.run(replayer.complete_text(huge, talk))
    with pytest.raises(AnswerInvalid, match="never fits"):
        asyncio.run(replayer.complete_text(fail, talk))
