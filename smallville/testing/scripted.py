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
    chunks += [(18 * 60 + 30, "have dinner"), (bed - 60, "wind down before bed")]
    plan = {m: a for m, a in chunks if wake <= m < bed}
    agreed = {m: a for m, a in _agreed(user) if wake < m < bed}
    for m, activity in sorted(agreed.items()):  # what it agreed to do holds its time, for two hours at most;
        going = plan[max(x for x in plan if x <= m)] if any(x <= m for x in plan) else ""  # then the plan goes on
        plan[m] = activity
        if going and not any(m < x <= m + 120 for x in plan) and m + 120 < bed - 60:
            plan[m + 120] = going
    kept = sorted(plan.items())
    while len(kept) > 8:  # too many parts: the least of the plain ones goes (never waking nor a commitment)
        drop = next(i for i in range(len(kept) - 1, 0, -1) if kept[i][0] not in agreed and kept[i][0] != wake)
        del kept[drop]
    return {"chunks": [{"start": _hhmm(m), "activity": a} for m, a in kept]}


_EVENT = re.compile(r"((?:[A-Z][\w']*\s)*(?i:party|festival|meeting|gathering|celebration|dinner|lunch)\b)")
_AT_PLACE = re.compile(r"\bat ((?:the )?[A-Z][\w']*(?: (?:and |of |for )?[A-Z][\w']*)*)")


def _go_to(text: str, context: str = "") -> str:
    """What was agreed as a plan's activity: 'go to the <event> at <place>' when it names them (the place,
    when the text does not name one, from elsewhere in the prompt that names the same event)."""
    event, at = _EVENT.search(text), _AT_PLACE.search(text)
    if event:
        name = event.group(1).strip()
        kind = name.split()[-1]
        if at is None:
            at = re.search(rf"\b{re.escape(kind)}\b[^\n;]*?{_AT_PLACE.pattern}", context, re.I)
            place = at.group(1) if at else ""
        else:
            place = at.group(1)
        return f"go to the {name}" + (f" at {place}" if place else "")
    return f"go to {at.group(1)}" if at else text[:60]


def _agreed(user: str) -> list[tuple[int, str]]:
    """What the prompt says is to happen at a time today, as (minute, activity): the 'Agreed for today'
    lines ('- 17:00 ...'), and notes to keep in mind that name a time on today's date ('the party on
    February 14 from 5 to 7 pm' when today is Tuesday February 14). Times in the notes read as people
    write them ('5 pm', '17:00', 'from 5 to 7 pm')."""
    from smallville.agents.agenda import read_time  # the prompt's own words; nothing of the world

    out = [(_minutes(m), _go_to(text, user)) for m, text in re.findall(r"^- (\d\d:\d\d) (.+)$", user, re.M)]
    today = re.search(r"Today is \w+ ([A-Z][a-z]+) (\d{1,2})\b", user)
    notes = re.search(r"^Keep in mind: (.+)$", user, re.M)
    if today and notes:
        dated = re.compile(rf"\b{today.group(1)[:3]}[a-z]*\.? {today.group(2)}(?!\d)", re.I)
        for note in notes.group(1).split("; "):
            minute = read_time(note)
            if minute is not None and dated.search(note):
                out.append((minute, _go_to(note, user)))
    return out


def _hourly(user: str) -> dict[str, Any]:
    plan = re.findall(r"^(\d\d:\d\d)-(\d\d:\d\d) (.+)$", user, re.M)
    frm = re.search(r"from (\d\d:\d\d) to (\d\d:\d\d)", user)
    start, end = (_minutes(frm.group(1)), _minutes(frm.group(2))) if frm else (420, 1380)
    if end <= start:
        end += 24 * 60

    woke = _minutes(plan[0][0]) if plan else start  # the plan's first part starts at waking

    def minute(clock: str) -> int:  # on the waking day (a bedtime after midnight sorts last)
        m = _minutes(clock)
        return m + 24 * 60 if m < woke - 120 else m

    spans = [(minute(s), minute(e) if minute(e) > minute(s) else minute(e) + 24 * 60, a) for s, e, a in plan]

    def planned(at: int) -> str:
        return next((a for s, e, a in spans if s <= at < e), "free time")[:60]

    starts: dict[int, str] = {}
    at = start
    if "Something came up" in user:  # a re-plan: first deal with it, briefly, then the plan goes on
        starts[at] = "think about what came up"
        at += 30
    while at < end:  # the plan in blocks of an hour and a half (work: two hours), whatever its parts' lengths
        starts[at] = planned(at)
        at += 120 if starts[at].startswith("work") else 90
    for m, activity in _agreed(user):  # a block starts at each agreed time (the plan's own, when it has one)
        if start <= m < end:
            if not any(m < x <= m + 90 for x in starts) and m + 90 < end:  # then the plan goes on
                starts[m + 90] = planned(m + 90)
            starts[m] = planned(m) if any(s == m for s, _, _ in spans) else activity[:60]
    starts.setdefault(start, "free time")
    agreed = {m for m, _ in _agreed(user)}
    kept = sorted((m, a) for m, a in starts.items() if start <= m < end)
    while len(kept) > 12:  # the shortest block that is not a commitment joins the one before it
        i = min((j for j in range(1, len(kept)) if kept[j][0] not in agreed),
                key=lambda j: (kept[j + 1][0] if j + 1 < len(kept) else end) - kept[j][0])
        del kept[i]
    blocks = [{"start": _hhmm(m), "minutes": min((30, 60, 90, 120, 180, 240), key=lambda v: abs(v - (
        (kept[i + 1][0] if i + 1 < len(kept) else end) - m))), "activity": a} for i, (m, a) in enumerate(kept)]
    while len(blocks) < 3:
        blocks.append({"start": _hhmm(end), "minutes": 30, "activity": "rest"})
    return {"blocks": blocks}


def _turn(user: str, name: str, h: int) -> dict[str, Any]:
    lines = re.findall(r"^[A-Z][a-z]+ [A-Za-z]+: (.+)$", user, re.M)
    memories = re.findall(r"^\d+\. (.+)$", user, re.M)
    news = [m for m in memories if any(w in m.lower() for w in _NEWS)]
    if not lines:
        return {"utterance": "Hi! Good to see you. How is your day going?", "end": False}
    if news and h % 3:
        said = f"Did you hear? {_said(news[h % len(news)])[:170]}"
    elif memories:
        said = f"I was just thinking about this: {_said(memories[h % len(memories)])[:140]}"
    else:
        said = f"That is interesting. {_ACTIVITIES[h % len(_ACTIVITIES)].capitalize()} is on my list today."
    return {"utterance": said.replace('"', "'"), "end": len(lines) >= 3 + h % 4}


def _said(memory: str) -> str:
    """A memory as one would say it: without the head that tells where it came from (a talk's memo or
    planning thought, 'Conversation with X.'), and a line that someone said without its speaker."""
    text = re.sub(r"^…?(Conversation with [^.]*\.|[^:]{1,60} noted after talking with [^:]*:|For [^:]{1,60}'s "
                  r"planning:)\s*", "", memory)
    return re.sub(r"^[A-Z][a-z]+ said: ", "", text)


def _importance(memory: str, h: int) -> int:
    """News and plans matter; what people are busy with hardly does."""
    text = memory.lower()
    if any(w in text for w in ("party", "festival", "mayor", "decided", "election", "invite")):
        return 7 + h % 3
    if " is busy: " in text or " is in use" in text or re.match(r"^[a-z]+ [a-z]+ is \w+ing\b", text):
        return 1 + h % 3  # someone (oneself too) going about their day: 'Ada Lovelace is reading'
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
        out = {"questions": _questions(user)}
    elif title == "Insights":
        out = {"insights": _insights(user, h)}
        insight = schema.get("$defs", {}).get("CitedInsight", {}).get("properties", {}).get("insight", {})
        if str(insight.get("pattern", "")).startswith("^[A-Z]"):  # closed: a sentence of plain words
            for ins in out["insights"]:
                words = re.sub(r"[^A-Za-z0-9,.;:!?'()&\- ]", " ", ins["insight"]).split()
                ins["insight"] = " ".join(w[:20] for w in ["They", "remember", *words][:20])
    elif title == "Status":
        out = _status(user)
    elif title == "ReactDecision":
        seen = m.group(1).lower() if (m := re.search(r"You notice: (.+?)\.?\n", user)) else ""
        react = any(w in seen for w in (*_NEWS, "fire", "crying", "help", "hurt"))
        out = {"react": "yes" if react else "no", "what": "go and see about it" if react else "-"}
    elif title == "ObjectStates":
        uses = re.findall(r"^\d+\. (.+) \(the [^()]+\)$", user, re.M)
        n = props.get("states", {}).get("minItems", len(uses))
        out = {"states": [_gerund(u)[:40] for u in (uses + ["being used"] * n)[:n]]}
    elif title == "InterviewAnswer":
        out = {"answer": _interview(user)}
    elif title == "Digest":
        out = _digest(user, system, props, h)
    elif title == "HeardLabels":  # the evaluator's yes/no for answers that say neither outright
        answers = re.findall(r"^\d+\. Q: .*? A: (.+)$", user, re.M)
        n = props.get("heard", {}).get("minItems", len(answers))
        out = {"heard": [("no" if re.search(r"\b(not|never|no one|nothing)\b", a.lower()) else "yes")
                         for a in (answers + [""] * n)[:n]]}
    elif title == "ObjectState":
        out = {"state": "in use"}
    elif title == "NewsAnswers":
        out = {"answers": _news(user)}
    elif title == "KnownPeople":
        out = {"known": _known(user)}
    else:
        raise ValueError(f"the scripted model has no answer for {title!r}")
    return json.dumps(out, ensure_ascii=False)


_NEWS = ("party", "festival", "mayor", "election", "invite", "candidacy", "running for")
_GATHERING = re.compile(r"((?:[A-Z][\w']*\s)*(?i:party|festival|gathering|celebration)\b[^.!?,]*)")


def _sentences(text: str) -> list[str]:
    return [x.strip() for x in re.split(r"(?<=[.!?])\s+", text) if x.strip()]


def _digest(user: str, system: str, props: dict[str, Any], h: int) -> dict[str, Any]:
    """What one side takes from a talk, from the transcript in the prompt alone: the memo repeats the first
    sentence that carries news (a party, an election...) as said, else the other's longest line; the plan
    accepts an invitation it reads (today when the sentence says so), else nothing changes."""
    me = (m.group(1) if (m := re.search(r"You are ([^,.]+)", system)) else "").strip()
    lines = re.findall(r"^([A-Z][a-z]+ [A-Za-z]+): (.+)$", user.split("\nYour plans")[0], re.M)
    said = [(who, x) for who, line in lines for x in _sentences(line)]
    news = [(who, x) for who, x in said if any(w in x.lower() for w in _NEWS)]
    theirs = [(who, line) for who, line in lines if who != me] or lines or [("Someone", "we talked")]
    who, memo = news[0] if news else max(theirs, key=lambda wl: len(wl[1]))
    event = _GATHERING.search(memo) if news else None
    if event:
        plan = f"I will go to the {event.group(1).strip().removeprefix('a ').removeprefix('my ')}"
        when = "today" if re.search(r"\b(today|tonight|this (?:afternoon|evening))\b", memo, re.I) else "another day"
    elif news:
        plan, when = "I will tell my friends about it", "no change"
    else:
        plan, when = "Nothing changes in my plans", "no change"
    out: dict[str, Any] = {"memo": f"{who.split()[0]} said: {memo}"[:220], "plan": plan[:160], "when": when,
                           "importance": _importance(memo, h)}
    if "memo_line" in props:  # closed: the line is picked, the plan in plain words
        options = _options(props["memo_line"])
        first = who.split()[0]
        out = {"memo_line": next((o for o in options if o.startswith(f"{first}: ") and memo in o), options[0]),
               "plan": " ".join(w[:20] for w in re.sub(r"[^A-Za-z0-9,.;:!?'()&\- ]", " ", plan).split()[:20]),
               "when": when, "importance": out["importance"]}
    return out


def _interview(user: str) -> str:
    """An interview answer: the remembered line that shares most of the question's words; a yes/no
    question gets "Yes." before it, or "No" when nothing remembered shares them."""
    head, _, asked = user.rpartition("Someone asks you:")
    question = asked.strip().splitlines()[0] if asked.strip() else ""
    memories = re.findall(r"^\d+\. (.+)$", head, re.M)
    keys = [w for w in re.findall(r"[a-z]{4,}", question.lower())
            if w not in {"there", "about", "heard", "know", "what", "your", "with", "have", "running", "does"}]
    best = max(memories, key=lambda m: sum(k in m.lower() for k in keys), default="")
    shares = bool(keys) and sum(k in best.lower() for k in keys) > 0
    if re.match(r"(do|did|are|is|have|has|will|can|were|was)\b", question.lower()):
        return f"Yes. {best}"[:280] if shares else "No, I do not remember anything about that."
    return (best or (memories[0] if memories else "I do not remember anything about that."))[:280]


def _questions(user: str) -> list[str]:
    """Questions about whoever and whatever the statements are about most: the people named most often."""
    n = int(m.group(1)) if (m := re.search(r"what are the (\d+) most salient", user)) else 3
    statements = re.findall(r"^\d+\. (.+)$", user, re.M)
    owner = m.group(1) if (m := re.search(r"Statements from (.+?)'s memory", user)) else "them"
    names = [n for n in re.findall(r"\b([A-Z][a-z]+ [A-Z][a-z]+)\b", " ".join(statements))
             if n.split()[0] not in {"For", "From", "The", "What", "Who", "When", "Did", "Conversation", "After"}]
    people = [p for p, _ in sorted(((p, names.count(p)) for p in dict.fromkeys(names)), key=lambda pc: -pc[1])]
    people = (people + [owner] * 3)[:3]
    out = [f"What is {people[0]} planning next?", f"What does {people[1]} care about most?",
           f"Who has {people[2]} been spending time with?", f"What has {owner} been busy with?",
           "What news is going around town?"]
    return list(dict.fromkeys(out))[:n]


def _insights(user: str, h: int) -> list[dict[str, Any]]:
    """As many insights as asked for each question, each citing two of the statements shown (by their
    [ids], a different pair each) and saying what they have in common; several questions: each names its own."""
    n = int(m.group(1)) if (m := re.search(r"what (\d+) high-level insights", user, re.I)) else 1
    asked = re.findall(r"^(\d+)\. .+\?$", user.split("Questions:")[-1], re.M) if "Questions:" in user else []
    shown = [(int(i), text) for i, text in re.findall(r"^\[(\d+)\] (.+)$", user, re.M)] or [(0, "life goes on")]
    out = []
    for q in range(max(1, len(asked))):
        for k in range(min(n, max(1, len(shown) // 2))):
            at = (2 * (q * n + k)) % len(shown)
            pair = shown[at:at + 2] or shown[:1]
            gist = re.sub(r'["\\]', "'", _said(pair[0][1]).removeprefix("what stays with them: "))[:100].rstrip(" .")
            insight = {"insight": f"what stays with them: {gist}"[:150] + (f" ({q + 1}.{k + 1})" if asked else ""),
                       "evidence": [i for i, _ in pair], "importance": 4 + (h >> k) % 5}
            out.append({**insight, "question": q + 1} if asked else insight)
    return out


def _status(user: str) -> dict[str, str]:
    """The morning's status: what the statements say is planned, else the status as it was."""
    statements = [_said(x) for x in re.findall(r"^\d+\. (.+)$", user, re.M)]
    name = m.group(1) if (m := re.search(r"write (.+?)'s status for today", user)) else "They"
    was = m.group(1) if (m := re.search(r"status until now: (.+)$", user, re.M)) else "-"
    plans = [x for x in statements if re.search(r"\b(plan|plans|will|going to|invite|party|tomorrow)\b", x, re.I)]
    currently = f"{name} is looking ahead: {plans[0]}" if plans else was

    def clean(text: str) -> str:
        return re.sub(r'["\\\x00-\x1f]', "'", text)

    return {"currently": clean(currently)[:300] or "-", "yesterday": clean(statements[0])[:200] if statements else "-"}


def _gerund(action: str) -> str:
    """'brew coffee' -> 'brewing coffee': what the thing shows while used for it."""
    first, _, rest = action.strip().partition(" ")
    word = first.lower()
    if not word.endswith("ing"):
        if re.fullmatch(r"[a-z]?[^aeiou][aeiou][^aeiouwxy]", word):  # get -> getting, wrap -> wrapping
            word += word[-1]
        word = (word[:-1] if word.endswith("e") and not word.endswith("ee") else word) + "ing"
    return f"{word} {rest}".strip()


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
