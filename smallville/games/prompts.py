"""What a player of "guess p of the average" is told, and the shape its answer must take.

Owns the variants (after Pan et al. 2024 and AgentScope's `configs/prompt.json`, in our words):
- P1: the rules; "report your number directly".
- P2: the rules; "think step by step, then report your number".
- P3: P2 + the note "all players are rational".
- P4: P3 + "all players try to guess the others' strategies and adjust their own".
- P5: P2 played in character: the person's background from the population file (with none written, a line
  made from the person's attributes), and "stay true to your background".
- P6: P2 with the players split into groups (three by default) whose means compete: the group whose average
  is closest to the target wins, with all its members.
- P7: P2 with the target "5 plus 1/2 of the average" (equilibrium 10).
The ratio (`2/3`, `1/2`, `51/100`), the "variation of a famous game" note and the instruction (direct or
step by step) are knobs of their own, so the ratio tests are any variant with another ratio.

A later round adds the announcement of the previous round's winning number to the conversation: in
`history = "chat"` (AgentScope's agents keep their memory) every earlier question and the player's own
answer stay in it; in `"announce"` only the latest announcement is said.

The answer: by default ONE structured call whose schema holds the number (bounded 0..max_value, so a number
out of range is an invalid answer that is re-asked with the reason) and, when thinking step by step, the
reasoning first (a model writes fields in order, so it reasons before it commits to a number). `two-call`
parsing asks for free text, then extracts the number with a second structured call, as the paper does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, create_model

from smallville.games.config import GuessSettings
from smallville.inference.base import Message

TEAM_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Player:
    """One agent of a game: who it is (from the population, or just a number) and where its calls go."""

    id: int
    name: str
    model: str  # the model group whose pool answers its calls
    attributes: dict[str, str] = field(default_factory=dict)
    background: str | None = None
    team: str | None = None  # P6


@dataclass(frozen=True)
class PastTurn:
    """What a player said in an earlier round and what was announced after it (its conversation so far)."""

    round: int
    said: str | None  # the player's own reply as the model wrote it; None when its call failed
    announced: float | None  # None: no valid number was reported that round
    team_won: str | None = None


def background_text(player: Player) -> str:
    """The background a P5 player plays: the written one, else a line from its attributes."""
    if player.background and player.background.strip():
        return player.background.strip()
    facts = "; ".join(f"{key}: {value}" for key, value in sorted(player.attributes.items()))
    return f"You are {player.name}." + (f" {facts}." if facts else "")


def target_phrase(cfg: GuessSettings) -> str:
    ratio = cfg.ratio or "2/3"
    offset = cfg.offset or 0.0
    return f"{offset:g} plus {ratio} of the average" if offset else f"{ratio} of the average"


def system_prompt(cfg: GuessSettings, player: Player) -> str:
    """The rules as the player reads them (the system message)."""
    in_character = cfg.variant == "P5"
    head = ("You are playing a role in a game with many other players. Behave as the person described below.\n\n"
            f"# Your background\n{background_text(player)}\n\n") if in_character else \
        "You are playing a game with many other players.\n\n"
    rules: list[str] = []
    if cfg.famous_note:
        rules.append('This game is a variation of the famous "guess 2/3 of the average" game.')
    rules.append(f"Each player reports a real number between 0 and {cfg.max_value}, inclusive.")
    phrase = target_phrase(cfg)
    if cfg.variant == "P6":
        names = TEAM_NAMES[: cfg.groups]
        listed = ", ".join(names[:-1]) + f" and {names[-1]}"
        rules.append(f"The players are split into {cfg.groups} groups, {listed}; you are in group {player.team}.")
        rules.append(f"The group whose average number is closest to {phrase} of all reported numbers wins, and "
                     "every member of that group wins.")
    else:
        rules.append(f"The winner is the player whose number is closest to {phrase} of all reported numbers.")
    notes: list[str] = []
    if in_character:
        notes.append("Stay true to your background in the game.")
    if cfg.variant in ("P3", "P4"):
        notes.append("All players are rational.")
    if cfg.variant == "P4":
        notes.append("All players try to guess the others' strategies and adjust their own.")
    text = head + "# Rules\n" + "".join(f"{i}. {rule}\n" for i, rule in enumerate(rules, 1))
    if notes:
        text += "\n# Notes\n" + "".join(f"{i}. {note}\n" for i, note in enumerate(notes, 1))
    return text


def instruction(cfg: GuessSettings) -> str:
    if cfg.instruction == "direct":
        return "Report your number directly, with nothing else."
    return "Think step by step, then report your number."


def announcement(turn: PastTurn) -> str:
    if turn.announced is None:
        return f"No valid number was reported in round {turn.round}. Let's move on to the next round."
    team = f" Group {turn.team_won} won it." if turn.team_won else ""
    return (f"The winning number of round {turn.round} is {turn.announced:.2f}.{team} "
            "Let's move on to the next round.")


def messages(cfg: GuessSettings, player: Player, past: Sequence[PastTurn]) -> list[Message]:
    """The conversation of the player's turn this round."""
    ask = instruction(cfg)
    chat = [Message("system", system_prompt(cfg, player))]
    if cfg.history == "announce":
        chat.append(Message("user", f"{announcement(past[-1])}\n{ask}" if past else ask))
        return chat
    chat.append(Message("user", ask))
    for turn in past:
        if turn.said is not None:
            chat.append(Message("assistant", turn.said))
        chat.append(Message("user", f"{announcement(turn)}\n{ask}"))
    return chat


# -- answers ------------------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a model adding a field of its own still answered


@lru_cache(maxsize=64)
def answer_model(max_value: int, reasoned: bool) -> type[BaseModel]:
    """The structured answer: `{"number": x}` or `{"reasoning": "...", "number": x}`, 0 <= x <= max_value."""
    number = (float, Field(ge=0, le=max_value, description=f"your number, from 0 to {max_value}"))
    if reasoned:
        return create_model("ReasonedGuess", __base__=_Answer,
                            # no maxLength: max_tokens bounds it, and llama.cpp grammars blow up on long ones
                            reasoning=(str, Field(description="your step-by-step thinking")),
                            number=number)
    return create_model("Guess", __base__=_Answer, number=number)


class Extracted(_Answer):
    """The second call of `two-call` parsing: the number a reply reports, or null when it reports none."""

    number: float | None = Field(description="the number the speaker reports as their answer, or null")


def extraction_messages(reply: str) -> list[Message]:
    """The paper's second call: extract the number from the player's reply (asked as structured output)."""
    return [Message("system", f"Extract the number the speaker gives as their answer in the text below.\n\n{reply}"),
            Message("user", "Give the extracted number. If the text reports no number, give null.")]
