"""What the model says, measured: the quality of the plans, schedules and talk lines of a recorded run.

`bench_quality(save)` reads a save's `calls.jsonl` (every model call with its raw answer, see
`smallville.inference.record`) and `events.jsonl` (the fallbacks, plans and seeded memories, see
`smallville.core.events`) and returns shares, each over the model's own answers (a fallback's default is
never counted as the model's words; the share of calls that fell back is reported beside):

- day plans and hourly schedules: *ordered* (every time readable and later than the one before), *awake*
  (every time between waking, less 30 minutes, and bedtime), *known activities* (each activity is English
  and names something of the resident's day: a common daily activity or a word of the persona's occupation,
  workplace, haunts, lifestyle or current interests), *known places* (no proper name that is not a person
  or place of the town), *timely* (meals at meal times, waking up early in the day, sleep only near
  bedtime) and *sensible*: all five;
- talk lines: *English* (a sentence of at least three words, at least 80% of them English words, plain
  letters and punctuation only, mostly letters (not dates and times), no URL or code fragment, no word
  stuck in a loop), *about the town* (names a person of the town other than the two talking, or a place
  of the town, or shares a word with the speaker's own plans, interests or news, the memories the prompt
  showed included: "Hi Klaus, how are you?" is English but not about the town),
  *invented names* (a capitalised name that is no one and nowhere in the town) and *good*: English, about
  the town and without invented names;
- the 5-15 minute actions: English (one word is enough there);
- a few real examples of each.

The English check is cheap and honest rather than clever: words are looked up in a bundled list
(`english_words.txt`: the whole-word entries of the embedding model's vocabulary that are, or inflect, a
word of the public-domain web2 dictionary) plus the town's own names. It is a measure of nonsense, not of
style: "I sleep at the cafe." passes as English and as about the town.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from smallville.config import resolve_path
from smallville.errors import SmallvilleError
from smallville.inference.record import read_recording
from smallville.world.datafile import read_data_file
from smallville.world.residents import Resident, ResidentsFile

WORDS_FILE = Path(__file__).with_name("english_words.txt")
#: Purposes of the calls measured (as `smallville.agents.prompts` names its steps).
DAY, HOURLY, TALK, ACTIONS = "daily_plan", "hourly_schedule", "conversation", "decompose"
_EXAMPLES = 4


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _words("""
a about above after again against all also am an and any are around as at be been before being below between
both but by can could did do does doing down during each even ever every few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just lately many me more most
much my myself near new no nor not now of off often on once only or other our ours out over own same she should
so some still such than that the their theirs them then there these they this those through to too under until
up upon very was we were what when where which while who whom why will with would yet you your yours yourself
one two three four five six seven eight nine ten eleven twelve half quarter o clock am pm next last first lot
lots bit really well though already
""")
#: Words too common to show that a line is about the speaker's own plans or news.
_GENERIC = _words("""
good great nice fine today tomorrow morning evening afternoon night day days week time times thing things doing
going come coming know think want like make made sure right okay yeah hello thanks thank people everyone someone
something anything everything nothing always never sometimes maybe really year years life way lot hope feel say
said tell told look looking went gone get got see seen talk talking chat place home house start started going
back
""")
#: Words of time, which make no activity ("morning_day", "day of the month").
_TIMES = _words("morning evening afternoon night day days week weeks month year years today tomorrow time times")
#: What nearly every day is made of (stems): an activity naming one of these is a known activity for anyone.
_DAILY = _words("""
wake ready dress shower bath wash breakfast lunch dinner supper meal eat cook snack coffee tea brunch drink
work job shift sleep bed nap rest relax read book walk stroll run jog exercise workout gym clean tidy laundry
chore shop shopping grocery groceries errand study class lecture homework write wind watch tv music listen chat
talk friend friends visit meet call commute home family garden pray meditate stretch plan email emails news
paper newspaper prepare organize break office desk open close serve customer customers counter store shop cafe
pub park library college school teach student
""")
#: Words that open a sentence before a name without being one ("Hi Klaus", "Thanks Maria").
_GREETINGS = _words("hi hey hello dear good morning thanks thank well oh yes no sorry welcome bye goodbye please see "
                    "ask tell")
_SLEEP = re.compile(r"\b(sleep|sleeping|asleep|go(?:ing)? to bed|in bed|bedtime|bed time)\b", re.I)
_CODE = re.compile(r"https?|www\.|\.com\b|\.org\b|\.html?\b|://|[{}\[\]<>=_#@|\\`~^*/]|\$\w")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CAPS = re.compile(r"\b[A-Z][a-z]+(?:'s)?\b")
_OPENS = re.compile(r"(^\s*|[.!?:;]\s*|[\"(]\s*)$")  # what comes before a word that opens a sentence
_CLOCK = re.compile(r"\s*(\d{1,2}):(\d{2})\s*")
_CALENDAR = _words("""
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december i
""")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The bundled English word list (lower case)."""
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w and not w.startswith("#"))


def stems(word: str) -> set[str]:
    """`word` (lower case) and the words it may inflect: 'walking' -> walk, 'studies' -> study, ..."""
    out = {word}
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                         ("es", ""), ("s", ""), ("ly", ""), ("er", ""), ("er", "e"), ("ers", ""), ("'s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            base = word[: -len(suffix)] + repl
            out.add(base)
            if len(base) >= 3 and base[-1] == base[-2]:  # running -> run
                out.add(base[:-1])
    return out


def is_english_word(word: str) -> bool:
    """`word` (lower case) is in the list, or inflects a word in it, or the list holds an inflection of it
    (the list has 'revised' but not 'revise')."""
    words = english_words()
    if stems(word) & words:
        return True
    return any(f in words for f in (word + "s", word + "d", word + "ed", word + "ing", word[:-1] + "ing"))


def _content(text: str) -> set[str]:
    """Lower-case content words of `text` (no stopwords, at least three letters), with their stems."""
    out: set[str] = set()
    for w in _WORD.findall(text.lower()):
        if len(w) >= 3 and w not in _STOP:
            out |= stems(w)
    return out


def _clock(value: object) -> int | None:
    m = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return int(m.group(1)) * 60 + int(m.group(2))


# -- the town ---------------------------------------------------------------------------------------------


@dataclass
class TownWords:
    """Who and what the town holds, as words: the residents by name, the names of people and places, the
    place nouns, and each resident's own words (persona) for known activities and plans."""

    residents: dict[str, Resident]
    name_words: set[str] = field(default_factory=set)  # lower-case tokens of people's and places' names
    people: set[str] = field(default_factory=set)  # full, first and last names (lower case)
    places: set[str] = field(default_factory=set)  # sector and arena names and their distinctive words

    @classmethod
    def of(cls, residents: Iterable[Resident]) -> TownWords:
        town = cls({r.name: r for r in residents})
        for r in town.residents.values():
            parts = r.name.lower().split()
            town.people |= {r.name.lower(), *parts}
            town.name_words |= set(parts)
            for sector, arena in [r.home, *([r.workplace] if r.workplace else []), *r.haunts, *r.knows]:
                for name in (sector, arena):
                    town.places.add(name.lower())
                    words = [w for w in _WORD.findall(name.lower()) if w not in _STOP and w not in town.people]
                    town.places |= {w for w in words if len(w) >= 3}
                    town.name_words |= set(_WORD.findall(name.lower()))
            # names in the personas (Shakespeare, Twitch) are the town's own words, not inventions
            for text in (r.background, r.currently, r.lifestyle, r.occupation):
                town.name_words |= {w.lower() for w in re.findall(r"\b[A-Z][a-z]+", text)}
        return town

    def resident(self, name: str) -> Resident | None:
        return self.residents.get(name.strip())

    def persona_words(self, r: Resident) -> set[str]:
        places = [w for s, a in [r.home, *([r.workplace] if r.workplace else []), *r.haunts] for w in (s, a)]
        return _content(" ".join([r.occupation, r.currently, r.lifestyle, r.background, *places])) - _TIMES

    def is_known_word(self, word: str) -> bool:
        w = word.lower()
        return w in self.name_words or w in _CALENDAR or is_english_word(w)

    def invented_names(self, text: str) -> list[str]:
        """Capitalised words that name no one and nothing of the town. A word opening a sentence is only
        judged when a capitalised word follows ("Mike Johnson is ...": a name; "Did you ...": not)."""
        out = []
        for m in _CAPS.finditer(text):
            w = m.group(0).removesuffix("'s").lower()
            if _OPENS.search(text[: m.start()]) and (w in _GREETINGS or not re.match(r" [A-Z][a-z]", text[m.end():])):
                continue
            if w not in self.name_words and w not in _CALENDAR and w not in _STOP:
                out.append(m.group(0))
        return out


# -- checks ------------------------------------------------------------------------------------------------


def english(text: str, town: TownWords, *, min_words: int = 3) -> bool:
    """Mostly English words in plain letters and punctuation: no code or URL fragment, no word of more
    than 20 letters, no word three times in a row, at least `min_words` words, 80% of them known."""
    text = text.strip()
    if not text or _CODE.search(text):
        return False
    plain = sum(c.isascii() and (c.isalnum() or c in " ,.;:!?'\"-()&") for c in text)
    if plain / len(text) < 0.95:
        return False
    visible = [c for c in text if not c.isspace()]
    if sum(c.isalpha() for c in visible) / len(visible) < 0.7:  # "2017-06-30 at 8:45:29.799": numbers, not words
        return False
    words = _WORD.findall(text)
    if len(words) < min_words or any(len(w) > 20 for w in words):
        return False
    lower = [w.lower() for w in words]
    if any(a == b == c for a, b, c in zip(lower, lower[1:], lower[2:], strict=False)):
        return False
    known = sum(town.is_known_word(w) for w in words)
    return known / len(words) >= 0.8


def known_activity(activity: str, resident: Resident, town: TownWords) -> bool:
    """English, and one of its words is a daily activity or one of the persona's own words."""
    if not english(activity, town, min_words=1):
        return False
    words = _content(activity)
    return bool(words & _DAILY) or bool(words & town.persona_words(resident))


def timely(activity: str, minute: int, resident: Resident) -> bool:
    """Meals at meal times, waking early in the day, sleep only near bedtime (`minute` a day minute)."""
    text, wake, bed = activity.lower(), resident.wake_minute, resident.bed_minute
    if "breakfast" in text and minute >= max(wake + 240, 11 * 60):
        return False
    if "lunch" in text and not 11 * 60 <= minute < max(15 * 60, wake + 360):
        return False
    if ("dinner" in text or "supper" in text) and not 15 * 60 + 30 <= minute < 23 * 60:
        return False
    if re.search(r"\b(wake|waking|get up|getting up)\b", text) and minute >= wake + 120:
        return False
    return not (_SLEEP.search(text) and "before" not in text and minute < bed - 90)


def day_minute(minute: int, wake: int) -> int:
    """A clock minute on the resident's waking day (as the planner places it: well before waking is the
    night after)."""
    return minute + 24 * 60 if minute < wake - 120 else minute


def plan_items(answer: Any) -> list[tuple[int | None, str]]:
    """(clock minute or None, activity) pairs from a plan answer in any of the prompts' shapes: a list of
    chunks or blocks (`start` + `activity`), or an object keyed by clock time (one activity a time slot)."""
    if not isinstance(answer, dict):
        return []
    for key in ("chunks", "blocks"):
        if isinstance(answer.get(key), list):
            return [(_clock(i.get("start")), str(i.get("activity", ""))) for i in answer[key] if isinstance(i, dict)]
    if answer and all(_clock(k) is not None for k in answer):
        return [(_clock(k), str(v)) for k, v in answer.items()]
    return []


@dataclass
class PlanVerdict:
    who: str
    items: list[tuple[int | None, str]]
    ordered: bool
    awake: bool
    known_activities: bool
    known_places: bool
    timely: bool
    activities_known: int

    @property
    def sensible(self) -> bool:
        return self.ordered and self.awake and self.known_activities and self.known_places and self.timely

    def line(self) -> str:
        return "; ".join(f"{'??:??' if m is None else f'{m // 60:02d}:{m % 60:02d}'} {a}" for m, a in self.items)


def judge_plan(items: list[tuple[int | None, str]], resident: Resident, town: TownWords) -> PlanVerdict:
    wake, bed = resident.wake_minute, resident.bed_minute
    minutes = [None if m is None else day_minute(m, wake) for m, _ in items]
    ordered = bool(items) and all(m is not None for m in minutes) and all(
        a < b for a, b in itertools.pairwise(minutes))  # type: ignore[operator]
    awake = bool(items) and all(m is not None and wake - 30 <= m < bed for m in minutes)
    known = [known_activity(a, resident, town) for _, a in items]
    places = not any(town.invented_names(a) for _, a in items)
    on_time = all(m is not None and timely(a, m, resident) for m, (_, a) in zip(minutes, items, strict=True))
    return PlanVerdict(resident.name, items, ordered, awake, bool(items) and all(known), bool(items) and places,
                       bool(items) and on_time, sum(known))


@dataclass
class LineVerdict:
    who: str
    to: str
    text: str
    english: bool
    about_town: bool
    invented: list[str]

    @property
    def good(self) -> bool:
        return self.english and self.about_town and not self.invented


def about_town(text: str, speaker: Resident, own: set[str], town: TownWords, listener: str = "") -> bool:
    """Names a person of the town (other than the two talking: greeting the other by name is not news) or a
    place of the town, or shares a content word with the speaker's own plans, interests and news (`own`)."""
    lower = text.lower()
    words = set(_WORD.findall(lower))
    talking = {speaker.name.lower(), listener.lower(), *speaker.name.lower().split(), *listener.lower().split()}
    others = town.people - talking
    if words & others or any(" " in p and p in lower for p in others):
        return True
    if words & town.places or any(" " in p and p in lower for p in town.places):
        return True
    return bool((_content(text) - _GENERIC) & own)


def judge_line(text: str, speaker: Resident, to: str, own: set[str], town: TownWords) -> LineVerdict:
    return LineVerdict(speaker.name, to, text, english(text, town), about_town(text, speaker, own, town, to),
                       town.invented_names(text))


# -- reading a save ------------------------------------------------------------------------------------------


def _speaker(call: dict[str, Any]) -> str:
    """The resident a prompt speaks to ('You are NAME, ...' in its persona)."""
    for m in call.get("messages", []):
        found = re.match(r"You are ([^,.\n]+)[,.]", str(m.get("content", "")))
        if found:
            return found.group(1).strip()
    return ""


def _listener(call: dict[str, Any]) -> str:
    for m in call.get("messages", []):
        found = re.search(r"You meet ([A-Z][\w'-]*(?: [A-Z][\w'-]*)*)", str(m.get("content", "")))
        if found:
            return found.group(1)
    return ""


def _shown(call: dict[str, Any]) -> list[str]:
    """The memories a conversation prompt showed ('What comes to mind:' and its numbered lines)."""
    for m in call.get("messages", []):
        found = re.search(r"What comes to mind:\n((?:\d+\. .*(?:\n|$))+)", str(m.get("content", "")))
        if found:
            return [re.sub(r"^\d+\. ", "", line) for line in found.group(1).strip().splitlines()]
    return []


def _answer(call: dict[str, Any]) -> Any:
    text = call.get("answer")
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _events(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except ValueError:  # a torn last line
                continue


def _residents(save: Path) -> list[Resident]:
    manifest = json.loads((save / "manifest.json").read_text(encoding="utf-8"))
    path = resolve_path(str(manifest["settings"]["town"]["residents"]))
    return list(read_data_file(path, ResidentsFile, "residents", "residents", "resident", "name").residents)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _plans_figures(verdicts: list[PlanVerdict], calls: int, fell_back: int) -> dict[str, Any]:
    n = len(verdicts)
    items = sum(len(v.items) for v in verdicts)
    return {"calls": calls, "answered": n, "fell_back": _share(fell_back, calls), "fallbacks": fell_back,
            **{k: _share(sum(getattr(v, k) for v in verdicts), n)
               for k in ("ordered", "awake", "known_activities", "known_places", "timely", "sensible")},
            "activities_known": _share(sum(v.activities_known for v in verdicts), items)}


def _spread(items: list[Any], k: int) -> list[Any]:
    """k items spread over the list (the first, the last and between): examples from the whole morning."""
    if len(items) <= k:
        return list(items)
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def bench_quality(save: Path) -> dict[str, Any]:
    """The quality figures of a save (see the module docstring)."""
    save = Path(save)
    if not (save / "calls.jsonl").exists():
        raise SmallvilleError(f"{save}: no calls.jsonl (a run with a model records one)")
    town = TownWords.of(_residents(save))
    calls = read_recording(save / "calls.jsonl")
    events = list(_events(save / "events.jsonl"))
    fallbacks = Counter(e.get("step", "") for e in events if e.get("k") == "fallback")
    own: dict[str, set[str]] = {}
    for r in town.residents.values():
        own[r.name] = _content(r.currently) - _GENERIC
    for e in events:
        if e.get("k") == "plan":
            own.setdefault(e["who"], set()).update(_content(" ".join(s[2] for s in e["spans"])) - _GENERIC)
        elif e.get("k") == "memory" and e.get("tag") == "seed":
            own.setdefault(e["who"], set()).update(_content(e["text"]) - _GENERIC)
            # the seeded news is the town's own ("Valentine's Day"), not an invention
            town.name_words |= {w.lower() for w in re.findall(r"\b[A-Z][a-z]+", e["text"])}

    by_purpose = Counter(c.get("purpose", "") for c in calls)
    plans: dict[str, list[PlanVerdict]] = {DAY: [], HOURLY: []}
    lines: list[LineVerdict] = []
    actions = [0, 0]  # English, all
    for call in calls:
        purpose, answer = call.get("purpose"), _answer(call)
        resident = town.resident(_speaker(call))
        if answer is None or resident is None:
            continue
        if purpose in plans:
            plans[purpose].append(judge_plan(plan_items(answer), resident, town))
        elif purpose == TALK and isinstance(answer, dict):
            # the speaker's own news: their plans and seeded facts, and the memories the prompt showed them
            news = own.get(resident.name, set()) | (_content(" ".join(_shown(call))) - _GENERIC)
            lines.append(judge_line(str(answer.get("utterance", "")), resident, _listener(call), news, town))
        elif purpose == ACTIONS and isinstance(answer, dict):
            for a in answer.get("actions", []):
                if isinstance(a, dict):
                    actions[1] += 1
                    actions[0] += english(str(a.get("action", "")), town, min_words=1)

    n = len(lines)
    talk = {"calls": by_purpose[TALK], "answered": n, "fell_back": _share(fallbacks[TALK], by_purpose[TALK]),
            "fallbacks": fallbacks[TALK], "english": _share(sum(v.english for v in lines), n),
            "about_town": _share(sum(v.about_town for v in lines), n),
            "invented_names": _share(sum(bool(v.invented) for v in lines), n),
            "good": _share(sum(v.good for v in lines), n)}
    return {
        "save": str(save),
        "calls": dict(sorted(by_purpose.items())),
        "day_plans": _plans_figures(plans[DAY], by_purpose[DAY], fallbacks[DAY]),
        "hourly_schedules": _plans_figures(plans[HOURLY], by_purpose[HOURLY], fallbacks[HOURLY]),
        "talk": talk,
        "actions": {"calls": by_purpose[ACTIONS], "answered": actions[1],
                    "fell_back": _share(fallbacks[ACTIONS], by_purpose[ACTIONS]),
                    "english": _share(actions[0], actions[1])},
        "examples": {
            "day_plans": [f"{v.who}: {v.line()}" for v in _spread(plans[DAY], _EXAMPLES)],
            "hourly_schedules": [f"{v.who}: {v.line()}" for v in _spread(plans[HOURLY], _EXAMPLES)],
            "talk": [f"{v.who} to {v.to or '?'}: {v.text}"
                     + f" [{'English' if v.english else 'not English'}, "
                       f"{'about the town' if v.about_town else 'not about the town'}"
                     + (f", invents {', '.join(v.invented)}" if v.invented else "") + "]"
                     for v in _spread(lines, 2 * _EXAMPLES)],
        },
    }
