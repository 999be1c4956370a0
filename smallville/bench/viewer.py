"""`smallville bench viewer`: how fast the window draws and how fast a replay jumps.

- `frame_ms_p50` / `frame_ms_p99` (target p99 <= 16 ms, i.e. 60 frames/s): one turn of the replay window's
  loop (input, update, draw; not the display flip, which the dummy driver does not do) at 1280x720 with the
  Ville's 25 residents, playing at 10 game minutes per second. Three camera cases, 1,200 frames in all:
  the whole town (zoom 0.75), a close view that stays still, and a close view following the morning's
  longest walk (the map layer is redrawn every frame). Measured with SDL's dummy video driver.
- `frame_ms_p99_live`: the live window while the simulation thinks: the 25 from midnight against the fake
  server (1 s a call, scripted answers), frames measured from 07:00, when the town wakes and talks, at
  10 game minutes per second (the run on its thread beside the window; `live_calls` made by then).
- `open_s`: opening a 2-game-day save (reading and indexing its log); `seek_ms_p99` / `seek_ms_max`
  (target <= 300 ms): jumping to 100 random moments of it, each time a new scene folded from the nearest
  kept one.

The save is the Ville's 25 on their routines for two game days (`--save DIR` measures a save of your own,
e.g. a generative run). Prints nothing; the CLI prints the figures.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


class Sizes(NamedTuple):
    """How much the benchmark measures."""

    save_hours: float  # the routine save replayed (when no --save is given)
    seeks: int  # jumps to random moments of it
    frames: int  # per camera case of the replay window
    live_frames: int
    live_from_minutes: int  # game minutes into the live run when its frames start (07:00: the town wakes)


#: The figures' sizes, quick (`--quick`, a smoke test) or not; a test makes them tiny.
SIZES = {False: Sizes(48, 100, 400, 900, 7 * 60), True: Sizes(12, 20, 100, 200, 7 * 60)}


def _routine_days(root: Path, hours: float) -> Path:
    from smallville.config import load_settings
    from smallville.run import drive, new_run

    settings = load_settings(None, {"agents": {"mind": "routine"}})
    save, sim = new_run(root / "routine", settings, hours)
    drive(save, sim, save.manifest["target_tick"], progress=False)
    return save.root


def _frames(viewer: Any, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        viewer.frame([], 1 / 60)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _live_frames(n: int, from_minutes: int) -> dict[str, Any]:
    """Frames of the live window while the 25 think against the fake server (1 s a call, scripted answers,
    in its own process), from `from_minutes` into the run (07:00 for the figures: the town wakes and talks)."""
    from smallville.viewer.app import headless

    headless()  # before pygame is imported: no display, and its greeting off (`smallville.viewer`)
    import pygame

    from smallville.config import load_settings
    from smallville.inference.settings import InferenceSettings
    from smallville.run import new_run
    from smallville.run.control import Control
    from smallville.testing.fake_server import FakeServerProcess
    from smallville.testing.scripted import answer as SCRIPTED
    from smallville.viewer.app import SPEEDS, Viewer
    from smallville.viewer.sources import LiveSource

    with FakeServerProcess(latency_s=1.0, answers=SCRIPTED) as server, tempfile.TemporaryDirectory() as tmp:
        inference = InferenceSettings.model_validate({"endpoints": [{
            "name": "fake", "base_url": server.base_url, "model": "fake-model", "max_concurrency": 4096,
            "timeout_s": 30.0}]})  # validated as a config file's would be (the URL a string here)
        settings = load_settings(None, {}).model_copy(update={"inference": inference})
        save, sim = new_run(Path(tmp) / "live", settings, 24)
        control = Control(speed=None)
        viewer = Viewer(LiveSource(save, sim, save.manifest["target_tick"], control), (1280, 720))
        viewer.camera.zoom_index = 3
        while viewer.at < sim.clock.ticks(from_minutes) and not control.finished.is_set():
            viewer.frame([], 1 / 60)
            time.sleep(0.01)
        viewer.pace(SPEEDS.index(10))
        start_at = viewer.at
        frames = []
        for _ in range(n):
            started = time.perf_counter()
            viewer.frame([], 1 / 60)
            frames.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, 1 / 60 - frames[-1] / 1000))
        calls = control.models.accounting.snapshot()["totals"]["calls"] if control.models else 0
        game_minutes = round((viewer.at - start_at) * sim.clock.tick_seconds / 60, 1)
        viewer.running = False
        control.hurry = True  # the figures are taken: the thoughts under way are cancelled, not waited for
        viewer.close()
        pygame.display.quit()
    return {"frames": frames, "calls": calls, "game_minutes": game_minutes}


def bench_viewer(quick: bool = False, save: Path | None = None) -> dict[str, Any]:
    sizes = SIZES[quick]
    from smallville.viewer.app import headless

    headless()  # before pygame is imported: no display, and its greeting off (`smallville.viewer`)
    import pygame

    from smallville.core.events import Walk
    from smallville.viewer.app import SPEEDS, Viewer
    from smallville.viewer.sources import ReplaySource

    with tempfile.TemporaryDirectory() as tmp:
        root = save or _routine_days(Path(tmp), sizes.save_hours)
        started = time.perf_counter()
        source = ReplaySource.open(root)
        open_s = time.perf_counter() - started
        rng = random.Random(7)
        seeks = []
        for _ in range(sizes.seeks):
            tick = rng.randint(source.first, source.last)
            started = time.perf_counter()
            source.scene_at(tick)
            seeks.append((time.perf_counter() - started) * 1000)

        pygame.init()
        morning = source.first + source.clock.ticks(8 * 60)
        viewer = Viewer(source, (1280, 720), start=morning)
        viewer.pace(SPEEDS.index(10))
        viewer.playing = True
        n = sizes.frames
        _frames(viewer, 30)  # caches warm (sprites, labels)
        viewer.camera.zoom_index = 1
        overview = _frames(viewer, n)
        viewer.camera.zoom_index = 4
        busy = max(viewer.scene.figures.values(), key=lambda f: f.tile(int(viewer.at))[1])
        x, y = busy.tile(int(viewer.at))
        viewer.camera.look_at(x * 16, y * 16)
        still = _frames(viewer, n)
        # Follow the longest walk of the morning, from its start: the camera moves every frame.
        walk = max((e for e in source.timeline.events if isinstance(e, Walk) and e.t >= morning),
                   key=lambda e: len(e.path))
        viewer.go_to(walk.t)
        viewer.selected = viewer.camera.following = walk.who
        following = _frames(viewer, n)
        pygame.quit()
    live = _live_frames(sizes.live_frames, sizes.live_from_minutes)
    every = overview + still + following
    return {
        "frame_ms_p99_live": round(float(np.percentile(live["frames"], 99)), 2),
        "live_game_minutes": live["game_minutes"],
        "live_calls": live["calls"],
        "frame_ms_p50": round(float(np.percentile(every, 50)), 2),
        "frame_ms_p99": round(float(np.percentile(every, 99)), 2),
        "frame_ms_p99_overview": round(float(np.percentile(overview, 99)), 2),
        "frame_ms_p99_close": round(float(np.percentile(still, 99)), 2),
        "frame_ms_p99_following": round(float(np.percentile(following, 99)), 2),
        "frames": len(every),
        "save_events": len(source.timeline.events),
        "save_game_hours": round((source.last - source.first) / source.clock.ticks_per_hour, 1),
        "open_s": round(open_s, 3),
        "seek_ms_p50": round(float(np.percentile(seeks, 50)), 2),
        "seek_ms_p99": round(float(np.percentile(seeks, 99)), 2),
        "seek_ms_max": round(max(seeks), 2),
    }
