"""Playing a study: the seeds of one game, round after round, each seed a save, and the report at the end.

Owns the drive: make (or reopen) each seed's save, seat its players, play its rounds one after another
(`play.play_round`, which returns the answers in player order), score each round (`scoring.py`), commit it to
the answer log, and go on until the last round; then write the report. A round is committed whole, so a run
stopped anyhow (Ctrl-C, kill -9, a model that cannot answer) resumes at the round it was in: `resume_study`
reopens the saves, takes the players' earlier turns from the log, and plays that round again, with every
call already recorded in it answered from the recording (`calls.py`), not asked again.

Why the seeds share one session's models: one embedded server (or one set of pools) for the whole study.
"""

from __future__ import annotations

import asyncio
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
from typing import Any

from smallville import __version__
from smallville.errors import ConfigError, SaveError
from smallville.files import atomic_write_json
from smallville.games import scoring
from smallville.games.calls import CallBook
from smallville.games.config import GameFile, GuessSettings
from smallville.games.models import ModelGroups, Override, open_models
from smallville.games.play import Turn, play_round
from smallville.games.prompts import PastTurn, Player
from smallville.games.roster import seat
from smallville.games.store import GameSave, add_accounting
from smallville.inference.base import ModelsUnusable
from smallville.inference.settings import InferenceSettings, apply_env, display_url, is_masked_url

log = logging.getLogger(__name__)
STUDY = "study.json"
STUDY_FORMAT = "smallville-game-study"
WINNERS_KEPT = 100  # ids of winners in a round event (the rest are in the answers: all who said the number)


def masked_inference(inference: InferenceSettings) -> dict[str, Any]:
    """The inference settings as a save may hold them: a key hiding in a URL masked (never a key itself)."""
    data = inference.model_dump(mode="json")
    for endpoint in data["endpoints"]:
        endpoint["base_url"] = display_url(endpoint["base_url"])
    if data.get("embedding"):
        data["embedding"]["base_url"] = display_url(data["embedding"]["base_url"])
    return data


def seed_dir(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


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


def round_event(round_no: int, turns: list[Turn], score: scoring.RoundScore) -> dict[str, Any]:
    return {"k": "round", "r": round_no, "players": len(turns),
            "valid": sum(1 for t in turns if t.status == "ok"),
            "invalid": sum(1 for t in turns if t.status == "invalid"),
            "failed": sum(1 for t in turns if t.status == "failed"),
            "target": score.target, "winner": score.winner, "winners_n": len(score.winners),
            "winners": score.winners[:WINNERS_KEPT], "announced": score.announced, "team_won": score.team_won,
            "team_means": score.team_means}


def score_turns(turns: list[Turn], players: list[Player], cfg: GuessSettings) -> scoring.RoundScore:
    numbers = [t.number if t.status == "ok" else None for t in turns]
    teams = [p.team for p in players] if cfg.variant == "P6" and players else None
    return scoring.score_round(numbers, [t.agent for t in turns], cfg.ratio_fraction, cfg.offset_fraction,
                               cfg.announce, teams)


def _explained(exc: ModelsUnusable, models: ModelGroups) -> ModelsUnusable:
    """The stop's message with how the requests failed at each endpoint (HTTP 500, timeouts...)."""
    failed = models.failed_requests()
    if not failed:
        return exc
    message = str(exc)
    prefix = f"[{exc.endpoint}] "
    if exc.endpoint and message.startswith(prefix):
        message = message[len(prefix):]
    return ModelsUnusable(f"{message}; failed requests: {failed}", exc.endpoint)


def _check_failures(turns: list[Turn], round_no: int, cfg: GuessSettings, models: ModelGroups) -> None:
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

    def turn(self, _: Turn) -> None:
        self.write(turns_done=self.doc["turns_done"] + 1)


class _Bar:
    """The progress line of a round (tqdm on stderr), or nothing."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            # disable=None: no bar where stderr is not a terminal (a log file, a pipe)
            self.bar = tqdm(total=total, desc=label, unit="turn", file=sys.stderr, leave=False, mininterval=0.5,
                            disable=None)

    def update(self, turn: Turn) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


async def play_seed(save: GameSave, cfg: GuessSettings, models: ModelGroups, *, progress: bool = True,
                    say: Callable[[str], None] = print) -> None:
    """Play a seed's save from the round after its last committed one to the end."""
    seed = int(save.manifest["seed"])
    players = seat(cfg, seed)
    if len(players) != save.players:
        raise SaveError(save.root / "manifest.json", f"{save.players} players were seated, the settings now seat "
                        f"{len(players)} (was the population file changed?)")
    rounds = save.rounds()
    pasts = _pasts(rounds, players)
    book = CallBook(save.calls_path)
    concurrency = cfg.concurrency or models.concurrency
    session = datetime.now().isoformat(timespec="seconds")
    status = _Status(save, cfg.rounds)
    finished = False
    try:
        for round_no in range(len(rounds) + 1, cfg.rounds + 1):
            bar = _Bar(progress, len(players), f"seed {seed} round {round_no}/{cfg.rounds}")
            status.write(force=True, round=round_no, turns_done=0, round_started=time.time())

            def on_turn(turn: Turn, bar: _Bar = bar) -> None:
                bar.update(turn)
                status.turn(turn)

            asked, reused = book.asked, book.reused
            before = (book.asked_usage.prompt_tokens, book.asked_usage.completion_tokens, book.asked_usage.requests)
            started = time.perf_counter()
            try:
                turns = await play_round(players, pasts, round_no, cfg, models, book, seed=seed,
                                         concurrency=concurrency, on_turn=on_turn,
                                         max_failed=int(cfg.max_failed_share * len(players)))
            except ModelsUnusable as exc:
                raise _explained(exc, models) from None
            finally:
                bar.close()
            wall = time.perf_counter() - started
            _check_failures(turns, round_no, cfg, models)
            score = score_turns(turns, players, cfg)
            save.commit_round(round_no, turns, round_event(round_no, turns, score))
            now = book.asked_usage
            save.append_timing({"session": session, "r": round_no, "wall_s": round(wall, 3), "turns": len(turns),
                                "calls_asked": book.asked - asked, "calls_reused": book.reused - reused,
                                "requests": now.requests - before[2], "prompt_tokens": now.prompt_tokens - before[0],
                                "completion_tokens": now.completion_tokens - before[1]})
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
                     round=cfg.rounds if finished else status.doc["round"])
        book.close()


def _study_doc(settings: GameFile, seeds: list[int]) -> dict[str, Any]:
    return {"format": STUDY_FORMAT, "version": 1, "smallville": __version__, "game": "guess",
            "settings": settings.game.model_dump(mode="json"), "inference": masked_inference(settings.inference),
            "seeds": seeds}


def _manifest(settings: GameFile, seed: int, players: int) -> dict[str, Any]:
    cfg = settings.game
    groups = {name: 0 for name in ([g.name for g in cfg.models] or ["default"])}
    for player in seat(cfg, seed):
        groups[player.model] += 1
    return {"game": "guess", "smallville": __version__, "created": datetime.now().isoformat(timespec="seconds"),
            "seed": seed, "players": players, "groups": groups, "settings": cfg.model_dump(mode="json"),
            "equilibrium": cfg.equilibrium, "inference": masked_inference(settings.inference),
            "population": _population_facts(cfg)}


async def _play_all(out: Path, settings: GameFile, seeds: list[int], *, progress: bool, override: Override,
                    say: Callable[[str], None]) -> None:
    cfg = settings.game
    async with open_models(settings.inference, cfg, override=override) as models:
        say(f"models: {'; '.join(f'{k}: {v}' for k, v in models.describe().items())}")
        try:
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
                    await play_seed(save, cfg, models, progress=progress, say=say)
                finally:
                    save.release()
        finally:
            add_accounting(out / "inference.json", {"session": datetime.now().isoformat(timespec="seconds"),
                                                    "groups": models.accounting()})


def start_study(out: Path, settings: GameFile, *, progress: bool = True, override: Override = None,
                say: Callable[[str], None] = print) -> dict[str, Any]:
    """Play a new study into `out` (absent or empty) and write its report; returns report.json's content."""
    from smallville.games import report

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SaveError(out, "exists and is not empty: resume it (smallville game resume) or choose another --out")
    cfg = settings.game
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    seat(cfg, seeds[0])  # a population that cannot seat the players is refused before anything is made
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SaveError(out, f"cannot make the folder ({exc.strerror or exc})") from None
    atomic_write_json(out / STUDY, _study_doc(settings, seeds))
    asyncio.run(_play_all(out, settings, seeds, progress=progress, override=override, say=say))
    return report.write_report(out)


def read_study(out: Path) -> dict[str, Any]:
    path = out / STUDY
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SaveError(path, "not a game study (no study.json); give the folder `smallville game guess` made") \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SaveError(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != STUDY_FORMAT:
        raise SaveError(path, "not a game study")
    return doc


def study_settings(out: Path, config: Path | None = None) -> GameFile:
    """The settings a study was started with; its endpoints from `config` when given (or when the study holds
    them masked), since endpoints are where the models are now."""
    from smallville.games.config import read_document, validate

    doc = read_study(out)
    try:
        cfg = GuessSettings.model_validate(doc["settings"])
    except (ValueError, KeyError) as exc:
        raise SaveError(out / STUDY, f"settings: {exc}") from None
    if config is not None:  # its [inference] only: the game's settings are the study's, whatever [game] says
        inference = validate({"inference": read_document(config).get("inference", {})}, str(config)).inference
    else:
        saved = InferenceSettings.model_validate(doc.get("inference") or {})
        if any(is_masked_url(e.base_url) for e in saved.endpoints):
            raise ConfigError(f"{out / STUDY}: its endpoint URLs held a key and are kept masked; give the config that "
                              "names them: smallville game resume DIR --config FILE")
        inference = apply_env(saved)
    return GameFile(game=cfg, inference=inference)


def resume_study(out: Path, *, config: Path | None = None, progress: bool = True, override: Override = None,
                 say: Callable[[str], None] = print) -> dict[str, Any]:
    """Go on with a study: every seed's save from the round it stopped in; then the report."""
    from smallville.games import report

    settings = study_settings(out, config)
    seeds = [int(s) for s in read_study(out)["seeds"]]
    asyncio.run(_play_all(out, settings, seeds, progress=progress, override=override, say=say))
    return report.write_report(out)
