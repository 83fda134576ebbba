"""The simulated teleoperator: the user of an evaluation episode, played from its script.

After every Observation (and when the planner calls ``done()``) it checks the episode's
``user:`` rules in order; the first rule whose ``violated`` predicate should hold but
does not gives its ``say`` text as a correction — at most ``max_corrections`` per
episode, and never the same rule twice in a row without an action in between. It answers
``ask`` questions from the ``answers:`` list (the first entry whose ``match`` text occurs
in the question), and says "I don't know" otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from perception.predicates import Predicate
from sim.suite import Episode

UNKNOWN_ANSWER = "I don't know"

Holds = Callable[[Predicate], bool]


@dataclass
class SimulatedTeleoperator:
    """Answers questions and gives corrections for one episode.

    Attributes:
        episode: the scripted episode.
        holds: evaluates a predicate on the true world state.
        asked: (question, answer) pairs so far.
        corrections: correction texts given so far.
    """

    episode: Episode
    holds: Holds | None = None
    asked: list[tuple[str, str]] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    _last_rule: int | None = None

    def answer(self, question: str) -> str:
        text = question.lower()
        reply = next(
            (a.say for a in self.episode.answers if a.match.lower() in text), UNKNOWN_ANSWER
        )
        self.asked.append((question, reply))
        return reply

    def correct(self, acted: bool) -> str | None:
        """The correction to give now, if any; `acted` says whether the robot moved since."""
        if self.holds is None or len(self.corrections) >= self.episode.max_corrections:
            return None
        if acted:
            self._last_rule = None
        for index, rule in enumerate(self.episode.user):
            if self.holds(rule.violated):
                continue
            if index == self._last_rule:
                return None  # said already; wait for the robot to act on it
            self._last_rule = index
            self.corrections.append(rule.say)
            return rule.say
        return None
