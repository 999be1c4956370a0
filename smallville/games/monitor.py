"""The round games on the monitor's page: a game study (`study.json`) and each seed's save (`manifest.json`,
format `smallville-game`), read from their files alone, plus the `status.json` a playing seed writes.

Owns what the page says about a game: kind, variant, players, rounds done of the total, seeds done, state
(running / finished / stopped / crashed, from the save's lock as for a town run), the latest committed
round's histogram of answers (bin k holds [k, k+1), 101 bins for 0..100; wider bins past 101), the mean and
the target per round, and the invalid and failed turns.

Layering: games import the monitor, never the reverse. The monitor names this module in
`app.READER_MODULES` and calls `register()`; nothing in `smallville/monitor` imports `smallville.games`.

Cost: the answer log of a 10,000-player round can be many megabytes, so it is read incrementally (each log's
tally remembers the offset it reached; only new bytes are parsed) and at most `BUDGET_BYTES` per log per look;
a log not read to its end yet says how far it got. Rows (the list) never parse the log: rounds done come from
the status, `timing.jsonl` (one short line per round) and the manifest's `complete`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from smallville.monitor import readers as rd
from smallville.monitor.files import Found, mtime
from smallville.monitor.readers import Context

STUDY_FORMAT = "smallville-game-study"
ANSWERS = "answers.jsonl"
TIMING = "timing.jsonl"
REPORT = "report.json"
#: bytes of one answer log parsed per look (about 30 ms of JSON): a huge round never makes the page slow
BUDGET_BYTES = 4 << 20
MAX_BINS = 101
ROUNDS_SHOWN = 200


# -- the answer log, read incrementally ------------------------------------------------------------------------

@dataclass
class RoundTally:
    r: int
    bins: list[int]
    n: int = 0
    total: float = 0.0
    invalid: int = 0
    failed: int = 0
    answers: int = 0
    target: float | None = None
    winner: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


@dataclass
class LogTally:
    """What one answer log says so far: its committed rounds, and where reading stopped."""

    bins: int
    width: float
    offset: int = 0
    line: int = 0
    ino: int | None = None
    rounds: list[RoundTally] = field(default_factory=list)
    pending: RoundTally | None = None
    problem: str | None = None
    size: int = 0

    def _reset(self, ino: int | None) -> None:
        self.offset = self.line = self.size = 0
        self.rounds, self.pending, self.problem, self.ino = [], None, None, ino

    def _new(self, r: int) -> RoundTally:
        return RoundTally(r, [0] * self.bins)

    def advance(self, path: Path, budget: int = BUDGET_BYTES) -> None:
        try:
            st = path.stat()
        except OSError:
            self.problem = "the answer log is missing"
            return
        if st.st_ino != self.ino or st.st_size < self.offset:  # a new file, or cut back by a resume
            self._reset(st.st_ino)
        self.size = st.st_size
        if st.st_size <= self.offset:
            return
        with path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read(min(budget, st.st_size - self.offset))
            if b"\n" not in chunk and len(chunk) == budget:
                chunk += f.readline()  # one line longer than the budget: read it whole
        end = chunk.rfind(b"\n")
        if end < 0:
            return  # a line still being written (or a torn tail): not committed
        lines = chunk[:end].split(b"\n")
        for i, raw in enumerate(lines):
            try:
                event = json.loads(raw)
                kind = event["k"]
                if kind == "answer":
                    self._answer(event)
                elif kind == "round":
                    if not self._round(event):
                        self._reset(st.st_ino)  # they do not add up: read it again from the start
                        return
                else:
                    raise ValueError(f"unknown event {kind!r}")
            except (ValueError, KeyError, TypeError) as exc:
                rest = b"\n".join(lines[i + 1:])
                if b'"k":"round"' in rest or self.offset + end + 1 < st.st_size:
                    self.problem = f"answers.jsonl line {self.line + i + 1}: corrupt event ({exc})"
                consumed = sum(len(x) + 1 for x in lines[:i])
                self.offset += consumed
                self.line += i
                return
        self.offset += end + 1
        self.line += len(lines)
        self.problem = None

    def _answer(self, event: dict[str, Any]) -> None:
        r = int(event["r"])
        if self.pending is None or self.pending.r != r:
            self.pending = self._new(r)
        tally = self.pending
        tally.answers += 1
        number = event.get("number")
        if event.get("status") == "ok" and isinstance(number, (int, float)):
            tally.n += 1
            tally.total += float(number)
            k = min(self.bins - 1, max(0, int(float(number) // self.width)))
            tally.bins[k] += 1

    def _round(self, event: dict[str, Any]) -> bool:
        """Commit the pending answers as round `r`; False when they do not add up (read the log again)."""
        r = int(event["r"])
        tally = self.pending if self.pending is not None and self.pending.r == r else self._new(r)
        if r != len(self.rounds) + 1 or tally.answers != int(event.get("players", tally.answers)):
            return False
        tally.invalid, tally.failed = int(event.get("invalid", 0)), int(event.get("failed", 0))
        target = event.get("target")
        tally.target = float(target) if isinstance(target, (int, float)) else None
        winner = event.get("winner")
        tally.winner = float(winner) if isinstance(winner, (int, float)) else None
        self.rounds.append(tally)
        self.pending = None
        return True


_TALLIES: dict[Path, LogTally] = {}
_TALLY_LOCK = threading.Lock()


def tally_of(save: Path, max_value: int, budget: int = BUDGET_BYTES) -> LogTally:
    """The answer log's tally, advanced by at most `budget` bytes (one look at a time per log)."""
    bins = min(max_value + 1, MAX_BINS)
    width = (max_value + 1) / bins
    path = save / ANSWERS
    with _TALLY_LOCK:
        tally = _TALLIES.get(path)
        if tally is None or tally.bins != bins:
            tally = _TALLIES[path] = LogTally(bins, width)
            if len(_TALLIES) > 512:
                _TALLIES.pop(next(iter(_TALLIES)))
        tally.advance(path, budget)
        return tally


def _timing(save: Path, ctx: Context) -> list[dict[str, Any]]:
    """timing.jsonl's entries (one short line per round and session; torn lines skipped), cached by mtime."""
    path = save / TIMING
    key = ("game-timing", str(path))
    try:
        st = path.stat()
    except OSError:
        return []
    stamp = (st.st_size, st.st_mtime_ns)
    hit = _TIMING_CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    out: list[dict[str, Any]] = []
    if st.st_size <= (4 << 20):
        for line in path.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
    _TIMING_CACHE[key] = (stamp, out)
    return out


_TIMING_CACHE: dict[Any, tuple[tuple[int, int], list[dict[str, Any]]]] = {}


# -- one seed's save ---------------------------------------------------------------------------------------------

def _settings(manifest: dict[str, Any] | None) -> dict[str, Any]:
    settings = (manifest or {}).get("settings")
    return settings if isinstance(settings, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    """A JSON object read from a file, or {} for anything else (a monitor reads what is there)."""
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def detect(folder: Path) -> bool:
    """A game save killed while it was being made: an answer log (or the manifest's temporary file), no manifest."""
    names = set(os.listdir(folder))
    return ANSWERS in names and "manifest.json" not in names and "events.jsonl" not in names


class GameReader:
    """One seed's save: `<study>/seed-N/`."""

    kind = "game"

    def read(self, found: Found, ctx: Context) -> dict[str, Any]:
        memo = ctx.memo.get(("game", found.id))
        if memo is not None:
            return memo
        row = rd.base_row(found, "round game, seed")
        row["_"] = {}
        if found.problem or found.manifest is None:
            if not found.problem:
                row.update(state="corrupt", why="no manifest.json: the game was stopped while its save was being "
                                                "made (start it again: smallville game guess with the same --out)")
                row["health"] = {"level": "bad", "text": row["why"]}
            ctx.memo[("game", found.id)] = row
            return row
        manifest = found.manifest
        cfg = _settings(manifest)
        total = _int(cfg.get("rounds"), 1)
        players = _int(manifest.get("players"))
        status, status_problem = rd.status_of(found, ctx)
        complete = manifest.get("complete") is True
        state, why, writer = rd.run_state(found, ctx, complete=complete)
        timing = _timing(found.path, ctx)
        done = total if complete else max((_int(t.get("r")) for t in timing), default=0)
        live = status if state == "running" and status else {}
        if live:
            done = max(done, _int(live.get("round")) - 1)
        turns = _int(live.get("turns_done")) if live else 0
        fraction = min(1.0, (done + (turns / players if players and live else 0)) / total) if total else None
        walls = [float(t["wall_s"]) for t in timing[-5:] if isinstance(t.get("wall_s"), (int, float))]
        eta = (sum(walls) / len(walls)) * (total - done) if state == "running" and walls else None
        if state == "running" and live:
            why = f"round {done + 1} of {total}: {turns:,} of {players:,} turns ({why})"
        row.update(state=state, why=why, progress=1.0 if complete else fraction,
                   game_time=f"round {min(done + (0 if complete else 1), total)}/{total}", eta_s=eta,
                   started=(writer.since if writer else None) or mtime(found.path / "manifest.json"),
                   variant=cfg.get("variant"), players=players, rounds=total, rounds_done=done,
                   seed=manifest.get("seed"), turns_done=turns if live else None)
        if status_problem:
            row["health"] = {"level": "warn", "text": status_problem}
        else:
            row["health"] = {"level": "bad" if state == "crashed" else "ok" if state in ("running", "finished")
                             else "idle", "text": why}
        row["_"] = {"status": status, "writer": writer}
        ctx.memo[("game", found.id)] = row
        return row

    def row(self, found: Found, ctx: Context) -> dict[str, Any]:
        return {k: v for k, v in self.read(found, ctx).items() if k != "_"}

    def detail(self, found: Found, ctx: Context) -> dict[str, Any]:
        row = self.row(found, ctx)
        if row["state"] == "corrupt":
            return {**row, "blocks": [rd.note(f"This folder cannot be read: {row['why']}. The monitor shows it as "
                                              "it is and changes nothing.", "bad")]}
        manifest = found.manifest or {}
        cfg = _settings(manifest)
        tally = tally_of(found.path, _int(cfg.get("max_value"), 100))
        if tally.problem:
            row["health"] = {"level": "bad", "text": tally.problem}
        blocks = [rd.cards(None, _cards(row, tally))]
        blocks += game_blocks(tally, row)
        groups = _dict(manifest.get("groups"))
        blocks.append(rd.kv("Settings", [(k, rd.safe_value(k, cfg.get(k))) for k in (
            "variant", "ratio", "offset", "instruction", "parse", "announce", "history", "temperature",
            "max_value", "population") if k in cfg] + [("seed", manifest.get("seed")), ("players", row["players"])]
            + [(f"model group {g}", n) for g, n in groups.items()]))
        status = _dict(self.read(found, ctx)["_"].get("status"))
        workers = [w for w in status.get("workers") or [] if isinstance(w, dict)]
        if len(workers) > 1 or any(w.get("node") != "this machine" for w in workers):
            # a game on Ray: where its group actors run, and how often each was restarted
            rows = [{"worker": _int(w.get("worker")) + 1, "node": str(w.get("node")), "host": str(w.get("host")),
                     "pid": w.get("pid"), "restarts": _int(w.get("restarts"))} for w in workers]
            blocks.append(rd.table("Workers: the group actors", [
                ("worker", "actor", "int"), ("node", "node", "text"), ("host", "host", "text"), ("pid", "pid", "int"),
                ("restarts", "restarts", "int")], rows, key="workers",
                note="as of the round in play (status.json); a lost actor is restarted and its shard played again"))
        return {**row, "blocks": blocks}


def _cards(row: dict[str, Any], tally: LogTally) -> list[dict[str, Any]]:
    last = tally.rounds[-1] if tally.rounds else None
    return [
        {"key": "progress", "label": "progress", "value": row["progress"], "fmt": "frac",
         "sub": f"{row['rounds_done']} of {row['rounds']} rounds"},
        {"key": "variant", "label": "variant", "value": row.get("variant"), "fmt": "text",
         "sub": f"{row['players']:,} players"},
        {"key": "round", "label": "round", "value": row["game_time"], "fmt": "text",
         "sub": f"{row['turns_done']:,} turns in" if row.get("turns_done") is not None else None},
        {"key": "mean", "label": "mean, latest round", "value": last.mean if last else None, "fmt": "num",
         "sub": f"target {last.target:.2f}" if last and last.target is not None else None},
        {"key": "invalid", "label": "invalid / failed",
         "value": f"{last.invalid:,} / {last.failed:,}" if last else None,
         "fmt": "text", "tone": "warn" if last and (last.invalid or last.failed) else "",
         "sub": f"of {last.answers:,} turns, round {last.r}" if last else None},
        {"key": "eta", "label": "time left", "value": row.get("eta_s"), "fmt": "dur",
         "sub": "at the last rounds' pace"},
    ]


def game_blocks(tally: LogTally, row: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """The histogram of the latest committed round, the mean and target per round, and the rounds' table."""
    blocks: list[dict[str, Any]] = []
    behind = tally.size - tally.offset
    reading = (f"read {tally.offset / 2**20:,.1f} of {tally.size / 2**20:,.1f} MB of the answer log so far; "
               "the rest on the next refreshes") if behind > (1 << 16) else None
    last = tally.rounds[-1] if tally.rounds else None
    if last is not None:
        blocks.append(rd.histogram(f"{prefix}Answers, round {last.r}", last.bins, tally.width,
                                marks={"mean": last.mean, "target": last.target}, key="histogram",
                                note=reading or f"{last.n:,} valid answers, {last.invalid:,} invalid, "
                                                f"{last.failed:,} failed"))
        shown = tally.rounds[-ROUNDS_SHOWN:]
        blocks.append(rd.series(f"{prefix}Mean per round", [
            {"name": "mean", "points": [[t.r, t.mean] for t in shown]},
            {"name": "target", "points": [[t.r, t.target] for t in shown]}], key="means",
            x_max=row.get("rounds"), y_max=tally.width * tally.bins - 1))
        blocks.append(rd.table(f"{prefix}Rounds", [
            ("r", "round", "int"), ("n", "valid", "int"), ("mean", "mean", "num"), ("target", "target", "num"),
            ("winner", "winning answer", "num"), ("invalid", "invalid", "int"), ("failed", "failed", "int")],
            [{"r": t.r, "n": t.n, "mean": t.mean, "target": t.target, "winner": t.winner, "invalid": t.invalid,
              "failed": t.failed} for t in reversed(tally.rounds[-20:])], key="rounds",
            note="the latest 20 rounds" if len(tally.rounds) > 20 else None))
    elif reading:
        blocks.append(rd.note(reading))
    else:
        blocks.append(rd.note("No round committed yet: the histogram shows once the first round is written "
                              "(a round is committed whole)."))
    if tally.problem:
        blocks.insert(0, rd.note(tally.problem, "bad"))
    return blocks


# -- the study: several seeds ------------------------------------------------------------------------------------

def _seeds(found: Found, ctx: Context) -> list[Found]:
    seeds = (found.manifest or {}).get("seeds")
    names = [f"seed-{s}" for s in seeds if isinstance(s, int)] if isinstance(seeds, list) else []
    out = []
    for name in names[:1000]:
        folder = found.path / name
        if folder.is_dir():
            child = rd.identify(folder, ctx.root, ctx.cache)
            if child is not None:
                out.append(child)
    return out


class GameStudyReader:
    kind = "game-study"
    seed = GameReader()

    def read(self, found: Found, ctx: Context) -> tuple[dict[str, Any], list[tuple[Found, dict[str, Any]]]]:
        memo = ctx.memo.get(("game-study", found.id))
        if memo is not None:
            return cast(tuple[dict[str, Any], list[tuple[Found, dict[str, Any]]]], memo)
        row = rd.base_row(found, "round game")
        doc = found.manifest or {}
        cfg = _dict(doc.get("settings"))
        planned = [s for s in doc.get("seeds", []) if isinstance(s, int)] if isinstance(doc.get("seeds"), list) else []
        seeds = [(s, self.seed.read(s, ctx)) for s in _seeds(found, ctx)]
        rounds = _int(cfg.get("rounds"), 1)
        report, problem = ctx.cache.read(found.path / REPORT)
        states = [r["state"] for _, r in seeds]
        running = [r for _, r in seeds if r["state"] == "running"]
        finished = sum(1 for s in states if s == "finished")
        if running:
            state, why = "running", running[0]["why"]
            why = f"seed {running[0]['seed']}, {why}"
        elif isinstance(report, dict) and finished == len(planned):
            state, why = "finished", "every seed played, report written"
        elif "crashed" in states:
            state, why = "crashed", f"a seed's writer died: smallville game resume {found.path}"
        elif "corrupt" in states:
            state, why = "stopped", "a seed's save cannot be read (see its row)"
        else:
            state, why = "stopped", f"stopped before its end: smallville game resume {found.path}"
        done = sum(r.get("rounds_done") or 0 for _, r in seeds)
        turns = sum((r.get("turns_done") or 0) / max(1, r.get("players") or 1) for r in running)
        total = rounds * max(1, len(planned))
        players = max((r.get("players") or 0 for _, r in seeds), default=0) or cfg.get("agents")
        row.update(state=state, why=why, progress=1.0 if state == "finished" else min(1.0, (done + turns) / total),
                   game_time=f"seed {finished}/{len(planned)}, rounds {done}/{total}",
                   eta_s=running[0].get("eta_s") if running else None,
                   started=min((r["started"] for _, r in seeds if r.get("started")), default=mtime(found.path)),
                   variant=cfg.get("variant"), players=players, rounds=rounds, rounds_done=done, seeds=len(planned),
                   seeds_done=finished)
        bad = next((r for _, r in seeds if r["health"]["level"] in ("bad", "warn")), None)
        if problem not in (None, "missing"):
            row["health"] = {"level": "warn", "text": f"report.json: {problem}"}
        elif bad is not None:
            row["health"] = {"level": bad["health"]["level"], "text": f"{bad['name']}: {bad['health']['text']}"}
        else:
            row["health"] = {"level": "ok" if state in ("running", "finished") else "idle", "text": why}
        result = (row, seeds)
        ctx.memo[("game-study", found.id)] = result
        return result

    def row(self, found: Found, ctx: Context) -> dict[str, Any]:
        return self.read(found, ctx)[0]

    def detail(self, found: Found, ctx: Context) -> dict[str, Any]:
        if found.problem:
            return rd.corrupt_detail(found)
        row, seeds = self.read(found, ctx)
        doc = found.manifest or {}
        cfg = _dict(doc.get("settings"))
        blocks: list[dict[str, Any]] = [rd.cards(None, [
            {"key": "progress", "label": "progress", "value": row["progress"], "fmt": "frac",
             "sub": f"{row['rounds_done']} of {row['rounds'] * max(1, row['seeds'])} rounds"},
            {"key": "variant", "label": "variant", "value": row.get("variant"), "fmt": "text",
             "sub": f"{row['players'] or 0:,} players"},
            {"key": "seeds", "label": "seeds done", "value": f"{row['seeds_done']} / {row['seeds']}", "fmt": "text"},
            {"key": "phase", "label": "now", "value": row["why"], "fmt": "text"},
            {"key": "eta", "label": "seed's time left", "value": row.get("eta_s"), "fmt": "dur"},
        ])]
        blocks.append(rd.table("Seeds", [("name", "seed", "link"), ("state", "state", "pill"),
                                         ("progress", "progress", "frac"), ("round", "round", "text"),
                                         ("players", "players", "int"), ("why", "", "text")],
                               [{"name": r["name"], "link": s.id, "state": r["state"], "progress": r["progress"],
                                 "round": r["game_time"], "players": r.get("players"), "why": r["why"]}
                                for s, r in seeds], key="seeds", note=None if seeds else "no seed has started yet"))
        # the seed playing now, else the latest with a round committed
        current = next((s for s, r in seeds if r["state"] == "running"), None)
        if current is None:
            current = next((s for s, r in reversed(seeds) if (r.get("rounds_done") or 0) > 0), None)
        if current is not None and current.manifest is not None:
            seed_row = dict(ctx.memo[("game", current.id)])
            tally = tally_of(current.path, _int(_settings(current.manifest).get("max_value"), 100))
            blocks += game_blocks(tally, seed_row, prefix=f"{current.path.name}: ")
        report, _ = ctx.cache.read(found.path / REPORT)
        if isinstance(report, dict) and isinstance(report.get("aggregate"), list):
            rows = []
            for agg in report["aggregate"][-ROUNDS_SHOWN:]:
                if not isinstance(agg, dict):
                    continue
                mean = _dict(agg.get("mean"))
                target = _dict(agg.get("target"))
                rows.append({"r": agg.get("r"), "mean": mean.get("mean"), "ci95": mean.get("ci95"),
                             "target": target.get("mean")})
            blocks.append(rd.table("The report: mean per round over the seeds", [
                ("r", "round", "int"), ("mean", "mean", "num"), ("ci95", "± 95%", "num"), ("target", "target", "num")],
                rows, key="report", note="report.json beside summary.md and the plots"))
        blocks.append(rd.kv("Settings", [(k, rd.safe_value(k, cfg.get(k))) for k in (
            "variant", "ratio", "offset", "instruction", "parse", "announce", "history", "temperature", "rounds",
            "seeds", "population") if k in cfg]))
        return {**row, "blocks": blocks}


def register() -> None:
    rd.register(GameReader(), detect=detect)
    rd.register(GameStudyReader())
