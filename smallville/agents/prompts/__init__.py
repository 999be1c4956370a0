"""Every prompt of the generative agents, one module per cognitive step (or a few related steps).

- `importance`: batched 1-10 ratings of new memories;
- `planning`: daily plan, hourly schedule (and re-planning), decomposition of the current block;
- `place`: sector > arena > object choice among known addresses; object state;
- `social`: react-or-continue, conversation turns, interview answers;
- `reflection`: salient questions, insights citing evidence ids;
- `common`: shared answer types, `AnswerRejected`, the `FALLBACKS` counter and `ask` (call, check, default).

The loop that calls them lives elsewhere; these modules never touch the memory stream or the world, they
are handed what they need (strings, day minutes, option lists) and hand back checked answers.
"""

from smallville.agents.prompts.common import (
    FALLBACKS,
    AnswerRejected,
    Step,
    approx_tokens,
    ask,
    fallback_counts,
    reset_fallbacks,
)

__all__ = ["FALLBACKS", "AnswerRejected", "Step", "approx_tokens", "ask", "fallback_counts", "reset_fallbacks"]
