"""Playing a study: the seeds of one game, round after round, each seed a save, and the report at the end.

Owns the drive: make (or reopen) each seed's save, seat its players, play its rounds one after another on the
study's workers (`workers.play_round_on`: shards of players in this process or in group actors on Ray, the
answers back in player order), score each round (`scoring.py`), commit it to the answer log, and go on until
the last round; then write the report. A round is committed whole, so a run
stopped anyhow (Ctrl-C, kill -9, a model that cannot answer) resumes at the round it was in: `resume_study`
reopens the saves, takes the players' earlier turns from the log, and plays that round again, with every
call already recorded in it answered from the recording (`calls.py`), not asked again.

Why the seeds share one session's workers (and their models): one embedded server, one set of pools and of
group actors for the whole study. The workers are the study's `[scale]` (`--workers`, `--ray-address`); a
resume goes on with those it was started with unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from smallville import __version__
from smallville.errors import SaveError
from smallville.files import atomic_write_json
from smallville.games import scoring
from smallville.games.calls import CallLog
from smallville.games.config import GameFile, GuessSettings
from smallville.games.models import Override, planned_concurrency
from smallville.games.play import Turn
from smallville.games.prompts import PastTurn, Player
from smallville.games.roster import seat
from smallville.games.store import GameSave, add_accounting
from smallville.games.study import (
    STUDY,
    STUDY_FORMAT,
    masked_inference,
    read_study,
    round_event,
    score_turns,
    seed_dir,
    study_settings,
)
from smallville.games.workers import GameGroupFactory, WorkerModels, endpoint_keys, play_round_on
from smallville.inference.base import InferenceError, ModelsUnusable
from smallville.inference.settings import InferenceSettings
from smallville.scale.cluster import ScaleError, check
from smallville.scale.pool import Pool, open_pool

log = logging.getLogger(__name__)


def _population_facts(cfg: GuessSettings) -> dict[str, Any] | None:
    if not cfg.population:
        return None
    path = Path(cfg.population)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with path.open("rb") as f:
        header = json.loads(f.readline())
    return {"path": str(path), "sha256": digest.hexdigest(), "header": header}


def _pasts(rounds: list[Any], players: list[Player]) -> list[list[PastTurn]]:
    pasts: list[list[PastTurn]] = [[] for _ in players]
    for logged in rounds:
        event = logged.event
        for i, turn in enumerate(logged.turns):
            announced = event.get("announced")
            pasts[i].append(PastTurn(logged.round, turn.said, None if announced is None else float(announced),
                                     event.get("team_won")))
    return pasts


class ModelsView(Protocol):
    """What the round's checks ask of the models (`ModelGroups` in a process, `WorkerModels` over workers)."""

    def fatal(self, *, at_end: bool = False) -> InferenceError | None: ...

    def failed_requests(self) -> str: ...


def _explained(exc: ModelsUnusable, models: ModelsView) -> ModelsUnusable:
    """The stop's message with how the requests failed at each endpoint (HTTP 500, timeouts...)."""
    failed = models.failed_requests()
    if not failed:
        return exc
    message = str(exc)
    prefix = f"[{exc.endpoint}] "
    if exc.endpoint and message.startswith(prefix):
        message = message[len(prefix):]
    return ModelsUnusable(f"{message}; failed requests: {failed}", exc.endpoint)


def _check_failures(turns: list[Turn], round_no: int, cfg: GuessSettings, models: ModelsView) -> None:
    """Refuse to commit a round with more failed turns than `max_failed_share` allows: its mean would stand
    on the players whose calls happened to get through. The game stops (one line) and a resume asks only the
    failed turns again (the others are answered from the recording)."""
    failed = [t for t in turns if t.status == "failed"]
    if len(failed) == len(turns) and (fatal := models.fatal(at_end=True)) is not None:
        raise fatal  # not one call answered this session
    if failed and len(failed) > cfg.max_failed_share * len(turns):
        raise _explained(ModelsUnusable(f"round {round_no}: {len(failed):,} of {len(turns):,} turns failed (more than "
                             f"max_failed_share {cfg.max_failed_share:g}); the latest: {failed[-1].error}"), models)


class _Status:
    """`<seed save>/status.json` for the monitor: the round in play and its turns done, written at a round's start
    and end and at most every `every_s` seconds between (a failed write costs the monitor its figures, never the
    game). The state of the game itself is the answer log; this is only how far the round in play got."""

    def __init__(self, save: GameSave, rounds: int, every_s: float = 2.0):
        self.path, self.every_s, self.last = save.root / "status.json", every_s, 0.0
        self.doc: dict[str, Any] = {"schema": 1, "kind": "game", "state": "running", "round": 0, "rounds": rounds,
                                    "players": save.players, "turns_done": 0, "round_started": None,
                                    "process": {"pid": os.getpid(), "host": socket.gethostname()}}

    def write(self, force: bool = False, **changes: Any) -> None:
        self.doc.update(changes)
        now = time.time()
        if not force and now - self.last < self.every_s:
            return
        self.last = self.doc["updated"] = now
        try:
            atomic_write_json(self.path, self.doc)
        except OSError as exc:
            log.warning("status.json not written (%s)", exc)

    def turns(self, done: int) -> None:
        self.write(turns_done=self.doc["turns_done"] + done)


class _Bar:
    """The progress line of a round (tqdm on stderr), or nothing."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            # disable=None: no bar where stderr is not a terminal (a log file, a pipe)
            self.bar = tqdm(total=total, desc=label, unit="turn", file=sys.stderr, leave=False, mininterval=0.5,
                            disable=None)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


async def play_seed(save: GameSave, cfg: GuessSettings, pool: Pool, view: WorkerModels, *, concurrency: int,
                    progress: bool = True, say: Callable[[str], None] = print) -> None:
    """Play a seed's save from the round after its last committed one to the end, on the pool's workers."""
    seed = int(save.manifest["seed"])
    players = seat(cfg, seed)
    if len(players) != save.players:
        raise SaveError(save.root / "manifest.json", f"{save.players} players were seated, the settings now seat "
                        f"{len(players)} (was the population file changed?)")
    rounds = save.rounds()
    pasts = _pasts(rounds, players)
    log = CallLog(save.calls_path, from_round=len(rounds) + 1)
    session = datetime.now().isoformat(timespec="seconds")
    status = _Status(save, cfg.rounds)
    finished = False
    try:
        for round_no in range(len(rounds) + 1, cfg.rounds + 1):
            bar = _Bar(progress, len(players), f"seed {seed} round {round_no}/{cfg.rounds}")
            status.write(force=True, round=round_no, turns_done=0, round_started=time.time(), workers=pool.status())

            def on_turns(done: int, bar: _Bar = bar) -> None:
                bar.update(done)
                status.turns(done)

            asked, restarts = log.asked, pool.restarts
            before = (log.asked_usage.prompt_tokens, log.asked_usage.completion_tokens, log.asked_usage.requests)
            started = time.perf_counter()
            try:
                played = await play_round_on(pool, log, players, pasts, round_no, seed=seed, concurrency=concurrency,
                                             max_failed=int(cfg.max_failed_share * len(players)), view=view,
                                             on_turns=on_turns)
            except ModelsUnusable as exc:
                raise _explained(exc, view) from None
            finally:
                bar.close()
            wall = time.perf_counter() - started
            turns = played.turns
            _check_failures(turns, round_no, cfg, view)
            score = score_turns(turns, players, cfg)
            save.commit_round(round_no, turns, round_event(round_no, turns, score))
            now = log.asked_usage
            timing = {"session": session, "r": round_no, "wall_s": round(wall, 3), "turns": len(turns),
                      "calls_asked": log.asked - asked, "calls_reused": played.reused,
                      "requests": now.requests - before[2], "prompt_tokens": now.prompt_tokens - before[0],
                      "completion_tokens": now.completion_tokens - before[1], "workers": pool.size}
            if pool.restarts - restarts or played.redone:
                timing.update(worker_restarts=pool.restarts - restarts, calls_redone=played.redone)
            save.append_timing(timing)
            for i, turn in enumerate(turns):
                pasts[i].append(PastTurn(round_no, turn.said, score.announced, score.team_won))
            valid = sum(1 for t in turns if t.status == "ok")
            mean = scoring.describe([t.number for t in turns if t.number is not None and t.status == "ok"]).mean
            say(f"seed {seed} round {round_no}: {valid:,}/{len(turns):,} valid, mean "
                f"{'-' if mean is None else f'{mean:.2f}'}, target "
                f"{'-' if score.target is None else f'{score.target:.2f}'} ({wall:.1f} s)")
        save.mark_complete()
        finished = True
    finally:
        status.write(force=True, state="finished" if finished else "stopped",
                     round=cfg.rounds if finished else status.doc["round"], workers=pool.status())
        log.close()


def _study_doc(settings: GameFile, seeds: list[int]) -> dict[str, Any]:
    return {"format": STUDY_FORMAT, "version": 1, "smallville": __version__, "game": "guess",
            "settings": settings.game.model_dump(mode="json"), "inference": masked_inference(settings.inference),
            "seeds": seeds, "scale": settings.scale.model_dump(mode="json")}


def _manifest(settings: GameFile, seed: int, players: int) -> dict[str, Any]:
    cfg = settings.game
    groups = {name: 0 for name in ([g.name for g in cfg.models] or ["default"])}
    for player in seat(cfg, seed):
        groups[player.model] += 1
    return {"game": "guess", "smallville": __version__, "created": datetime.now().isoformat(timespec="seconds"),
            "seed": seed, "players": players, "groups": groups, "settings": cfg.model_dump(mode="json"),
            "equilibrium": cfg.equilibrium, "inference": masked_inference(settings.inference),
            "population": _population_facts(cfg)}


def _refuse_embedded_on_cluster(settings: GameFile, override: Override) -> None:
    scale = settings.scale
    if override is None and scale.uses_ray and scale.cluster_address and settings.inference.uses_embedded_server:
        raise ScaleError("the embedded model listens on this machine only: a game on a Ray cluster needs "
                         "[[inference.endpoints]] (vLLM servers, docs/scale.md)")


def _group_inference(settings: GameFile, override: Override, stack: contextlib.ExitStack) -> InferenceSettings:
    """The inference settings the workers open their models with. More than one worker and no endpoint: the
    embedded servers are started here, once, and every worker on this machine asks them."""
    inference, scale = settings.inference, settings.scale
    if override is not None or not scale.uses_ray or not inference.uses_embedded_server:
        return inference
    _refuse_embedded_on_cluster(settings, override)
    from smallville.inference.local import embedded_endpoints, start_servers

    return inference.model_copy(update={"endpoints": embedded_endpoints(start_servers(stack))})


async def _play_all(out: Path, settings: GameFile, seeds: list[int], *, progress: bool, override: Override,
                    say: Callable[[str], None]) -> None:
    cfg, scale = settings.game, settings.scale
    view = WorkerModels()
    pool: Pool | None = None
    try:
        with contextlib.ExitStack() as servers:
            inference = _group_inference(settings, override, servers)
            factory = GameGroupFactory(inference, cfg, override, scale.workers, scale.batch_s if scale.uses_ray else 0,
                                       endpoint_keys(inference) if scale.uses_ray else {})
            async with open_pool(scale, factory, label="game") as pool:
                described = pool.workers[0].facts.get("group") or {}
                say(f"models: {'; '.join(f'{k}: {v}' for k, v in described.items())}")
                if scale.uses_ray:
                    say(f"workers: {pool.description}")
                concurrency = cfg.concurrency or planned_concurrency(inference, cfg, override)
                for seed in seeds:
                    root = seed_dir(out, seed)
                    if (root / "manifest.json").exists():
                        save = GameSave.open_for_writing(root)
                        if save.manifest.get("complete"):
                            save.release()
                            continue
                    else:
                        players = len(seat(cfg, seed))
                        save = GameSave.create(root, _manifest(settings, seed, players))
                    try:
                        await play_seed(save, cfg, pool, view, concurrency=concurrency, progress=progress, say=say)
                    finally:
                        save.release()
    finally:
        if pool is not None:
            # the workers' final accounting (as their groups closed), over what their progress last carried
            for final in pool.finals:
                view.note(final["origin"], final["accounting"])
            entry: dict[str, Any] = {"session": datetime.now().isoformat(timespec="seconds"),
                                     "groups": view.accounting()}
            if scale.uses_ray:
                entry["workers"] = pool.status()
                entry["by_worker"] = dict(sorted(view.snapshots.items()))
            add_accounting(out / "inference.json", entry)


def start_study(out: Path, settings: GameFile, *, progress: bool = True, override: Override = None,
                say: Callable[[str], None] = print) -> dict[str, Any]:
    """Play a new study into `out` (absent or empty) and write its report; returns report.json's content."""
    from smallville.games import report

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SaveError(out, "exists and is not empty: resume it (smallville game resume) or choose another --out")
    cfg = settings.game
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    seat(cfg, seeds[0])  # a population that cannot seat the players is refused before anything is made
    _refuse_embedded_on_cluster(settings, override)
    check(settings.scale)  # no Ray for the workers, a cluster that does not answer: refused before anything is made
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SaveError(out, f"cannot make the folder ({exc.strerror or exc})") from None
    atomic_write_json(out / STUDY, _study_doc(settings, seeds))
    asyncio.run(_play_all(out, settings, seeds, progress=progress, override=override, say=say))
    return report.write_report(out)


def resume_study(out: Path, *, config: Path | None = None, progress: bool = True, override: Override = None,
                 say: Callable[[str], None] = print, workers: int | None = None,
                 address: str | None = None) -> dict[str, Any]:
    """Go on with a study: every seed's save from the round it stopped in; then the report. It goes on with the
    workers it was started with, unless `config`'s `[scale]` or the flags (`workers`, `address`) say otherwise."""
    from smallville.games import report

    settings = study_settings(out, config)
    settings = settings.model_copy(update={"scale": settings.scale.with_flags(workers, address)})
    _refuse_embedded_on_cluster(settings, override)
    check(settings.scale)
    seeds = [int(s) for s in read_study(out)["seeds"]]
    asyncio.run(_play_all(out, settings, seeds, progress=progress, override=override, say=say))
    return report.write_report(out)
