"""The simulated teleoperator: answers the planner's questions from an episode's script.

It plays the user in evaluation: `answers:` entries are tried in order and the first
whose `match` text occurs in the question gives the reply; otherwise "I don't know".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.suite import Episode

UNKNOWN_ANSWER = "I don't know"


@dataclass
class SimulatedTeleoperator:
    """Answers questions for one episode and remembers what it was asked."""

    episode: Episode
    asked: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, question: str) -> str:
        text = question.lower()
        reply = next(
            (a.say for a in self.episode.answers if a.match.lower() in text), UNKNOWN_ANSWER
        )
        self.asked.append((question, reply))
        return reply
