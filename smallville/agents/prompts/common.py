"""What every cognitive step shares: bounded answer types, clock arithmetic, the persona summary, the typed
rejection, the fallback counter and `ask`, the one way a step's call is made, checked and defaulted.

Each step module (importance, planning, place, social, reflection) follows one shape:

- `render(...) -> list[Message]`: a short chat (a 2-3 line persona and only what the caller passes in);
- an answer model (pydantic) whose strings, lists and numbers are all bounded (Literal / pattern), so a
  grammar-constrained small model always ends within the step's `max_tokens`;
- `check(answer, ...)`: validates the answer against the world and returns the repaired answer (or a
  checked form with integer minutes for the time-bearing steps), raising `AnswerRejected` when no repair
  makes sense;
- `fallback(...)`: a sensible default that is an instance of the answer model and passes `check`; every
  use is counted in `FALLBACKS` (by step) and logged with its reason.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, StringConstraints, ValidationError

from smallville.errors import SmallvilleError
from smallville.inference.base import CallOptions, InferenceError, LanguageModel, Message
from smallville.world.residents import Resident

log = logging.getLogger("smallville.agents.prompts")

A = TypeVar("A", bound=BaseModel)
C = TypeVar("C")

DAY_MINUTES = 24 * 60


def bounded_text(max_chars: int) -> Any:
    """1..max_chars characters, no control character, quote or backslash (see smallville.bench.embedded:
    a pattern, because llama-cpp-python's length-bounded string grammar lets raw newlines through)."""
    return Annotated[str, StringConstraints(pattern=rf'^[^"\\\x00-\x1f]{{1,{max_chars}}}$')]


def one_of(options: tuple[Any, ...]) -> Any:
    """`Literal[options]` for options known only at run time (a type checker reads `Literal[...]` only with
    values written in the code, hence `Any`, as for the other annotations built here)."""
    return Literal.__getitem__(options)


def plain_words(max_words: int, *, min_words: int = 1, sentence: bool = False) -> Any:
    """`min_words`..`max_words` words of plain ASCII letters, digits and everyday punctuation, one space
    between words, no word over 20 characters, a letter first: no URL, code, markup or foreign script can be
    written in it, nor a run of letters that is no word ('moohoorrdd...'). `sentence`: it opens with a
    capital letter.

    For answers whose text a small model fills in (`choices = "closed"`): with a grammar-constrained
    server, llama.cpp then cannot emit anything else. Longer than `bounded_text` as a grammar, not slower
    to sample."""
    word = r"[A-Za-z0-9,.;:!?'()&-]"
    # the first word opens with a letter: a 135M model's steps were often "1", "2" (a list's numbers)
    first = rf"[A-Z]{word}{{0,19}}" if sentence else rf"[A-Za-z]{word}{{0,19}}"
    return Annotated[str, StringConstraints(pattern=rf"^{first}( {word}{{1,20}}){{{min_words - 1},{max_words - 1}}}$")]


Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Score = Literal[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


Choices = Literal["open", "closed"]
"""How answers that could be choices are asked (`AgentSettings.choices`): `open` lets the model write
(times, activities: what a capable model does well); `closed` offers lists to pick from where the answer is
a choice (a day plan's activities for fixed times of the day) and plain-words patterns where it is text
(the embedded 135M model's profile: see docs/benchmarks.md, "What the embedded model says")."""


@dataclass(frozen=True)
class Step:
    """A cognitive step's call settings: `name` is also the accounting purpose.

    Sampling: `temperature`, `top_p` and the OpenAI penalties, the only sampling fields every
    OpenAI-compatible server takes (OpenAI's own API refuses llama.cpp's `repeat_penalty` or `top_k`,
    so none is sent: the embedded server keeps its defaults for those, top-k 40, min-p 0.05, repeat
    penalty 1.1 over the last 64 tokens)."""

    name: str
    max_tokens: int
    temperature: float = 0.7
    # A 135M model repeats itself without a frequency penalty (measured in smallville.bench.embedded); a
    # choice among listed options wants none (the options are in the prompt, and often share words).
    frequency_penalty: float = 0.3
    top_p: float | None = None

    def options(self, seed: int | None = None, **extra: object) -> CallOptions:
        sampling: dict[str, object] = {"frequency_penalty": self.frequency_penalty} if self.frequency_penalty else {}
        if self.top_p is not None:
            sampling["top_p"] = self.top_p
        return CallOptions(purpose=self.name, temperature=self.temperature, seed=seed,
                           max_tokens=self.max_tokens, extra={**sampling, **extra})


@dataclass(frozen=True)
class Prompt(Generic[A, C]):
    """One step's call, whichever way it is asked (`Choices`): what `ask` takes besides the model."""

    step: Step
    messages: list[Message]
    answer: type[A]
    check: Callable[[A], C]
    fallback: Callable[[], A]


class AnswerRejected(SmallvilleError):
    """A model answer that no repair can make fit the world; the caller uses the step's fallback."""

    def __init__(self, step: str, reason: str):
        self.step = step
        self.reason = reason
        super().__init__(f"{step}: {reason}")


# -- fallbacks ------------------------------------------------------------------------------------------

#: How many times each step fell back to its default in this process (reported by the run/bench).
FALLBACKS: Counter[str] = Counter()


def count_fallback(step: str, reason: str) -> None:
    FALLBACKS[step] += 1
    # debug, not info: a weak model falls back often, and every fallback is also an event and a count
    log.debug("fallback for %s: %s", step, reason)


def fallback_counts() -> dict[str, int]:
    return dict(FALLBACKS)


def reset_fallbacks() -> None:
    FALLBACKS.clear()


# -- clock ----------------------------------------------------------------------------------------------


def clock(minute: int) -> str:
    """Day minute (may exceed 24 h for after-midnight times) -> 'HH:MM'."""
    minute %= DAY_MINUTES
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_clock(value: str) -> int | None:
    """'HH:MM' (also 'H:MM') -> minutes after midnight, None when it is not a time of day."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return int(m.group(1)) * 60 + int(m.group(2))


def day_minute(value: str, wake: int) -> int | None:
    """A clock time placed on the resident's waking day: times well before waking (two hours or more)
    belong to the night after, so a 00:30 bedtime sorts after 23:00."""
    m = parse_clock(value)
    if m is None:
        return None
    return m + DAY_MINUTES if m < wake - 120 else m


# -- persona --------------------------------------------------------------------------------------------


def _first_sentence(text: str, max_words: int) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = sentence.split()
    if not words:
        return ""
    return " ".join(words).rstrip(".") + "." if len(words) <= max_words else " ".join(words[:max_words]) + "..."


def persona(resident: Resident, *, lifestyle: bool = False) -> str:
    """The resident in 2-3 short lines (about 40-60 tokens): who, traits, what occupies them."""
    who = f"You are {resident.name}, {resident.age}" + (f", {resident.occupation}" if resident.occupation else "")
    lines = [who + "." + (f" You are {', '.join(resident.traits[:4])}." if resident.traits else "")]
    now = _first_sentence(resident.currently, 28)
    if now:
        lines.append(now)
    if lifestyle and (habits := _first_sentence(resident.lifestyle, 24)):
        lines.append(habits)
    return "\n".join(lines)


def numbered(items: Sequence[str], max_chars: int | None = 160) -> str:
    """One line per item, '1. ...'. An item over `max_chars` is shown as its `gist` (its most telling
    sentences, in order), never as its first characters: a memory's point is seldom at its start. None:
    items as they are (already fitted with `fit_memories`)."""
    return "\n".join(f"{i}. {' '.join(t.split()) if max_chars is None else gist(t, '', max_chars)}"
                     for i, t in enumerate(items, 1))


# -- memories in a prompt -------------------------------------------------------------------------------
#
# Every prompt that shows memories shows them through `fit_memories` (or `numbered`, which uses `gist`):
# a talk's transcript or a long thought keeps the sentences nearest what the prompt is about, never just
# its head. A conversation's memory once lost its point this way: "Conversation with Isabella Rodriguez at
# Hobbs Cafe: cafe. Isabella: Hi Klaus! / I: ..." cut at 140 characters kept the greeting and never the
# party. (Where the resident wrote a memo of the talk, the stream shows the memo instead:
# `MemoryStream.shown`.)

#: Characters per token for the budgets below: what the fake server counts, and about an English BPE
#: token's worth (approx_tokens' words * 1.3 comes to much the same).
CHARS_PER_TOKEN = 4
#: A memory is never squeezed under this many characters; a list too long for its budget loses its last
#: (least relevant: callers list memories best first) items instead.
MIN_MEMORY_CHARS = 80
_STOP = frozenset((
    "the", "and", "for", "are", "was", "were", "you", "your", "yours", "with", "that", "this", "these",
    "those", "have", "has", "had", "not", "but", "all", "can", "her", "his", "she", "him", "they", "them",
    "their", "what", "when", "where", "who", "whom", "how", "its", "our", "out", "about", "into", "from",
    "just", "will", "would", "could", "should", "there", "here", "than", "then", "been", "being", "also",
    "very", "some", "any", "did", "does", "doing", "said", "say", "says", "know", "knows", "yes", "let", "get",
    "got", "one", "really", "much", "more", "most", "well", "okay", "sure", "thanks", "thank", "hello", "good",
    "great",
))
# A sentence ends at . ! ? (then a space), a transcript's lines are joined by " / ", a plan's parts by "; ".
_UNIT_END = re.compile(r"\s+/\s+|(?<=[.!?])\s+(?:/\s+)?|;\s+")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9']*")


def _content(text: str) -> set[str]:
    """A text's content words: lower case, no possessive 's, three letters or more or a number."""
    out = set()
    for w in _TOKEN.findall(text):
        w = w.lower().removesuffix("'s").strip("'")
        if (len(w) >= 3 or w.isdigit()) and w not in _STOP:
            out.add(w)
    return out


def telling(unit: str) -> int:
    """How much a sentence says: its content words, plus its names, places, dates and times (capitalised
    words after the first, numbers): the who, what, when and where a greeting lacks."""
    tokens = _TOKEN.findall(unit)
    specific = sum(1 for w in tokens[1:] if w[0].isupper() or any(c.isdigit() for c in w))
    return len(_content(unit)) + specific


# The head a talk's memo and planning thought are stored with (agents/converse.py: memo_memory, plan_memory):
# a unit of its own, so that a memo of one sentence is cut to its point, not to its head.
_HEAD = re.compile(r"^(?:[^:.!?]{1,80} noted after talking with [^:.!?]{1,80}|For [^:.!?]{1,80}'s planning):\s+")


def _units(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, line or plan part of `text` (a memo's head is one)."""
    spans, start = [], 0
    if head := _HEAD.match(text):
        spans.append((0, len(head.group(0).rstrip())))
        start = head.end()
    for m in _UNIT_END.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _window(unit: str, wanted: set[str], room: int) -> str:
    """One sentence too long for `room` characters: the words from just before the first one the query
    names (else from its start), marked with '…' where cut."""
    words = unit.split()
    hit = next((i for i, w in enumerate(words) if _content(w) & wanted), 0)
    start = max(0, hit - 3)
    out: list[str] = []
    for w in words[start:]:
        if len(" ".join([*out, w])) + 2 > room:
            break
        out.append(w)
    text = " ".join(out) or words[start][: max(1, room - 2)]
    return ("…" if start else "") + text + ("…" if start + len(out) < len(words) else "")


def gist(text: str, query: str = "", max_chars: int = 160) -> str:
    """`text` in at most `max_chars` characters, keeping its point: whole when it fits; else the sentence
    (or transcript line, or plan part) that says most (names, places, dates, numbers: `telling`), each word
    it shares with `query` counting four, with the first sentence before it when there is room
    (who and where, for a talk: "Conversation with X at Y."), then the next best while they fit, shown in
    their order with '…' for what was left out. A best sentence too long on its own is cut around the
    query's first word. Deterministic, no model, no vector."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    spans = _units(text)
    wanted = _content(query)

    def unit(i: int) -> str:
        return text[spans[i][0]:spans[i][1]]

    def show(picked: set[int]) -> str:
        order = sorted(picked)
        out = "…" if order[0] > 0 else ""
        for k, i in enumerate(order):
            if k:  # adjacent ones with their own separator, a gap as " … "
                out += text[spans[order[k - 1]][1]:spans[i][0]] if i == order[k - 1] + 1 else " … "
            out += unit(i)
        return out + (" …" if order[-1] < len(spans) - 1 else "")

    # A query word counts four times a word that merely says something; one found in half the sentences or
    # more (a speaker's name before each of their lines) tells them apart from nothing.
    words = [_content(unit(i)) for i in range(len(spans))]
    wanted = {w for w in wanted if 2 * sum(w in ws for ws in words) < max(2, len(spans))}
    ranked = sorted(range(len(spans)), key=lambda i: (-(4 * len(words[i] & wanted) + telling(unit(i))), i))
    best = next((i for i in ranked if i > 0), 0)  # the head is context, not the point
    if len(show({best})) > max_chars:
        return shorten(_window(unit(best), wanted, max_chars), max_chars)
    chosen = {0, best} if len(show({0, best})) <= max_chars else {best}
    for i in ranked:
        if i not in chosen and len(show(chosen | {i})) <= max_chars:
            chosen.add(i)
    return show(chosen)


def fit_memories(memories: Sequence[str], query: str = "", budget: int = 200) -> list[str]:
    """Memories for one prompt within about `budget` tokens (`CHARS_PER_TOKEN`), each on one line: short
    ones whole, the long ones sharing what is left equally, each as its `gist` for `query` (what the prompt
    asks or is about). Memories are listed best first by the callers, so when even `MIN_MEMORY_CHARS` each
    would not fit, the last ones are left out (the budget wins, the best memories stay readable)."""
    texts = [" ".join(m.split()) for m in memories]
    room = max(MIN_MEMORY_CHARS, budget * CHARS_PER_TOKEN)
    n = len(texts)
    while n > 1 and sum(min(len(t), MIN_MEMORY_CHARS) for t in texts[:n]) > room:
        n -= 1
    texts, out = texts[:n], texts[:n]
    left = room
    for k, i in enumerate(sorted(range(n), key=lambda i: (len(texts[i]), i))):
        share = left // (n - k)
        if len(texts[i]) > share:
            out[i] = gist(texts[i], query, max(share, MIN_MEMORY_CHARS))
        left -= len(out[i])
    return out


def shorten(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def clean_text(text: str, max_chars: int) -> str:
    """Model text made safe for the answer models' pattern: one line, no quotes/backslashes, bounded.
    Also drops what small models copy from the prompt's layout: a leading '1.' and stray JSON brackets."""
    text = re.sub(r'["\\\x00-\x1f{}\[\]]+', " ", text)
    text = re.sub(r"^\s*\d{1,2}[.)]\s+", "", text)
    return " ".join(text.split())[:max_chars].strip(" ,;")


# -- what a person types -------------------------------------------------------------------------------

# Chat-template markers a tokenizer may read as special tokens rather than text (llama.cpp's server, for
# one, parses special tokens in the whole rendered prompt): ChatML's <|im_start|>, <|endoftext|>, Llama 3's
# <|eot_id|>, Llama 2's </s> and <<SYS>>, Gemma's <start_of_turn>, Mistral's [INST], and those of models
# not yet written. Any <...> or [UPPER_CASE] run without spaces is a candidate, so unknown ones are caught
# too; spaces put inside the brackets break the token while a reader still sees what was typed.
_ANGLE = re.compile(r"<([^\s<>]{1,64})>")
_SQUARE = re.compile(r"\[(/?[A-Z][A-Z0-9_]{0,63})\]")
# Letters under a pile of combining marks ("zalgo") draw far outside their line; a few marks a letter are
# all any language uses.
_MAX_MARKS = 4
_INVISIBLE = ("Cf", "Cs", "Co", "Cn")  # format, surrogate, private use, unassigned


def clean_typed(text: str, max_chars: int) -> str:
    """What a person typed, made safe to store, draw and put in a prompt: one line of at most `max_chars`.

    Code points that cannot be encoded (lone surrogates), invisible format characters (bidi overrides,
    zero-width joiners), private-use and unassigned ones are dropped; control characters (a terminal
    escape's ESC: what follows it is harmless text) and any other whitespace become one space each run
    (not stripped, so a word can still be typed after a space); NFKC folds look-alikes (fullwidth <｜ ｜>)
    into the characters a template token is made of before tokens are broken; at most four combining
    marks a letter, none without one; chat-template tokens are broken by spaces. Idempotent, so the chat
    can clean the whole line after every keystroke (a token typed in two halves is caught once whole).
    """
    # Breaking a token inserts a space, which can leave a mark without its letter for the next pass to drop:
    # passes until nothing changes (two in practice) make the result a fixed point.
    for _ in range(4):
        cleaned = _clean_once(text, max_chars)
        if cleaned == text:
            break
        text = cleaned
    return text


def _clean_once(text: str, max_chars: int) -> str:
    # dropped before NFKC too, which needs encodable text and should compose what the drop brings together;
    # the cut bounds the work for a huge paste
    text = "".join(c for c in str(text)[: max_chars * 4] if unicodedata.category(c) not in _INVISIBLE)
    kept: list[str] = []
    marks = 0
    for c in unicodedata.normalize("NFKC", text):
        cat = unicodedata.category(c)
        if cat in _INVISIBLE:
            continue
        if cat == "Cc" or cat[0] == "Z" or c.isspace():
            c = " "
        marks = marks + 1 if cat[0] == "M" else 0
        # a mark with no letter under it (at the start, after a space) can draw as nothing, and pygame
        # refuses to draw a word of zero width
        if marks <= _MAX_MARKS and not (marks and (not kept or kept[-1] == " ")):
            kept.append(c)
    text = "".join(kept).replace("<|", "< |").replace("|>", "| >")
    text = _SQUARE.sub(r"[ \1 ]", _ANGLE.sub(r"< \1 >", text))
    return re.sub(r" {2,}", " ", text)[:max_chars]


def has_words(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2}", text))


def closest(value: str, options: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The known option `value` names: exact, then case/space-insensitive, then containment, then the
    closest spelling (difflib ratio >= cutoff). None when nothing is close enough."""
    if value in options:
        return value
    norm = {" ".join(o.lower().split()): o for o in options}
    key = " ".join(value.lower().split())
    if not key:
        return None
    if key in norm:
        return norm[key]
    contained = [o for k, o in norm.items() if key in k or k in key]
    if len(contained) == 1:
        return contained[0]
    match = difflib.get_close_matches(key, list(norm), n=1, cutoff=cutoff)
    return norm[match[0]] if match else None


def approx_tokens(messages: Sequence[Message]) -> int:
    """Rough prompt size (words * 1.3 + 4 per message), the budget measure the tests use."""
    return sum(int(len(m.content.split()) * 1.3) + 4 for m in messages)


# -- the call -------------------------------------------------------------------------------------------


async def ask(lm: LanguageModel, step: Step, messages: Sequence[Message], answer: type[A],
              check: Callable[[A], C], fallback: Callable[[], A], *, seed: int | None = None
              ) -> tuple[C, Literal["ok", "fallback"]]:
    """Call, check, and on any failure (no valid answer, server gone, answer rejected) use the fallback
    (`fallback` should be the step's own, which adds to `FALLBACKS`).

    Never raises an `InferenceError` or `AnswerRejected`: a resident is never left without an answer. The
    fallback passes `check` by construction (the tests hold each step to it).
    """
    try:
        got = await lm.complete_model(messages, answer, step.options(seed))
        return check(got), "ok"
    # a ValidationError here is raised by `check` rebuilding an answer it could not hold (a schema's bound
    # the model's answer met but the checked form does not): that answer is unusable, not the run
    except (InferenceError, AnswerRejected, ValidationError) as exc:
        log.debug("%s: no usable answer (%s: %s)", step.name, type(exc).__name__, exc)
        return check(fallback()), "fallback"  # the step's fallback counts itself
