"""A game's rounds on the worker pool: each worker plays a shard of the players, the driver merges and records.

Owns both sides of a sharded round:
- in each worker, `GameGroup`: the session's models opened there (its own server pools, each endpoint's
  `max_concurrency` shared out between the workers, `models.for_workers`) and a `CallBook` per shard whose
  records are shipped to the driver, with the shard's progress, in batches (every `batch_s` on Ray; as they
  come in this process). A shard ends with its turns in player order (`ShardDone`), or with the error that
  stopped it (`ShardStopped`: the models cannot answer, too many turns failed);
- in the driver, `play_round_on`: the players split into contiguous shards (`scale/shards.py`), each shard a
  job given the records of earlier sessions for its players (answered from there, `reused`), the records all
  written to the one `calls.jsonl` as they arrive, the turns merged in player order. A shard whose worker was
  lost mid-round is played again with the records it had shipped (`redo`: its calls already made are not asked
  again, and nothing is counted twice); what it had not shipped is asked again.

With one worker this is the same code in this process, so `--workers 1`, 2 or 4 give the same answer log bytes.
`WorkerModels` is what the driver knows of the workers' models (their accounting and verdicts, as shipped), for
the round's checks and `inference.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from smallville.games.calls import CallBook, CallLog, Records, Shipped, recorded_error
from smallville.games.config import GuessSettings
from smallville.games.models import ModelGroups, Override, for_workers, merge_accounting, open_models
from smallville.games.play import Turn, play_round
from smallville.games.prompts import PastTurn, Player
from smallville.inference.base import InferenceError, ModelsUnusable
from smallville.inference.settings import InferenceSettings
from smallville.scale.actor import adopt_env, carried_env
from smallville.scale.pool import JobMaker, Pool
from smallville.scale.shards import merge, split

ACCOUNTING_EVERY_S = 1.0  # how often a worker's pools' accounting rides along with its progress


@dataclass(frozen=True)
class GameGroupFactory:
    """What each worker builds its `GameGroup` from (picklable: settings, and the caller's own models if any).

    `keys`: the API keys the endpoints name (`api_key_env`) as set where the command runs, so that a study
    started with its key in the shell finds it on every node. They travel inside the job, never in Ray's
    own metadata (a runtime_env would show them in Ray's state API), are never printed (not in the repr),
    and a key already set on a node wins there."""

    inference: InferenceSettings
    cfg: GuessSettings
    override: Override
    workers: int
    batch_s: float
    keys: dict[str, str] = field(default_factory=dict, repr=False)

    def build(self) -> GameGroup:
        return GameGroup(self)


def endpoint_keys(inference: InferenceSettings) -> dict[str, str]:
    """The values of the key variables the endpoints name, where set in this process."""
    names = {e.api_key_env for e in inference.endpoints}
    if inference.embedding is not None:
        names.add(inference.embedding.api_key_env)
    return carried_env(names)


@dataclass
class RoundShard:
    """A job: one shard of a round's players, with their earlier turns and the records that answer their calls."""

    round_no: int
    seed: int
    attempt: int
    players: list[Player]
    pasts: list[list[PastTurn]]
    concurrency: int
    max_failed: int | None
    prior: Records
    redo: Records


@dataclass
class Progress:
    """Records and turns since the worker's last item (`attempt`: which play of the shard they belong to)."""

    origin: str
    attempt: int
    records: list[Shipped]
    turns: int
    failed: int
    last_error: str | None
    accounting: dict[str, Any] | None
    final: bool = False  # the shard's last progress: its result (or the error that stopped it) comes next


@dataclass
class ShardDone:
    origin: str
    turns: list[Turn]
    reused: int
    redone: int
    fatal_at_end: dict[str, Any] | None  # the models' verdict once the shard is over, as an error record
    accounting: dict[str, Any]


@dataclass
class ShardStopped:
    origin: str
    error: dict[str, Any]  # type, message, endpoint: rebuilt in the driver as the same error class
    accounting: dict[str, Any]


def _error_record(exc: InferenceError) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc), "endpoint": exc.endpoint}


class GameGroup:
    """The players of one worker: the session's models, and the shards of rounds it is given."""

    def __init__(self, spec: GameGroupFactory):
        self.spec = spec
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # one per opening: a restarted worker is another
        self.models: ModelGroups | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def open(self) -> None:
        adopt_env(self.spec.keys)  # this process is the group actor's alone
        stack = contextlib.AsyncExitStack()
        inference = for_workers(self.spec.inference, self.spec.workers)
        self.models = await stack.enter_async_context(open_models(inference, self.spec.cfg,
                                                                  override=self.spec.override))
        self._stack = stack

    def describe(self) -> dict[str, str]:
        return self.models.describe() if self.models is not None else {}

    async def close(self) -> dict[str, Any]:
        """Close the models; their final accounting (what the driver writes to inference.json)."""
        final = {"origin": self.origin, "accounting": self.models.accounting() if self.models else {}}
        stack, self._stack, self.models = self._stack, None, None
        if stack is not None:
            await stack.aclose()
        return final

    async def run(self, job: RoundShard) -> AsyncGenerator[Progress | ShardDone | ShardStopped, None]:
        models = self.models
        assert models is not None, "open() first"
        pending: list[Shipped] = []
        counts = {"turns": 0, "failed": 0}
        last_error: list[str | None] = [None]
        wake = asyncio.Event()

        def sink(record: Shipped) -> None:
            pending.append(record)
            wake.set()

        def on_turn(turn: Turn) -> None:
            counts["turns"] += 1
            if turn.status == "failed":
                counts["failed"] += 1
                last_error[0] = turn.error
            wake.set()

        book = CallBook(prior=job.prior, redo=job.redo, sink=sink, where=f"round {job.round_no} calls")
        loop = asyncio.get_running_loop()
        shared_at = loop.time()

        def progress(final: bool) -> Progress | None:
            nonlocal shared_at
            if not pending and not counts["turns"] and not final:
                return None
            # with failures the accounting always rides along: a stop message names how the requests failed
            share = final or counts["failed"] > 0 or loop.time() - shared_at >= ACCOUNTING_EVERY_S
            if share:
                shared_at = loop.time()
            item = Progress(self.origin, job.attempt, pending[:], counts["turns"], counts["failed"], last_error[0],
                            models.accounting() if share else None, final)
            pending.clear()
            counts["turns"] = counts["failed"] = 0
            return item

        play = asyncio.create_task(play_round(job.players, job.pasts, job.round_no, self.spec.cfg, models, book,
                                              seed=job.seed, concurrency=job.concurrency, on_turn=on_turn,
                                              max_failed=job.max_failed))
        try:
            while not play.done():
                woken = asyncio.create_task(wake.wait())
                await asyncio.wait({play, woken}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if self.spec.batch_s > 0 and not play.done():
                    # on Ray: a batch per `batch_s` (one object per batch, not one per call)
                    await asyncio.wait({play}, timeout=self.spec.batch_s)
                wake.clear()
                item = progress(final=False)
                if item is not None:
                    yield item
        finally:
            if not play.done():  # the driver stopped listening (a stop, Ctrl-C): the shard's calls stop too
                play.cancel()
            with contextlib.suppress(BaseException):
                await play  # its outcome is taken here, whatever it was (never "exception never retrieved")
        error = play.exception()
        last = progress(final=True)
        assert last is not None
        yield last
        if isinstance(error, InferenceError):
            yield ShardStopped(self.origin, _error_record(error), models.accounting())
            return
        if error is not None:
            raise error
        turns = play.result()
        for turn in turns:
            turn.cause = None  # not logged, and not every error class survives the trip to the driver
        fatal = models.fatal(at_end=True)
        yield ShardDone(self.origin, turns, book.reused, book.redone, _error_record(fatal) if fatal else None,
                        models.accounting())


@dataclass
class WorkerModels:
    """What the driver knows of the workers' models: each worker's latest accounting and end-of-shard verdict
    (`play.Models`'s `fatal`, and `failed_requests` for stop messages, as `ModelGroups` gives them in-process)."""

    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[InferenceError] = field(default_factory=list)

    def note(self, origin: str, accounting: dict[str, Any] | None) -> None:
        if accounting is not None:
            self.snapshots[origin] = accounting

    def fatal(self, *, at_end: bool = False) -> InferenceError | None:
        return self.verdicts[0] if at_end and self.verdicts else None

    def accounting(self) -> dict[str, Any]:
        if not self.snapshots:
            return {}
        return merge_accounting([self.snapshots[k] for k in sorted(self.snapshots)])

    def failed_requests(self) -> str:
        parts = []
        for group in self.accounting().values():
            for endpoint, stats in group.get("by_endpoint", {}).items():
                kinds = ", ".join(f"{k} x{n}" for k, n in stats.get("error_kinds", {}).items())
                if kinds:
                    parts.append(f"{endpoint}: {kinds}")
        return "; ".join(parts)


@dataclass
class RoundPlayed:
    turns: list[Turn]
    reused: int
    redone: int


def _share(concurrency: int, part: int, whole: int) -> int:
    return max(1, -(-concurrency * part // max(1, whole)))


async def play_round_on(pool: Pool, log: CallLog, players: Sequence[Player], pasts: Sequence[Sequence[PastTurn]],
                        round_no: int, *, seed: int, concurrency: int, max_failed: int | None, view: WorkerModels,
                        on_turns: Callable[[int], None] | None = None) -> RoundPlayed:
    """Every player's turn in round `round_no`, in player order, played in shards on `pool`; every call record
    written to `log` as it arrives. Raises what stopped a shard (the models' error, one line naming the
    endpoint), `ModelsUnusable` when more than `max_failed` turns failed in all, `WorkerLost` (one line naming
    the node) when a worker does not come back."""
    shards = split(len(players), pool.size)
    prior = log.prior_by_agent(round_no)
    start = log.offset()
    done: list[ShardDone | None] = [None] * len(shards)
    seen: list[tuple[int, int, int]] = [(0, 0, 0)] * len(shards)  # (attempt, turns, failed) per shard
    failed_total = [0]

    def job(i: int) -> JobMaker:
        part = shards[i]
        ids = [players[k].id for k in part]

        def make(attempt: int) -> RoundShard:
            # a redo carries the records its lost worker shipped (read back from the log: the durable copy)
            redo = log.records_since(start, round_no, ids) if attempt else {}
            own = {place: record for a in ids for place, record in prior.get(a, {}).items()}
            return RoundShard(round_no, seed, attempt, list(players[part.start:part.stop]),
                              [list(p) for p in pasts[part.start:part.stop]],
                              _share(concurrency, len(part), len(players)), max_failed, own, redo)
        return make

    def on_item(i: int, item: Any) -> None:
        if isinstance(item, Progress):
            if item.records:
                log.write(item.records)
            view.note(item.origin, item.accounting)
            attempt, turns, failed = seen[i]
            if item.attempt != attempt:  # the shard is being played again: its count starts over
                turns_before, failed_before = turns, failed
                attempt, turns, failed = item.attempt, 0, 0
                failed_total[0] -= failed_before
                if on_turns is not None:
                    on_turns(-turns_before)
            seen[i] = (attempt, turns + item.turns, failed + item.failed)
            failed_total[0] += item.failed
            if on_turns is not None and item.turns:
                on_turns(item.turns)
            # more failed turns than the round allows, over all shards: stop now (a shard's own stop, its
            # last progress announces, comes first: it says more, e.g. which endpoint refuses the key)
            if max_failed is not None and failed_total[0] > max_failed and not item.final:
                raise ModelsUnusable(f"round {round_no}: more than {max_failed:,} of {len(players):,} turns failed "
                                     f"(max_failed_share); {item.last_error}")
        elif isinstance(item, ShardDone):
            view.note(item.origin, item.accounting)
            if item.fatal_at_end is not None:
                view.verdicts.append(recorded_error(item.fatal_at_end))
            done[i] = item
        elif isinstance(item, ShardStopped):
            view.note(item.origin, item.accounting)
            raise recorded_error(item.error)

    view.verdicts.clear()
    await pool.run([job(i) for i in range(len(shards))], on_item)
    turns = merge(shards, [d.turns if d is not None else None for d in done])
    return RoundPlayed(turns, sum(d.reused for d in done if d), sum(d.redone for d in done if d))
