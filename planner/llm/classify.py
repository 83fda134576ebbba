"""Reading a correction with the planner's model, for what the patterns could not read.

The model answers with one JSON object: ``{"kind": "stop"}``, ``{"kind": "task", "intent":
...}`` or ``{"kind": "skill", "changes": [{"skill", "param", "op", "value"}, ...]}``. A
backend that can constrain decoding gets a grammar that admits only such objects, with the
skills' real parameter names; every reply is validated again here, so an unusable one
reads as None (the pattern reading stands).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planner.llm.base import ChatMessage

TASK_INTENTS = ("retarget", "replan", "preference", "undo", "unclear")
OPS = ("set", "add", "scale")
UNITS = "heights and offsets in metres, force in newtons, speed in m/s, yaw in degrees"

PROMPT = """A person is correcting a robot arm while it works on: {instruction}
The robot's last program was:
{code}
The person said: "{text}"
What kind of correction is it?
- "stop": halt now.
- "task": about what to do - intent "retarget" (other object or place), "replan" (do
  something first or in another order), "preference" (a rule for the future), "undo"
  (put back what was moved) or "unclear".
- "skill": about how a skill moves - parameter changes (op "set", "add" or "scale") of
  {params}; {units}. Words about manner ("slowly", "gently", "carefully") are skill
  changes, never a stop.
Reply with one JSON object only, e.g. {{"kind": "skill", "changes": [{{"skill": "pick",
"param": "speed", "op": "scale", "value": 0.5}}]}} or {{"kind": "task", "intent":
"retarget"}}."""


@dataclass(frozen=True)
class ModelReading:
    """What the model read: kind, intent and parameter changes (skill, param, op, value)."""

    kind: str
    intent: str
    changes: tuple[tuple[str, str, str, float], ...] = ()


def _params_text(params: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{skill}: {', '.join(names)}" for skill, names in params.items())


def messages(
    text: str, instruction: str, code: str, params: Mapping[str, Sequence[str]]
) -> list[ChatMessage]:
    """The chat asking the model to classify `text`."""
    return [
        ChatMessage.user(
            PROMPT.format(
                instruction=instruction,
                code=code or "(none yet)",
                text=text,
                params=_params_text(params),
                units=UNITS,
            )
        )
    ]


def _alternatives(words: Sequence[str]) -> str:
    return " | ".join(json.dumps(json.dumps(w)) for w in words)


def grammar(params: Mapping[str, Sequence[str]]) -> str:
    """GBNF admitting exactly the JSON replies `parse` accepts (field order fixed)."""
    changes = " | ".join(f"change-{skill}" for skill in params)
    lines = [
        "root ::= stop | task | skill",
        'stop ::= "{\\"kind\\": \\"stop\\"}"',
        'task ::= "{\\"kind\\": \\"task\\", \\"intent\\": " intent "}"',
        f"intent ::= {_alternatives(TASK_INTENTS)}",
        'skill ::= "{\\"kind\\": \\"skill\\", \\"changes\\": [" change (", " change){0,3} "]}"',
        f"change ::= {changes}",
        f"op ::= {_alternatives(OPS)}",
        'number ::= "-"? [0-9]{1,3} ("." [0-9]{1,4})?',
    ]
    for skill, names in params.items():
        lines.append(
            f'change-{skill} ::= "{{\\"skill\\": \\"{skill}\\", \\"param\\": " param-{skill} '
            '", \\"op\\": " op ", \\"value\\": " number "}"'
        )
        lines.append(f"param-{skill} ::= {_alternatives(names)}")
    return "\n".join(lines) + "\n"


def _json_object(text: str) -> dict | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def parse(text: str, params: Mapping[str, Sequence[str]]) -> ModelReading | None:
    """The reading in a reply, or None when it is not a valid one."""
    data = _json_object(text)
    if data is None:
        return None
    kind = data.get("kind")
    if kind == "stop":
        return ModelReading("stop", "stop")
    if kind == "task":
        intent = data.get("intent")
        return ModelReading("task", intent) if intent in TASK_INTENTS else None
    if kind != "skill" or not isinstance(data.get("changes"), list) or not data["changes"]:
        return None
    changes = []
    for change in data["changes"]:
        if not isinstance(change, dict):
            return None
        skill, param, op, value = (change.get(k) for k in ("skill", "param", "op", "value"))
        if skill not in params or param not in params[skill] or op not in OPS:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        changes.append((skill, param, op, float(value)))
    return ModelReading("skill", "param", tuple(changes))
