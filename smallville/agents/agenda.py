"""The agenda: what a resident has said it will do on a given day, read from its own intentions.

Owns reading a day and a time out of a resident's intentions: the planning thoughts it keeps of its talks
(`memory.TALK_PLAN`), the seeded facts it holds and its inner voices. "Tomorrow", "tonight", "on Tuesday",
"February 14", "the 14th", each relative to when the thought was had; "at 5 pm", "from 5 to 7 pm",
"17:00", "noon". What falls on the day being planned is shown to the day plan and to a re-plan ("Agreed for
today: 17:00 go to the Valentine's Day party at Hobbs Cafe"), so an invitation accepted on Monday for
Tuesday is in Tuesday's plan at its time, whatever the morning's retrieval happens to bring up.

The paper has no agenda: its agents find such plans again only if the morning's retrieval brings them up.
This is a reading of text the resident wrote, with no call and no judgement: it never invents a plan, and
a thought it cannot date is left to retrieval. Read when a planning thought starts, from the stream (which
does not change while the thought runs), so it is deterministic and needs no state of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from smallville.agents.memory import TALK_PLAN, Memory, MemoryStream
from smallville.core.clock import Clock

#: The tags of the memories that are the resident's own intentions.
INTENTIONS = (TALK_PLAN, "seed", "inner_voice")
#: How far back intentions are read (a plan made a week ahead is still on the agenda).
LOOK_BACK_DAYS = 8
#: The most commitments shown for one day (the timed first).
MOST = 4

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# a month's name or its abbreviation, as a whole word ("5 decorations" names no December)
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?" \
         r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b")
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}")
_THE_DAY = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b")
_WEEKDAY = re.compile(r"\b(next\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
_TOMORROW = re.compile(r"(?<!after )\btomorrow\b")
_DAY_AFTER = re.compile(r"\bday\s+after\s+tomorrow\b")
_TODAY = re.compile(r"\b(today|tonight|this\s+(?:morning|afternoon|evening)|later\s+today|right\s+away|right\s+now)\b")
_MERIDIEM = r"(a\.?m\.?|p\.?m\.?)"
# "from 5 to 7 pm", "5-7pm", "5 to 7 pm", "between 5 and 7 pm": the start is the time
_RANGE = re.compile(rf"\b(?:from\s+|between\s+)?(\d{{1,2}})(?::(\d\d))?\s*{_MERIDIEM}?\s*(?:to|until|till|-|and)\s*"
                    rf"(\d{{1,2}})(?::(\d\d))?\s*{_MERIDIEM}")
# what the words around a bare hour say of its half of the day ("at 8 tonight", "at 7 in the morning")
_PM_WORDS = re.compile(r"\b(tonight|evening|night|dinner|supper|afternoon)\b")
_AM_WORDS = re.compile(r"\b(morning|breakfast|dawn)\b")
_CLOCK = re.compile(rf"\b(\d{{1,2}}):(\d\d)\s*{_MERIDIEM}?")
_HOUR = re.compile(rf"\b(\d{{1,2}})\s*(?:{_MERIDIEM}|o'?clock)")
_AT_HOUR = re.compile(r"\bat\s+(\d{1,2})\b(?![:\d])")
_NOON = re.compile(r"\b(noon|midday)\b")
#: Words a plan shares with any talk about it, which say nothing of what it is about.
_COMMON = frozenset(("will", "going", "would", "with", "that", "this", "them", "they", "their", "there", "have",
                     "about", "after", "talking", "plans", "tomorrow", "today", "tonight"))
_PLACE = re.compile(r"\b(?:at|in) (?:the )?[A-Z]")  # "at Hobbs Cafe", "in the Park": it says where
_WHERE = re.compile(r"\b(?:at|in) (?:the )?[A-Z][\w'’]*(?: (?:of |and |for )?[A-Z][\w'’]*)*")
# the lead-ins of a planning thought and of a re-plan's reason ("after talking with X: For my plans ...: ")
_PREFIX = re.compile(r"^(?:(?:for my plans )?after (?:talking with|seeing that) [^:]+|for [^:]+'s planning):\s*",
                     re.I)


@dataclass(frozen=True)
class When:
    """A day (days after the thought's own day; None: no day named) and a day minute (None: no time)."""

    days: int | None
    minute: int | None


@dataclass(frozen=True)
class Commitment:
    """Something the resident means to do on the day planned, at `minute` (None: some time that day)."""

    minute: int | None
    text: str  # what it said, without the "For my plans after talking with X:" in front
    source: int  # the id of the memory it was read from

    def line(self) -> str:
        at = f"{self.minute // 60:02d}:{self.minute % 60:02d} " if self.minute is not None else ""
        return f"{at}{self.text}"


def _hour(h: int, m: int, meridiem: str | None, half: str = "") -> int | None:
    """A day minute; `half` ('am', 'pm' or '') what the words around say when no am/pm is written."""
    if meridiem:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if meridiem.startswith("p") else 0)
    elif h > 23:
        return None
    elif (half == "pm" and 1 <= h <= 11) or (not half and 1 <= h <= 7):
        h += 12  # "at 8 tonight"; "at 5" with no am/pm and no word for it: people mean the afternoon
    return h * 60 + m if m < 60 else None


def _half(text: str) -> str:
    """'am' when the text speaks of the morning, 'pm' of the evening or night, else ''."""
    if _AM_WORDS.search(text):
        return "am"
    return "pm" if _PM_WORDS.search(text) else ""


def read_time(text: str) -> int | None:
    """The first time of day the text names, as a day minute ('from 5 to 7 pm' -> 17:00)."""
    t = text.lower()
    half = _half(t)
    found: list[tuple[int, int]] = []  # (position, minute)
    if (r := _RANGE.search(t)) is not None:
        start, end = int(r.group(1)), int(r.group(4))
        meridiem = r.group(3) or r.group(6)
        if not r.group(3) and r.group(6) and r.group(6).startswith("p") and start > end and start < 12:
            meridiem = "am"  # "11 to 1 pm" starts before noon
        if (m := _hour(start, int(r.group(2) or 0), meridiem)) is not None:
            found.append((r.start(), m))
    for pattern in (_CLOCK, _HOUR):
        for c in pattern.finditer(t):
            groups = c.groups()
            minute = int(groups[1]) if pattern is _CLOCK else 0
            if (m := _hour(int(groups[0]), minute, groups[-1], half)) is not None:
                found.append((c.start(), m))
    if not found and (a := _AT_HOUR.search(t)) is not None and \
            (m := _hour(int(a.group(1)), 0, None, half)) is not None:
        found.append((a.start(), m))
    if (n := _NOON.search(t)) is not None:
        found.append((n.start(), 12 * 60))
    return min(found)[1] if found else None


def _month(name: str) -> int:
    return next(i for i, full in enumerate(_MONTHS, 1) if full.startswith(name.rstrip(".")[:3]))


def read_day(text: str, on: date) -> int | None:
    """Days after `on` (the day the thought was had) of the day the text names, or None: 'tomorrow' 1, a
    date (this year's, or next year's when it is long past), 'the 14th' (this month's or the next), a
    weekday (the next one; today's own name is today unless 'next'), 'today' / 'tonight' 0."""
    t = text.lower()
    candidates: list[tuple[int, int]] = []  # (position, days)

    def dated(day: date) -> int:
        return (day - on).days

    for pattern, month_at, day_at in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        for m in pattern.finditer(t):
            try:
                day = date(on.year, _month(m.group(month_at)), int(m.group(day_at)))
                if (on - day).days > 180:
                    day = day.replace(year=on.year + 1)  # February 29 of a year without one: no day
            except ValueError:
                continue
            candidates.append((m.start(), dated(day)))
    for m in _THE_DAY.finditer(t):
        n = int(m.group(1))
        try:
            day = date(on.year, on.month, n)
        except ValueError:
            continue
        if day < on:
            nxt = (on.replace(day=1) + timedelta(days=32)).replace(day=1)
            try:
                day = nxt.replace(day=n)
            except ValueError:
                continue
        candidates.append((m.start(), dated(day)))
    for m in _WEEKDAY.finditer(t):
        ahead = (_WEEKDAYS.index(m.group(2)) - on.weekday()) % 7
        candidates.append((m.start(), ahead + (7 if m.group(1) and ahead == 0 else 0)))
    for pattern, days in ((_DAY_AFTER, 2), (_TOMORROW, 1), (_TODAY, 0)):
        if (found := pattern.search(t)) is not None:
            candidates.append((found.start(), days))
    future = [c for c in candidates if c[1] >= 0]
    return min(future)[1] if future else None


def read(text: str, on: date) -> When:
    return When(read_day(text, on), read_time(text))


def own_words(reason: str) -> str:
    """What a re-plan's reason says of the resident's own intent: after a sight ('after seeing that Isabella
    is busy: set up decorations at 5 pm: ask her if she needs help'), only its decision, the part after the
    last ': ' (the time in what someone else is doing is not the resident's commitment)."""
    text = " ".join(reason.split())
    if text.lower().startswith("after seeing that ") and ": " in text:
        return text.rsplit(": ", 1)[1]
    return text


def intention(text: str) -> str:
    """The intention without the planning thought's lead-in ('For my plans after talking with X: ...')."""
    text = " ".join(text.split())
    while (bare := _PREFIX.sub("", text, count=1)) != text:
        text = bare
    return text


def for_day(stream: MemoryStream, clock: Clock, day0: int) -> list[Commitment]:
    """What the resident's intentions put on the day whose midnight is `day0`, by time (the untimed last),
    one a time (the latest thought about it, unless only an earlier one says where), at most `MOST`, from
    thoughts had before that day ended."""
    planned = clock.time(day0).date()
    since = day0 - LOOK_BACK_DAYS * clock.ticks_per_day
    found: dict[int, Commitment] = {}
    memories: list[Memory] = [m for m in stream if m.tag in INTENTIONS and since <= m.created < day0
                              + clock.ticks_per_day]
    for memory in memories:
        thought_on = clock.time(memory.created).date()
        when = read(memory.description, thought_on)
        if when.days is None or thought_on + timedelta(days=when.days) != planned:
            continue
        text, minute = intention(memory.description), when.minute
        if minute is None or not _PLACE.search(text):  # the talk it rests on may say when, and where
            cited_minute, where = _cited(stream, memory, when.days, thought_on)
            minute = minute if minute is not None else cited_minute
            text = f"{text} ({where})" if where and not _PLACE.search(text) else text
        # one a time of day: the latest thought about it, unless an earlier one says where and it does not
        # ("I will go to the party" after "the party ... at Hobbs Cafe"); untimed ones each their own
        key = minute if minute is not None else -1 - memory.id
        new = Commitment(minute, text, memory.id)
        old = found.get(key)
        if old is None or _PLACE.search(new.text) or not _PLACE.search(old.text):
            found[key] = new
    return sorted(found.values(), key=lambda c: (c.minute is None, c.minute or 0, c.source))[:MOST]


def _cited(stream: MemoryStream, memory: Memory, days: int, on: date) -> tuple[int | None, str]:
    """For a plan that does not say when or where ("I will go to the party on February 14"): the time and
    the place ("at Hobbs Cafe") the memories it rests on name for that day (the talk it came from); of the
    places a talk names, the one said nearest the plan's own words ("party")."""
    minute, where = None, ""
    words = {w for w in re.findall(r"[a-z]{4,}", intention(memory.description).lower())} - _COMMON
    for cited in memory.evidence:
        if not 0 <= cited < len(stream):
            continue
        text = stream.get(cited).description
        when = read(text, on)
        if when.days not in (None, days):
            continue
        minute = when.minute if minute is None else minute
        said = [m.start() for m in re.finditer(r"[A-Za-z]{4,}", text) if m.group(0).lower() in words]
        places = [w for w in _WHERE.finditer(text)  # a place, not "in February"
                  if w.group(0).split()[-1].lower() not in (*_MONTHS, *_WEEKDAYS)]
        if not where and places:
            where = min(places, key=lambda w: min((abs(w.start() - at) for at in said), default=0)).group(0)
    return minute, where


def due_today(text: str, clock: Clock, tick: int) -> When:
    """`text` (a reason to re-plan) read on the day of `tick`, in its own words (`own_words`): `days` 0 when
    it is about today."""
    return read(own_words(text), clock.time(tick).date())
