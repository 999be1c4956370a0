"""A resident's usual activities and the time slots of their day: what a plan is chosen from when answers
are choices (`AgentSettings.choices = "closed"`, the embedded model's profile).

A 135M model asked to write a day plan invents clock times out of order and activities that are no
activity at all (docs/benchmarks.md, "What the embedded model says"). Given fixed time slots and a short
list of activities for each, grammar-constrained decoding can only pick one of those strings: every plan is
in order, awake and made of things the resident does. What the model still decides is which of them.

Everything here is read from the persona (`smallville.world.residents`): wake, work and bed hours, the
workplace, the haunts, and the interests in `currently` ("She is building a photo series out of her
travels" -> "work on building a photo series"). No model call, deterministic, and cheap enough to build
for each prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smallville.world.residents import Resident

#: The first slot of every day: not asked (there is nothing else to do on waking).
WAKE_UP = "wake up and get ready"
WIND_DOWN = "wind down before bed"
#: Free-time activities anyone may choose (each at home or at a place the planner finds by embedding).
_ANYONE = ("read a book", "take a walk", "tidy up at home", "relax at home")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LONGEST = 48  # characters of an activity (the plan prompts allow 60-80)
#: The most times a day plan is chosen for (after waking).
MAX_SLOTS = 8

# Verbs of the interests whose base form keeps an 'e' that '-ing' drops ("writing" -> "write").
_E_VERBS = _words("""
write prepare revise make take have give move practise practice serve dance bake drive ride compose
organise organize create explore argue use solve choose close type share improve continue shape
become hope love live leave smile
""")
_SUBJECT = re.compile(r"^(?:(?:he|she|they|i)\s+)?(?:is\s+|are\s+|am\s+|has\s+just\s+started\s+|has\s+started\s+"
                      r"|just\s+started\s+|also\s+)*", re.I)


def _base(verb: str) -> str:
    """'building' -> 'build', 'writing' -> 'write', 'getting' -> 'get'."""
    stem = verb[:-3]
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        stem = stem[:-1]
    return stem + "e" if stem + "e" in _E_VERBS else stem


# Words that open a tail an activity does without ("write a novel | about a group of artists ...").
_TAILS = _words("""
about on set through for out with that who which what where because since
""")


def _cut(text: str, limit: int = _LONGEST) -> str:
    """The head of an activity: cut before a tail that opens after its third word, at most `limit`
    characters (at a word), and never ending on a small word."""
    out = ""
    for i, w in enumerate(text.split()):
        if (i >= 3 and w.lower() in _TAILS) or len(out) + len(w) + 1 > limit:
            break
        out = f"{out} {w}".strip()
    while out and out.split()[-1].lower() in {"a", "an", "the", "of", "on", "in", "for", "to", "and", "with",
                                              "about", "out", "at", "his", "her", "their", "my", "new"}:
        out = " ".join(out.split()[:-1])
    return out


def interests(resident: Resident) -> tuple[str, ...]:
    """What the persona says the resident is busy with these days, as activities: each clause of
    `currently` whose verb is an '-ing' form ("He is writing a research paper on ..." -> "write a research
    paper"), with "his/her/their" made "my" (the plan is the resident's own)."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?;:])\s+", resident.currently):
        for clause in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s+while\s+", sentence.rstrip(".!?;:")):
            clause = _SUBJECT.sub("", clause.strip())
            first, _, rest = clause.partition(" ")
            if not first.lower().endswith("ing") or len(first) < 6 or not rest:
                continue
            if re.search(r"\b(he|she|they|it)\b", rest, re.I):  # "asking everyone he meets": not an activity
                continue
            mine = {"his": "my", "her": "my", "their": "my", "himself": "myself", "herself": "myself"}
            words = [mine.get(w.lower(), w) for w in rest.split()]
            activity = _cut(f"{_base(first.lower())} {' '.join(words)}")
            if len(activity.split()) >= 2:
                out.append(activity)
    job = resident.occupation.lower()
    if not out and resident.workplace is None and job and "retired" not in job:
        # nothing in `currently` reads as an activity: their trade is (a painter paints)
        out.append("look after the house" if job == "homemaker" else _cut(f"work as a {job}"))
    return tuple(dict.fromkeys(out))[:3]


def work_activities(resident: Resident) -> tuple[str, ...]:
    """At the workplace: classes and study for students, teaching for teachers, else work there."""
    if resident.workplace is None:
        return ()
    sector, arena = resident.workplace
    job = resident.occupation.lower()
    if "student" in job:
        return (f"attend classes at {sector}", f"study in the {arena} at {sector}")
    if "professor" in job or "teacher" in job:
        return (f"teach at {sector}", f"work in the {arena} at {sector}")
    return (f"work at {sector}",)


def haunt_activities(resident: Resident, minute: int | None = None) -> tuple[str, ...]:
    """Visits to the resident's haunts: a room of the home by its name, a park for a walk, another place
    by its name (a pub only from the late afternoon, when `minute` is given)."""
    out = []
    for sector, arena in resident.haunts:
        if sector == resident.home[0]:
            out.append(f"spend time in the {arena}")
        elif arena == "park":
            out.append(f"take a walk in {sector}")
        elif arena == "pub" and minute is not None and 4 * 60 <= minute % (24 * 60) < 16 * 60 + 30:
            continue
        elif resident.workplace is None or sector != resident.workplace[0]:
            out.append(f"go to {sector}")
    return tuple(dict.fromkeys(out))


def _meal(meal: str, resident: Resident) -> tuple[str, ...]:
    """The meal at home, or at a cafe (or, but for breakfast, a pub) the resident frequents."""
    kinds = ("cafe",) if meal == "breakfast" else ("cafe", "pub")
    eat_out = [s for s, a in [*resident.haunts, *([resident.workplace] if resident.workplace else [])]
               if a in kinds and s != resident.home[0]]
    return (f"have {meal}", *(f"have {meal} at {s}" for s in dict.fromkeys(eat_out)))


def usual_activities(resident: Resident) -> tuple[str, ...]:
    """Everything the resident's day is chosen from (for prompts that list it as hints)."""
    return tuple(dict.fromkeys([WAKE_UP, *_meal("breakfast", resident), *work_activities(resident),
                                *interests(resident), *_meal("lunch", resident), *haunt_activities(resident),
                                *_meal("dinner", resident), *_ANYONE, WIND_DOWN]))


@dataclass(frozen=True)
class Slot:
    """A time of the day (a day minute) and the activities that fit it, the likeliest first."""

    minute: int
    options: tuple[str, ...]


def _work_span(resident: Resident) -> tuple[int, int] | None:
    work = resident.work_minutes
    if work is None or resident.workplace is None:
        return None
    start, stop = work
    if stop <= start:
        stop += 24 * 60
    if start < resident.wake_minute:  # a shift before waking belongs to the next day
        start, stop = start + 24 * 60, stop + 24 * 60
    return start, stop


def options_at(resident: Resident, minute: int) -> tuple[str, ...]:
    """The activities that fit a time of the resident's day: meals at meal times, work in working hours,
    interests and haunts in free time, winding down in the last hour (at most 6, the likeliest first)."""
    wake, bed = resident.wake_minute, resident.bed_minute
    work = _work_span(resident)
    at_work = work is not None and work[0] <= minute < work[1]
    free = (*interests(resident), *haunt_activities(resident, minute))
    hour = minute % (24 * 60)
    if minute >= bed - 60:
        out: tuple[str, ...] = (WIND_DOWN, "read a book", "relax at home")
    elif minute < wake + 90 and not at_work:
        out = (*_meal("breakfast", resident), *(work_activities(resident) if at_work else free), "take a walk")
    elif at_work:
        out = (*work_activities(resident), *(_meal("lunch", resident) if 11 * 60 + 30 <= hour < 13 * 60 else ()))
    elif 11 * 60 + 30 <= hour < 14 * 60:
        out = (*_meal("lunch", resident), *free)
    elif 16 * 60 + 30 <= hour < 20 * 60:
        out = (*_meal("dinner", resident), *free, "relax at home")
    elif hour >= 20 * 60 or hour < 4 * 60:
        out = (*haunt_activities(resident, minute), "relax at home", "read a book", *interests(resident))
    else:
        out = (*free, *_ANYONE)
    return tuple(dict.fromkeys(out))[:6] or _ANYONE


def day_slots(resident: Resident) -> tuple[Slot, ...]:
    """The times a day plan is chosen for, after waking (which is always `WAKE_UP`): breakfast, the start
    of work (or the morning), lunch, the afternoon, the end of work, dinner, the evening and the last hour
    before bed; an hour apart (of two closer ones the one that matters more stays), at most `MAX_SLOTS`."""
    wake, bed = resident.wake_minute, resident.bed_minute
    # times and how much each matters: breakfast, work and bedtime are fixed points of anyone's day
    times = {wake + 30: 3, wake + 90: 1, 10 * 60: 1, 12 * 60: 2, 14 * 60: 1, 16 * 60: 1, 18 * 60: 2,
             20 * 60 + 30: 1, bed - 60: 3}
    work = _work_span(resident)
    if work is not None:
        times = {t: p for t, p in times.items() if not work[0] < t < work[1] or t == 12 * 60}  # work is one part
        if work[0] < 12 * 60 and work[1] >= 14 * 60:  # lunch at work: back to work at one
            times[13 * 60] = 2
        if 16 * 60 + 30 <= work[1] <= 19 * 60 + 30:  # a shift that ends at dinner time: that is the dinner slot
            times.pop(18 * 60, None)
        times |= {work[0]: 3, work[1]: 2}
    picked: list[int] = []
    for t in sorted(t for t in times if wake + 30 <= t <= bed - 60):
        # an hour apart, or half an hour between two fixed points (breakfast at 07:30, work at 08:00)
        if picked and t - picked[-1] < (30 if min(times[t], times[picked[-1]]) >= 3 else 60):
            if times[t] > times[picked[-1]] and (len(picked) < 2 or t - picked[-2] >= 60):
                picked[-1] = t
            continue
        picked.append(t)
    while len(picked) > MAX_SLOTS:  # the least of the free times goes (of equals, the nearest the one before)
        drop = max(range(1, len(picked) - 1), key=lambda i: (-times[picked[i]], picked[i - 1] - picked[i]))
        del picked[drop]
    return tuple(Slot(t, options_at(resident, t)) for t in picked)


# Events people go to: "the Valentine's Day party", "the kite festival" (the capitalised words before the
# event's word are its name; one plain word before it says what kind: "kite", "town").
_EVENT = re.compile(r"((?:[A-Z][\w'’]*\s+){0,3}(?:[a-z]+\s+)?(?i:party|festival|meeting|gathering|celebration|"
                    r"concert|show|picnic|rally|debate|lecture|class|reading|game|dinner|lunch|breakfast|date|fair|"
                    r"market|opening|event|election))\b")
_NOT_A_KIND = _words("the a an my her his their our your to go will at of for and with on in this that")


def commitment_activity(text: str, resident: Resident) -> str:
    """What was agreed ("go to Isabella's Valentine's Day party at Hobbs Cafe on the 14th at 5 pm") as an
    activity a closed plan can offer: "go to the <event> at <place>" when it names an event and a known
    place, "go to <place>" or "go to the <event>" with one of them, else the text's head."""
    places = {s for s, _ in [*resident.knows, *resident.haunts, resident.home,
                             *([resident.workplace] if resident.workplace else [])]}
    named = sorted((p for p in places if p.lower() in text.lower()), key=len, reverse=True)
    place = "home" if named and named[0] == resident.home[0] else (named[0] if named else "")
    event = _EVENT.search(text)
    name = event.group(1).strip() if event else ""
    words = name.split()
    if len(words) > 1 and words[-2].islower() and words[-2] in _NOT_A_KIND:  # "to party": no kind
        name = " ".join([*words[:-2], words[-1]])
    # "Isabella's party" takes no article; "Valentine's Day party" does (a day's name, not a host's)
    what = name if re.match(r"\w+['’]s (?!Day\b)", name) else f"the {name}" if name else ""
    if what and place:
        return _cut(f"go to {what} at {place}", _LONGEST + 12)
    if place or what:
        return _cut(f"go to {place or what}", _LONGEST + 12)
    head = re.split(r"\b(?:on|at|from|tomorrow|today|tonight)\b", text, maxsplit=1)[0]
    return _cut(head.strip(" ,.;:") or text) or "keep an appointment"
