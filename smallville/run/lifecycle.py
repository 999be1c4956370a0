"""A save's life: a new run made ready, a stopped or crashed one checked and cut back for resuming, and the
checkpoints written on the way (vectors first, then the state).

Every check a resume makes comes before any byte changes, and a refusal lets the writer lock go; a run
killed before its first checkpoint starts again from its settings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from smallville import __version__
from smallville.config import Settings
from smallville.core.sim import Simulation
from smallville.errors import SaveError
from smallville.persist.save import Save
from smallville.run.assemble import first_tick, load, make_mind, manifest_settings, with_economy

log = logging.getLogger(__name__)


def new_run(save_dir: Path, settings: Settings, hours: float) -> tuple[Save, Simulation]:
    settings = with_economy(settings)
    world = load(settings)
    target = round(hours * world.clock.ticks_per_hour)
    manifest = {
        "smallville": __version__,
        "seed": settings.sim.seed,
        "settings": manifest_settings(settings),
        "world": world.town.world,
        "map": {"path": settings.town.map, "sha256": world.town.data.sha256},
        "residents": {"path": settings.town.residents, "sha256": world.residents_sha256,
                      "names": [r.name for r in world.residents]},
        "target_tick": target,
    }
    save = Save.create(save_dir, manifest)  # holds the writer lock until the drive lets go
    try:
        sim = first_tick(settings, world)
        checkpoint(save, sim, 0, 0)
    except BaseException:
        save.release_lock()
        raise
    return save, sim


def open_for_resume(save_dir: Path) -> tuple[Save, Simulation, int]:
    """Check a save and rebuild its simulation at the newest checkpoint.

    Returns the save, the simulation and the number of log bytes after the checkpoint that will be
    simulated again. The save's writer lock is taken first (a save another process writes is refused
    before it is even read) and kept on the returned save; nothing is modified until every check has
    passed, and a refusal lets the lock go.
    """
    save = Save.open_for_writing(save_dir)
    try:
        sim, redo = _check_for_resume(save)
    except BaseException:
        save.release_lock()
        raise
    return save, sim, redo


def _check_for_resume(save: Save) -> tuple[Simulation, int]:
    manifest_path = save.root / "manifest.json"
    settings = save.settings()
    world = load(settings)
    expected = save.manifest.get("map", {}).get("sha256")
    if world.town.data.sha256 != expected:
        raise SaveError(manifest_path, f"the save was made on another map (the map file "
                                       f"{world.town.data.path} has changed or differs); not resumed")
    if world.residents_sha256 != save.manifest.get("residents", {}).get("sha256"):
        raise SaveError(manifest_path, "the residents file has changed since this save was made; not resumed")
    scan = save.read_log()  # reads everything: corruption anywhere stops us before any change
    if not save.checkpoint_ticks() and not scan.events and not scan.torn_tail_bytes:
        # Killed while the run was being made, before its first checkpoint: nothing happened yet, so the run
        # starts again from its settings (resume_run writes that first checkpoint).
        log.info("the save has no checkpoint and no events yet: starting the run from its beginning")
        save.resume_point = {"tick": 0, "log_bytes": 0, "calls_bytes": 0}
        return first_tick(settings, world), 0
    newest = save.latest_checkpoint()
    cut = int(newest["log_bytes"])
    problems = save.check_log(scan, newest)  # the same check inspect and eval make
    if problems:
        raise problems[0].error("not resumed")
    vectors = save.read_vectors(int(newest["tick"]))
    if vectors is None and settings.agents.mind == "generative":
        raise SaveError(save.checkpoints_dir, f"the checkpoint at tick {newest['tick']} has no memory vectors "
                                              f"(tick-{int(newest['tick']):09d}.vectors.npz); not resumed")
    try:
        sim = Simulation.from_state(world.town, world.residents, newest["state"], clock=world.clock,
                                    mind=make_mind(settings, world, vectors))
    except (ValueError, KeyError, TypeError) as exc:  # a state this version cannot read (the mind says which)
        raise SaveError(save.checkpoints_dir / f"tick-{int(newest['tick']):09d}.json",
                        f"{exc}; not resumed") from None
    redo = save.events_path.stat().st_size - cut
    save.resume_point = {k: int(newest[k]) for k in ("tick", "log_bytes", "calls_bytes") if k in newest}
    # thoughts kept as their inputs start again: the calls they made before the checkpoint are made again
    jobs = newest["state"].get("mind", {}).get("jobs", []) if isinstance(newest["state"].get("mind"), dict) \
        else []
    save.resume_point["restart"] = sorted(int(j["id"]) for j in jobs if j.get("result") is None)
    return sim, redo


def resume_run(save_dir: Path) -> tuple[Save, Simulation]:
    """Open a save for resuming (every check first) and cut its log and recording back to the checkpoint.
    The save comes back holding the writer lock: the drive that follows lets it go."""
    save, sim, redo = open_for_resume(save_dir)
    try:
        if redo:
            log.info("resuming at tick %d: %d bytes of events after the checkpoint will be simulated again",
                     sim.tick, redo)
        assert save.resume_point is not None
        save.cut_back(save.resume_point)
        if not save.checkpoint_ticks():  # a run killed before its first checkpoint starts from the beginning
            checkpoint(save, sim, 0, 0)
    except BaseException:
        save.release_lock()
        raise
    return save, sim


def checkpoint(save: Save, sim: Simulation, tick: int, log_bytes: int) -> None:
    """Vectors first (a checkpoint without its vectors is never the newest), then the JSON state, which
    also records the length of `calls.jsonl` (the recorder flushes every call as it ends). Thoughts still in
    flight go into the state as their inputs and start again on a resume from it: so a checkpoint never
    waits for the model, and the calls they made so far may be in that length (and made again on resume,
    with the same answers from a recording)."""
    if sim.mind.thinks:
        save.write_vectors(tick, sim.mind.vectors())
    save.write_checkpoint(tick, log_bytes, sim.state())
