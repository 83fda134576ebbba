"""What a reader of the words (the offline parser) found in a task's instruction, shown
to a chat model beside the scene: the towers and rows whose order the words give, and the
objects they pick out by position, size, rank or relation or name in other words than the
scene's ("the only can" is the purple cylinder).

A small model reads "the third can from the front" off a list of coordinates badly and
"X on top" as X first; the parser's grounding of the same words is the one `find()` uses
at run time, so the model is told what it gives instead of working it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.goals import Layout


@dataclass(frozen=True)
class Pick:
    """Objects words pick out in the scene they were said of ("the can furthest from me"
    is the red cylinder)."""

    words: str
    names: tuple[str, ...]

    def line(self) -> str:
        """The pick as the task turn says it."""
        if len(self.names) == 1:
            return f'"{self.words}" is the {self.names[0]}.'
        return f'"{self.words}" are the {", ".join(self.names)}.'


@dataclass(frozen=True)
class Reading:
    """A reading of a task's words: `layouts` (towers and rows in the order the words give)
    and `picks` (objects the words single out)."""

    layouts: tuple[Layout, ...] = ()
    picks: tuple[Pick, ...] = ()


UNREAD = Reading()
"""The reading of words nobody read: nothing found."""
