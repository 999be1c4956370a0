"""Faster structured answers from the embedded server: check the likely tokens against the grammar first.

llama-cpp-python (0.3.x) puts its grammar sampler ahead of top-k in the sampling chain, so for every
generated token the grammar judges all ~49,000 pieces of SmolLM2's vocabulary. On this 2-core machine that
made schema-shaped answers run at ~20-30 tokens/s against ~120 for free text, and the embedded day is made
of such answers. llama.cpp's own tools avoid the cost by judging the likely tokens first; this module does
the same inside the server process:

- `LikelyFirstGrammar` is a sampler that stands where the grammar stood. For each token it lets the
  grammar judge only the `PREFILTER_K` highest-scoring candidates; tokens the grammar rejects and tokens
  outside that set are masked (-inf), so the rest of the chain (top-k 40, top-p, min-p, temperature)
  draws from nearly the same well-formed candidates as before: identical under greedy decoding, and
  otherwise short only of allowed tokens ranked below the 128th (a request's top-k above 128 is capped
  there). Grammar correctness is untouched: only tokens the grammar allows can be drawn. Only when none
  of them fits (rare: a structural token the model ranks low) does the grammar judge the whole
  vocabulary, exactly as before; both kinds are counted (`CHECKS`). Without that second pass the grammar
  would later be fed a token it forbids, and llama.cpp aborts the process on that.
- `install()` swaps it in for `LlamaSampler.add_grammar`. The embedded server's child calls it before it
  starts serving (`smallville.inference.local`); a failure there is reported in the server's log and the
  server runs with the library's own, slower grammar.

Same seed, same answer: the masking is deterministic. A request's sampler holds Python callbacks, so
llama-cpp-python cannot clone it (`LlamaSampler.clone` refuses; the server never clones).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

#: Candidates the grammar judges first. Far above top-k (40), so what the chain samples from is unchanged
#: in practice; the rest of the vocabulary has logits min-p (0.05) would discard anyway.
PREFILTER_K = 128
#: Tokens judged among the likely candidates, and tokens that needed the whole vocabulary (this process).
CHECKS = {"likely": 0, "full": 0}
_TOKEN = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class LikelyFirstGrammar:
    """A llama.cpp sampler (built from Python callbacks) wrapping one grammar sampler."""

    def __init__(self, model: Any, grammar: Any, prefilter_k: int = PREFILTER_K):
        import llama_cpp

        self._llama = llama_cpp
        self.grammar = llama_cpp.llama_sampler_init_grammar(
            model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp rejected the grammar")
        self.prefilter_k = prefilter_k
        self._small = (llama_cpp.llama_token_data * prefilter_k)()
        # a memoryview: the same shared, writable memory as the ctypes array, as a buffer numpy's types accept
        self._small_view = np.frombuffer(memoryview(self._small), dtype=_TOKEN)
        self._small_array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._small, ctypes.POINTER(llama_cpp.llama_token_data)), size=0, selected=-1,
            sorted=False)
        # The callbacks must outlive the sampler: keep them on self.
        self._callbacks = (llama_cpp.llama_sampler_i_accept(self._accept), llama_cpp.llama_sampler_i_apply(self._apply),
                           llama_cpp.llama_sampler_i_reset(self._reset))
        iface = llama_cpp.llama_sampler_i()  # unset members are NULL, which llama.cpp skips
        iface.name = llama_cpp.llama_sampler_i_name(0)
        iface.accept, iface.apply, iface.reset = self._callbacks
        iface.clone = llama_cpp.llama_sampler_i_clone(0)
        iface.free = llama_cpp.llama_sampler_i_free(0)
        self._iface = iface
        self._sampler = llama_cpp.llama_sampler(iface=ctypes.pointer(iface), ctx=None)

    @property
    def pointer(self) -> Any:
        return ctypes.pointer(self._sampler)

    def close(self) -> None:
        if self.grammar:
            self._llama.llama_sampler_free(self.grammar)
            self.grammar = None

    def _accept(self, _sampler: Any, token: int) -> None:
        if self.grammar:
            self._llama.llama_sampler_accept(self.grammar, token)

    def _reset(self, _sampler: Any) -> None:
        if self.grammar:
            self._llama.llama_sampler_reset(self.grammar)

    def _apply(self, _sampler: Any, cur_p: Any) -> None:
        # An exception cannot cross back into C (ctypes would print it and go on with an unmasked array,
        # and the grammar would then abort on a forbidden token): any failure takes the full check.
        try:
            self._apply_likely_first(cur_p)
        except BaseException:
            self._full(cur_p)

    def _apply_likely_first(self, cur_p: Any) -> None:
        array = cur_p.contents
        n = int(array.size)
        k = min(self.prefilter_k, n)
        if k == n:
            self._full(cur_p)
            return
        buffer = (self._llama.llama_token_data * n).from_address(ctypes.addressof(array.data.contents))
        view = np.frombuffer(memoryview(buffer), dtype=_TOKEN)
        top = np.argpartition(-view["logit"], k - 1)[:k]
        small = self._small_view[:k]
        small[:] = view[top]
        ids = small["id"].copy()
        self._small_array.size = k
        self._small_array.selected = -1
        self._small_array.sorted = False
        self._llama.llama_sampler_apply(self.grammar, ctypes.byref(self._small_array))
        fits = np.isfinite(small["logit"])
        # The grammar only masks; should a future llama.cpp reorder, fall back to the plain full check.
        if not fits.any() or not np.array_equal(small["id"], ids):
            self._full(cur_p)
            return
        logits = np.full(n, -np.inf, dtype=np.float32)
        logits[top] = small["logit"]
        view["logit"] = logits
        array.sorted = False
        CHECKS["likely"] += 1

    def _full(self, cur_p: Any) -> None:
        self._llama.llama_sampler_apply(self.grammar, cur_p)
        CHECKS["full"] += 1


def install(prefilter_k: int = PREFILTER_K) -> None:
    """Make every grammar-constrained request of this process use `LikelyFirstGrammar`."""
    import llama_cpp
    from llama_cpp import _internals

    def add_grammar(self: Any, model: Any, grammar: Any) -> None:
        sampler = LikelyFirstGrammar(model, grammar, prefilter_k)
        llama_cpp.llama_sampler_chain_add(self.sampler, sampler.pointer)
        # Registered as a custom sampler, the chain detaches it before it is freed (llama.cpp must not
        # free memory Python owns); the exit stack runs `close` first (last in, first out).
        self.custom_samplers.append((llama_cpp.llama_sampler_chain_n(self.sampler) - 1, sampler))
        self._exit_stack.callback(sampler.close)

    # replacing the method is the point: llama-cpp-python has no hook for a sampler of one's own
    _internals.LlamaSampler.add_grammar = add_grammar  # type: ignore[method-assign]
