"""``find("leftmost block")`` and ``find_all("blocks but the red one")`` in a reply, read
as the names they give in the scene the task began with.

The program calls them at run time (`planner.api`); the goal line and the checks of a reply
against itself need the names before it runs, and get them here from the same grounding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from planner.api import DESCRIBED
from planner.language.grounding import GroundingError, find_described
from skills.objects import ObjectState


def ground(
    text: str, scene: Sequence[ObjectState], current: Sequence[ObjectState] = ()
) -> tuple[str, list[str]]:
    """`text` with each find()/find_all() call replaced by the name (a list of names) it
    gives in `scene`, and why each call that could not be grounded was left as written."""
    problems: list[str] = []

    def name(m: re.Match[str]) -> str:
        many = m.group("fn") == "find_all"
        try:
            found = [o.name for o in find_described(m.group("words"), scene, current, many)]
        except GroundingError as error:
            problems.append(f"{m.group('fn')}(): {error}")
            return m.group(0)
        return json.dumps(found) if many else json.dumps(found[0])

    return DESCRIBED.sub(name, text), problems
