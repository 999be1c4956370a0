"""A scripted stand-in for a language model: plausible, deterministic answers to the agents' prompts.

Owns `answer(messages, schema)`, which reads a prompt the way a model would (the wake and bed times, the
plan, the options, the memories shown, the transcript) and writes a valid answer for the step's schema,
chosen by a hash of the prompt: the same prompt always gets the same answer. It is not a mind (it knows
nothing but the prompt) and never used for a real run; it lets tests and benchmarks drive the whole loop
at any speed with answers that behave like a model's: plans that fit the day, places from the options,
conversations that pass on what the speaker remembers (so news spreads), insights that cite evidence.

Two ways in: `ScriptedModel`, an in-process `LanguageModel` (optionally with latency), and `answer` handed
to the fake server (`FakeServer(answers=scripted.answer)`; registered as `scripted` for a server in its own
process, the benchmark's 1 s-latency server).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from smallville.inference.base import CallOptions, Message

T = TypeVar("T", bound=BaseModel)

_ACTIVITIES = ("read the news", "tidy up", "work on a project", "take a walk", "call a friend", "write notes",
               "have a snack", "check messages", "plan the week", "stretch")
_STEPS = ("get things ready", "focus on the task", "take a short break", "keep going", "wrap up")


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _hhmm(m: int) -> str:
    m %= 24 * 60
    return f"{m // 60:02d}:{m % 60:02d}"


def _minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _day_plan(user: str, h: int) -> dict[str, Any]:
    found = re.search(r"wake at (\d\d:\d\d) and go to bed at (\d\d:\d\d)", user)
    wake, bed = (_minutes(found.group(1)), _minutes(found.group(2))) if found else (420, 1380)
    if bed <= wake:
        bed += 24 * 60
    work = re.search(r"work (\d\d:\d\d)-(\d\d:\d\d) at ([^.]+)\.", user)
    chunks = [(wake, "wake up and get ready"), (wake + 30, "have breakfast")]
    if work:
        chunks += [(_minutes(work.group(1)), f"work at {work.group(3)}"), (_minutes(work.group(2)), "go home")]
    else:
        chunks += [(wake + 120, _ACTIVITIES[h % len(_ACTIVITIES)]), (12 * 60, "have lunch"),
                   (14 * 60, _ACTIVITIES[(h >> 8) % len(_ACTIVITIES)])]
    if "Keep in mind" in user and "party" in user.lower():
        chunks.append((17 * 60, "go to the Valentine's Day party at Hobbs Cafe"))
    chunks += [(18 * 60 + 30, "have dinner"), (bed - 60, "wind down before bed")]
    chunks = sorted({m: a for m, a in chunks if wake <= m < bed}.items())
    return {"chunks": [{"start": _hhmm(m), "activity": a} for m, a in chunks[:8]]}


def _hourly(user: str) -> dict[str, Any]:
    plan = re.findall(r"^(\d\d:\d\d)-(\d\d:\d\d) (.+)$", user, re.M)
    frm = re.search(r"from (\d\d:\d\d) to (\d\d:\d\d)", user)
    start, end = (_minutes(frm.group(1)), _minutes(frm.group(2))) if frm else (420, 1380)
    if end <= start:
        end += 24 * 60
    blocks, at = [], start
    if "Something came up" in user:  # a re-plan: first deal with it, briefly
        blocks.append({"start": _hhmm(at), "minutes": 30, "activity": "think about what came up"})
        at += 30
    while at < end and len(blocks) < 12:
        activity = next((a for s, e, a in plan if _minutes(s) <= at % 1440 < (_minutes(e) or 1440)), "free time")
        minutes = 120 if activity.startswith("work") else 90
        blocks.append({"start": _hhmm(at), "minutes": minutes, "activity": activity[:60]})
        at += minutes
    return {"blocks": blocks or [{"start": _hhmm(start), "minutes": 60, "activity": "free time"}] * 3}


def _turn(user: str, name: str, h: int) -> dict[str, Any]:
    lines = re.findall(r"^[A-Z][a-z]+ [A-Za-z]+: (.+)$", user, re.M)
    memories = re.findall(r"^\d+\. (.+)$", user, re.M)
    news = [m for m in memories if "party" in m.lower() or "mayor" in m.lower()]
    if not lines:
        return {"utterance": "Hi! Good to see you. How is your day going?", "end": False}
    if news and h % 3:
        said = f"Did you hear? {news[h % len(news)][:150]}"
    elif memories:
        said = f"I was just thinking about this: {memories[h % len(memories)][:140]}"
    else:
        said = f"That is interesting. {_ACTIVITIES[h % len(_ACTIVITIES)].capitalize()} is on my list today."
    return {"utterance": said.replace('"', "'"), "end": len(lines) >= 3 + h % 4}


def _importance(memory: str, h: int) -> int:
    """News and plans matter; what people are busy with hardly does."""
    text = memory.lower()
    if any(w in text for w in ("party", "festival", "mayor", "decided", "election", "invite")):
        return 7 + h % 3
    if " is busy: " in text or " is in use" in text or " is sleeping" in text:
        return 1 + h % 3
    return 2 + h % 6


def answer(messages: Sequence[dict[str, Any]], schema: dict[str, Any]) -> str:
    """A JSON answer for the schema, from the prompt (see the module docstring)."""
    user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    system = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    title = str(schema.get("title", ""))
    h = _hash(system, user)
    props = schema.get("properties", {})
    out: Any
    if title == "DayPlan":
        out = _day_plan(user, h)
    elif title == "HourlySchedule":
        out = _hourly(user)
    elif title == "Actions":
        n = max(1, min(12, int(m.group(1)) // 15 if (m := re.search(r"these (\d+) minutes", user)) else 4))
        out = {"actions": [{"action": _STEPS[(h + i) % len(_STEPS)], "minutes": 15} for i in range(n)]}
    elif title.startswith("Importance"):
        n = props.get("scores", {}).get("minItems", 1)
        rated = re.findall(r"^\d+\. (.+)$", user, re.M)
        out = {"scores": [_importance(rated[i] if i < len(rated) else "", h >> (4 * i)) for i in range(n)]}
    elif title == "PlaceChoice":
        options = props.get("choice", {}).get("enum") or [""]
        out = {"choice": options[h % len(options)]}
    elif title == "Reaction":
        out = {"react": "yes" if h % 3 else "no", "reason": "it would be nice to catch up"}
    elif title == "Turn":
        out = _turn(user, system, h)
        if "about" in props:  # the closed turn: its topic, and the line in the plain words its pattern allows
            out = {"about": _options(props["about"])[0], **out,
                   "utterance": re.sub(r"[^A-Za-z0-9,.;:!?'()&\- ]", " ", out["utterance"].replace("…", "..."))}
            out["utterance"] = " ".join(w[:20] for w in out["utterance"].split()[:24])
    elif title in ("DayChoices", "HourChoices"):  # closed plans: one of each time's options
        out = {key: (opts := _options(spec))[(h >> i) % min(2, len(opts))]
               for i, (key, spec) in enumerate(props.items())}
    elif title == "Questions":
        name = re.search(r"about (.+?)'s life", user)
        who = name.group(1) if name else "them"
        out = {"questions": [f"What does {who} care about most?", f"Who has {who} been talking to?",
                             f"What is {who} planning next?"]}
    elif title == "Insights":
        ids = [int(i) for i in re.findall(r"^\[(\d+)\]", user, re.M)] or [0]
        out = {"insights": [{"insight": "they keep returning to the same people and places",
                             "evidence": ids[:2]}]}
    elif title == "InterviewAnswer":
        memories = re.findall(r"^\d+\. (.+)$", user, re.M)
        out = {"answer": (memories[0][:280] if memories else "I do not remember anything about that.")}
    elif title == "ObjectState":
        out = {"state": "in use"}
    elif title == "NewsAnswers":
        out = {"answers": _news(user)}
    elif title == "KnownPeople":
        out = {"known": _known(user)}
    else:
        raise ValueError(f"the scripted model has no answer for {title!r}")
    return json.dumps(out, ensure_ascii=False)


def _options(spec: dict[str, Any]) -> list[Any]:
    """The values a schema property allows (an enum, or a const)."""
    return list(spec["enum"]) if "enum" in spec else [spec["const"]]


def _news(user: str) -> list[dict[str, str]]:
    """The evaluation's news questions: yes when a remembered line shares the question's key words."""
    remembered = user.split("Someone asks you:")[0].lower()
    asked = user.split("Someone asks you:")[-1]
    questions = re.findall(r"^\d+\. (.+\?)$", asked, re.M)
    out = []
    for q in questions:
        keys = [w for w in re.findall(r"[a-z]{5,}", q.lower()) if w not in {"there", "running", "about", "heard"}]
        heard = bool(keys) and all(k in remembered for k in keys[:2])
        out.append({"answer": "Yes, I heard about it." if heard else "No, I have not heard.",
                    "heard": "yes" if heard else "no"})
    return out


def _known(user: str) -> list[int]:
    """The evaluation's names question: the people the prompt says one knows or remembers."""
    head, _, listed = user.partition("People of the town:")
    return [int(n) for n, name in re.findall(r"^(\d+)\. (.+)$", listed, re.M) if name.split()[0] in head]


class ScriptedModel:
    """An in-process `LanguageModel` answering with `answer`; `latency_s` per call (plus up to `jitter_s`
    more, drawn from `order_seed`: to make calls finish in another order), any concurrency."""

    def __init__(self, latency_s: float = 0.0, jitter_s: float = 0.0, order_seed: int = 0):
        self.latency_s, self.jitter_s = latency_s, jitter_s
        self._order = random.Random(order_seed)
        self.calls = 0

    def __repr__(self) -> str:
        return f"ScriptedModel(latency_s={self.latency_s}, jitter_s={self.jitter_s})"

    async def complete_model(self, messages: Sequence[Message], answer_model: type[T], options: CallOptions) -> T:
        self.calls += 1
        delay = self.latency_s + self._order.random() * self.jitter_s
        if delay:
            await asyncio.sleep(delay)
        raw = [{"role": m.role, "content": m.content} for m in messages]
        return answer_model.model_validate_json(answer(raw, answer_model.model_json_schema()))

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        self.calls += 1
        return "A scripted answer."
