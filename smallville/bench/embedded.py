"""`smallville bench inference` (local part): the embedded model server, embeddings and vector search.

Figures (targets from the inference issue):
- `embedded_first_answer_s` (<= 20): a fresh Python process imports smallville, starts the embedded
  server and gets its first structured answer; timed from the process spawn.
- `schema_valid_pct` (100): 200 structured calls (35 with `quick`) to the embedded server across the
  answer models generative agents use (defined below), first attempt only, validated with pydantic.
- `embedded_tokens_per_s`: free-text generation speed of the embedded server.
- `embed_per_s` (>= 400): new memory-like sentences (~15 tokens) embedded per second, batched, by the
  local model on the CPU; `embed_per_s_short` the same for short object states ("the bed is idle");
  `embed_cached_calls` (0): model calls made when the same texts are asked for again.
- `retrieval_ms_10k` (<= 2): one cosine top-10 query over 10,000 384-d vectors.

The answer models bound every string (maxLength), list (maxItems) and number (enums), so a grammar-
constrained answer always ends well within `max_tokens`: that is what makes 100% reachable on a 135M
model, and it is the pattern the agents' prompt models should follow.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, StringConstraints, create_model

from smallville.inference.structured import AnswerProblem, RawAnswer, parse_answer, response_format


def bounded_text(max_chars: int) -> Any:
    """1..max_chars characters, none of them a control character, quote or backslash.

    A pattern rather than minLength/maxLength: llama-cpp-python's grammar for length-bounded strings lets
    raw newlines through, which strict JSON parsers reject; this pattern bounds the length as well.
    """
    return Annotated[str, StringConstraints(pattern=rf'^[^"\\\x00-\x1f]{{1,{max_chars}}}$')]


Text40 = bounded_text(40)
Text80 = bounded_text(80)
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Hour = Literal[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
MEMORY_IDS = (1, 2, 3, 4, 5, 6, 7, 8)
PLACES = ("Hobbs Cafe", "Oak Hill College", "Johnson Park", "The Rose and Crown Pub", "Harvey Oak Supply Store",
          "her house")


class Importance(BaseModel):
    score: Literal[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


class PlanChunk(BaseModel):
    start: Clock
    activity: Text80  # type: ignore[valid-type]


class DayPlan(BaseModel):
    wake_up: Clock
    chunks: list[PlanChunk] = Field(min_length=5, max_length=8)


class HourBlock(BaseModel):
    hour: Hour
    activity: Text40  # type: ignore[valid-type]


class HourlySchedule(BaseModel):
    blocks: list[HourBlock] = Field(min_length=6, max_length=18)


# The place list comes from the town: the enum is built per prompt (here once, from PLACES). A Literal built
# at run time is no type a checker can read, so it is held as Any.
_Place: Any = Literal[PLACES]
Action = create_model("Action", place=(_Place, ...), action=(Text80, ...),
                      duration_minutes=(Literal[5, 10, 15, 30, 45, 60, 90, 120], ...))


class YesNo(BaseModel):
    answer: Literal["yes", "no"]
    reason: Text80  # type: ignore[valid-type]


class Utterance(BaseModel):
    utterance: bounded_text(200)  # type: ignore[valid-type]
    end_conversation: bool


class Insight(BaseModel):
    insight: bounded_text(120)  # type: ignore[valid-type]
    evidence: list[Literal[MEMORY_IDS]] = Field(min_length=1, max_length=4)  # type: ignore[valid-type]


class Reflection(BaseModel):
    insights: list[Insight] = Field(min_length=1, max_length=3)


PERSONA = ("You are Isabella Rodriguez, 34, owner of Hobbs Cafe in Smallville. Friendly, organised, planning a "
           "Valentine's Day party at the cafe on February 14th from 5pm to 7pm.")
MEMORIES = ["Isabella is setting up tables at Hobbs Cafe", "Klaus Mueller said he is writing a research paper",
            "Maria Lopez is studying for a physics exam", "the coffee machine at Hobbs Cafe is broken",
            "Tom Moreno complained about the prices at the store", "Isabella invited Maria to the party",
            "Sam Moore is running for mayor", "Ayesha Khan is reading Shakespeare in the park"]
NUMBERED = "\n".join(f"{i}. {m}" for i, m in enumerate(MEMORIES, 1))

# (answer model, user prompt variants, max_tokens): prompts shaped like the paper's, much shortened.
# max_tokens covers the longest answer the schema allows, so no answer can be cut.
CASES: list[tuple[type[BaseModel], list[str], int]] = [
    (Importance, [f"On a scale of 1 (mundane, e.g. brushing teeth) to 10 (poignant, e.g. a break up), rate the "
                  f"likely poignancy of this memory: {m}." for m in MEMORIES], 24),
    (DayPlan, ["Today is Tuesday February 13. Plan your day in 5 to 8 broad strokes with start times (HH:MM).",
               "Today is Wednesday February 14, the day of your party. Plan your day in 5 to 8 broad strokes."], 800),
    (HourlySchedule, ["Write your schedule for today, hour by hour, from waking up to going to bed.",
                      "It is a quiet Sunday. Write your hourly schedule from morning to night."], 1000),
    (Action, [f"It is {h}. Your plan says: {a}. Where do you go and what exactly do you do?"
              for h, a in [("07:00", "open the cafe"), ("12:30", "have lunch"), ("16:00", "buy decorations"),
                           ("21:00", "relax")]], 160),
    (YesNo, ["You see Klaus Mueller at the counter. Should you start a conversation with him?",
             "Maria is reading alone. Should you invite her to the Valentine's Day party?",
             "The coffee machine is broken. Should you close the cafe early?"], 120),
    (Utterance, ["Klaus Mueller says: 'Good morning Isabella! Busy day?' What do you say next?",
                 "Maria Lopez says: 'I have to go study now, see you later.' What do you say next?"], 260),
    (Reflection, [f"Your recent memories:\n{NUMBERED}\nWhat 1 to 3 high-level insights can you infer? Cite the "
                  f"numbers of the memories that support each."], 600),
]


def _first_answer_child() -> None:
    """Run in a fresh process by `_first_answer_s`: start the server, get one answer, say so."""
    import openai

    from smallville.inference.local import STRUCTURED_MODE, EmbeddedServer

    with EmbeddedServer(announce=None) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="embedded")
        resp = client.chat.completions.create(
            model=server.model, max_tokens=24, temperature=0.7, seed=1,
            messages=[{"role": "system", "content": PERSONA}, {"role": "user", "content": CASES[0][1][0]}],
            # in the body as it is: the embedded server's form (a schema inside json_object) is not the typed
            # client's `response_format`
            extra_body={"response_format": response_format(Importance, STRUCTURED_MODE)})
        Importance.model_validate_json(resp.choices[0].message.content or "")
        print("FIRST-ANSWER", flush=True)


def _first_answer_s() -> float:
    code = "from smallville.bench.embedded import _first_answer_child; _first_answer_child()"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("FIRST-ANSWER"):
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError(f"first-answer child exited with {proc.wait()} before answering")
    proc.wait(30)
    return elapsed


async def _structured(base_url: str, model: str, calls: int) -> dict[str, Any]:
    import openai

    from smallville.inference.local import STRUCTURED_MODE

    client = openai.AsyncOpenAI(base_url=base_url, api_key="embedded", timeout=120, max_retries=0)
    valid: Counter[str] = Counter()
    total: Counter[str] = Counter()
    problems: list[str] = []
    latencies: list[float] = []
    tokens = 0
    for i in range(calls):
        answer, prompts, max_tokens = CASES[i % len(CASES)]
        prompt = prompts[(i // len(CASES)) % len(prompts)]
        t0 = time.perf_counter()
        resp = await client.chat.completions.create(
            model=model, max_tokens=max_tokens, temperature=0.8, seed=i,
            messages=[{"role": "system", "content": PERSONA}, {"role": "user", "content": prompt}],
            extra_body={"response_format": response_format(answer, STRUCTURED_MODE)},
            frequency_penalty=0.3)  # a 135M model repeats itself without one
        latencies.append(time.perf_counter() - t0)
        tokens += resp.usage.completion_tokens if resp.usage else 0
        choice = resp.choices[0] if resp.choices else None
        raw = RawAnswer(choice.message.content or "" if choice else "", choice.finish_reason if choice else None,
                        "embedded", len(resp.choices))
        total[answer.__name__] += 1
        try:
            parse_answer(raw, answer)
            valid[answer.__name__] += 1
        except AnswerProblem as exc:
            problems.append(f"{answer.__name__}: {exc.feedback[:160]} | {raw.text[:160]!r}")
    # Free text: the raw decode speed users feel in conversations.
    t0 = time.perf_counter()
    gen = await client.chat.completions.create(
        model=model, max_tokens=128, temperature=0.8, seed=7, frequency_penalty=0.3,
        messages=[{"role": "user", "content": "Describe a morning at a small town cafe."}])
    gen_s = time.perf_counter() - t0
    await client.close()
    return {
        "schema_valid_pct": round(100.0 * sum(valid.values()) / max(1, calls), 2),
        "structured_calls": calls,
        "structured_valid_by_model": {name: f"{valid[name]}/{n}" for name, n in total.items()},
        "structured_invalid_examples": problems[:5],
        "structured_call_ms_median": round(1000 * statistics.median(latencies), 1),
        "structured_call_ms_p95": round(1000 * sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "structured_completion_tokens_per_s": round(tokens / sum(latencies), 1),
        "embedded_tokens_per_s": round((gen.usage.completion_tokens if gen.usage else 0) / gen_s, 1),
    }


def memory_texts(n: int) -> list[str]:
    """n distinct observations shaped like the paper's memory stream (~15 tokens each; deterministic)."""
    who = ["Isabella Rodriguez", "Klaus Mueller", "Maria Lopez", "Tom Moreno", "Sam Moore", "Ayesha Khan",
           "John Lin", "Mei Lin", "Eddy Lin", "Carmen Ortiz", "Jennifer Moore", "Yuriko Yamamoto", "Adam Smith",
           "Giorgio Rossi", "Hailey Johnson", "Wolfgang Schulz"]
    does = ["is making coffee", "is reading a book", "is talking about the election", "is painting a landscape",
            "is walking to the store", "is planning a party", "is writing a research paper", "is eating lunch",
            "is taking a nap", "is tending the garden", "is playing the piano", "is studying chemistry",
            "is arranging flowers", "is cleaning the counter", "is chatting with a friend", "is jogging"]
    where = ["at Hobbs Cafe", "in Johnson Park", "at home", "at Oak Hill College", "at the Rose and Crown Pub",
             "in the library", "at the supply store", "by the lake", "in the kitchen", "at the town hall"]
    combos = [f"{w} {d} {p}" for p in where for d in does for w in who]
    return [combos[i % len(combos)] + ("" if i < len(combos) else f" again ({i // len(combos)})") for i in range(n)]


def object_states(n: int) -> list[str]:
    """n distinct short object-state observations ("the bed is idle"), the other common memory kind."""
    things = ["bed", "desk", "stove", "fridge", "piano", "shelf", "counter", "sink", "lamp", "sofa", "table",
              "blackboard", "bench", "toilet", "shower", "closet", "computer", "coffee machine", "oven", "easel"]
    states = ["idle", "in use", "being cleaned", "broken", "occupied", "empty", "free", "on", "off", "busy"]
    return [f"the {things[i % 20]} {i // 200 + 1} is {states[(i // 20) % 10]}" for i in range(n)]


async def _embeddings(n: int) -> dict[str, Any]:
    from smallville.inference.embed import LocalEmbedder

    emb = LocalEmbedder()
    t0 = time.perf_counter()
    await emb.warm()
    load_s = time.perf_counter() - t0
    await emb.embed(["warm-up sentence for the first batch"])
    texts = memory_texts(n)
    rates = []
    for run in range(3):
        # Median of 3 passes over the same texts: the first through the cache front (all misses), then the
        # model alone (a repeat through the front would be cache hits, and other texts differ in length).
        t0 = time.perf_counter()
        await (emb.embed(texts) if run == 0 else asyncio.to_thread(emb._encode, texts))
        rates.append(n / (time.perf_counter() - t0))
    shorts = object_states(n // 2)
    t0 = time.perf_counter()
    await emb.embed(shorts)
    short_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    await emb.embed(["Isabella Rodriguez is greeting a customer"])
    one_ms = 1000 * (time.perf_counter() - t0)
    calls_before = emb.model_calls
    t0 = time.perf_counter()
    await emb.embed(texts)
    cached_s = time.perf_counter() - t0
    cached_calls = emb.model_calls - calls_before
    # Many agents each asking for one new text at once: the front batches them into few model calls.
    calls_before = emb.model_calls
    fresh = [f"{t} (again)" for t in texts[:200]]
    await asyncio.gather(*(emb.embed([t]) for t in fresh))
    return {"embed_per_s": round(statistics.median(rates), 1), "embed_per_s_short": round(len(shorts) / short_s, 1),
            "embed_one_ms": round(one_ms, 1),
            "embed_model_load_s": round(load_s, 2), "embed_cached_calls": cached_calls,
            "embed_cached_per_s": round(n / cached_s),
            "embed_200_concurrent_model_calls": emb.model_calls - calls_before}


def _retrieval(queries: int) -> dict[str, Any]:
    from smallville.inference.vectors import VectorIndex

    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for backend in ("faiss", "numpy"):
        index = VectorIndex(384, backend=backend)
        index.add(np.arange(10_000), rng.standard_normal((10_000, 384)).astype(np.float32))
        qs = rng.standard_normal((queries, 384)).astype(np.float32)
        index.search(qs[0], 10)
        t0 = time.perf_counter()
        for q in qs:
            index.search(q, 10)
        ms = 1000 * (time.perf_counter() - t0) / queries
        out["retrieval_ms_10k" if backend == "faiss" else "retrieval_ms_10k_numpy"] = round(ms, 3)
    return out


def bench_embedded(quick: bool = False) -> dict[str, Any]:
    from smallville.inference.local import EmbeddedServer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "quick": quick}
    result["embedded_first_answer_s"] = round(_first_answer_s(), 2)
    with EmbeddedServer(announce=None) as server:
        result["embedded_startup_s"] = round(server.startup_s or 0.0, 2)
        result.update(asyncio.run(_structured(server.base_url, server.model, 35 if quick else 200)))
    result.update(asyncio.run(_embeddings(500 if quick else 2000)))
    result.update(_retrieval(100 if quick else 1000))
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(bench_embedded(quick="--quick" in sys.argv), indent=2))
