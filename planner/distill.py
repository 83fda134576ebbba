"""Distillation: what a corrected task teaches, as knowledge records for later tasks.

At the end of a task the corrections it took are turned into general statements (after
DROC): a preference or a resolved retarget becomes task knowledge ("red objects go in the
green bowl"), and the skill parameters that corrections left in force become skill
knowledge for that kind of object ("when picking cylinders, grip with 60 N"). The
embedded planner distills from the structured interpretation here; LLM backends ask
their model (`planner.chat`) and fall back on this when its answer is unusable.
A taught word ("when I say aside, I mean the left side") is kept as its meaning, a
never-rule ("never put cans in the white bowl") or a stacking order ("blue always goes at
the bottom, then red") as the rule. Undo and
unclear corrections teach nothing general, nor does anything said "just this time"; plan
fixes are kept as said.
"""

from __future__ import annotations

import math
import re
from typing import Any

from memory.records import SKILL, TASK, KnowledgeRecord
from planner.context import TaskCorrection
from planner.language.grounding import NounPhrase
from planner.language.lexicon import GRASPABLE, category_of, plural, singular
from planner.language.meanings import parse_meaning
from planner.language.never_rules import NeverRule, never_statement, parse_never
from planner.language.orders import (
    STACK,
    arranged_order,
    order_statement,
    parse_order,
    row_order,
)
from planner.language.rules import (
    ONCE,
    PlacementRule,
    habit_rule,
    parse_rule,
    plain,
    resolve_retarget,
    scope_question,
    strip_replan_lead,
)
from planner.outcome import FINISHED, CorrectedTask, SkillLesson

SCENE_SPECIFIC = ("offset",)  # where on a target, not how to handle a kind of object
_GERUND = {"pick": "picking", "place": "placing", "push": "pushing"}
_PHRASES = {
    "force": lambda v: f"grip with {v:g} N",
    "grasp_height": lambda v: f"grasp {100 * v:.1f} cm above the table",
    "approach_height": lambda v: f"approach from {100 * v:.1f} cm above",
    "yaw": lambda v: f"turn the gripper {math.degrees(v):.0f} degrees",
    "speed": lambda v: f"move at {v:.2f} m/s",
    "release_height": lambda v: f"let go {100 * v:.1f} cm above the target",
}


def distill(task: CorrectedTask) -> list[KnowledgeRecord]:
    """Knowledge records from a task's corrections (none unless the task ended done)."""
    if task.status not in FINISHED:
        return []
    records = [r for c in task.corrections if (r := _task_record(task, c)) is not None]
    records += [r for lesson in task.skills if (r := _skill_record(task, lesson)) is not None]
    return records


def _task_record(task: CorrectedTask, correction: TaskCorrection) -> KnowledgeRecord | None:
    if ONCE.search(correction.text.lower()):
        return None
    meaning = parse_meaning(correction.text) if correction.intent == "meaning" else None
    if meaning is not None:
        return KnowledgeRecord(
            TASK,
            meaning.statement(),
            {"rule": "meaning", "phrase": meaning.phrase, "means": meaning.means},
            task.context(()),
            task.provenance(correction.text),
        )
    if correction.intent == "never":
        return _never_record(task, correction)
    if correction.intent == "order":
        return _order_record(task, correction)
    question = scope_question(correction)
    if question is not None:  # "it always goes in the green bowl", and what was answered
        answer = next((a for q, a in task.answers if q == question), None)
        rule = habit_rule(correction, answer)
    elif correction.intent == "preference":
        rule = parse_rule(correction.text)
    elif correction.intent == "retarget":
        rule = resolve_retarget(correction)
        if rule is not None:  # "the other bowl" for this red block: red blocks go there
            rule = PlacementRule(rule.objects, rule.target, rule.relation)
    elif correction.intent == "replan":
        return KnowledgeRecord(
            TASK,
            f"when asked to {task.instruction}, first {strip_replan_lead(correction.text)}",
            {"rule": "plan", "when": task.instruction, "first": strip_replan_lead(correction.text)},
            task.context(correction.scene),
            task.provenance(correction.text),
        )
    else:
        return None
    if rule is None or not (plain(rule.objects) and plain(rule.target)):
        return None  # a statement of colours and kinds would say more than was meant
    dest = rule.destination(task.scene)
    concerned = [o for o in task.scene if rule.applies(o) or (dest and o.name == dest.name)]
    return KnowledgeRecord(
        TASK,
        rule_statement(rule),
        _placement("destination", rule),
        task.context(concerned),
        task.provenance(correction.text),
    )


def _never_record(task: CorrectedTask, correction: TaskCorrection) -> KnowledgeRecord | None:
    """A never-rule, kept when it is said as one ("never", "keep ... out of", "nothing")
    or about a kind of object; "don't put the red block in the blue bowl" is for now."""
    rule = parse_never(correction.text)
    if rule is None or not (plain(rule.objects) and plain(rule.target)):
        return None
    said = re.search(r"\b(?:never|ever|nothing|keep)\b", correction.text.lower())
    if not (said or rule.objects.plural or rule.objects.every):
        return None
    places = {o.name for o in rule.places(task.scene)}
    concerned = [o for o in task.scene if o.name in places or rule.covers(o)]
    return KnowledgeRecord(
        TASK,
        never_statement(rule),
        _placement("never", rule),
        task.context(concerned),
        task.provenance(correction.text),
    )


def _order_record(task: CorrectedTask, correction: TaskCorrection) -> KnowledgeRecord | None:
    """A taught stacking order, for the kinds and colours of objects it names."""
    moved = {name for name, _, _ in correction.moved}
    row = [o for o in correction.scene if o.name in moved and o.category in GRASPABLE]
    rule = (
        parse_order(correction.text)
        or row_order(correction.text, row)
        or arranged_order(correction.text, task.instruction, task.scene)
    )
    if rule is None or not all(plain(i) for i in rule.items):
        return None
    concerned = [o for o in task.scene if rule.rank(o) is not None]
    return KnowledgeRecord(
        TASK,
        order_statement(rule),
        {"rule": "order", "order": [_attributes(i) for i in rule.items]}
        | ({"way": rule.way} if rule.way != STACK else {}),
        task.context(concerned),
        task.provenance(correction.text),
    )


def _skill_record(task: CorrectedTask, lesson: SkillLesson) -> KnowledgeRecord | None:
    params = {
        k: (round(v, 4) if isinstance(v, float) else v)
        for k, v in lesson.params.items()
        if k not in SCENE_SPECIFIC and k in _PHRASES and v is not None
    }
    if not params:
        return None
    category = lesson.obj.category
    doing = _GERUND.get(lesson.skill, f"using {lesson.skill} on")
    phrases = ", ".join(_PHRASES[k](v) for k, v in sorted(params.items()))
    return KnowledgeRecord(
        SKILL,
        f"when {doing} {plural(category)}, {phrases}",
        {"skill": lesson.skill, "params": params, "applies_to": {"category": category}},
        task.context([lesson.obj]),
        task.provenance("; ".join(lesson.said)),
    )


def rule_statement(rule: PlacementRule) -> str:
    """A rule in plain words, in the form `parse_rule` reads back: "red objects go in the
    green bowl", "cans go in the top left corner"."""
    if rule.region is not None:  # "cans go in the top left corner"
        return f"{_plural_phrase(rule.objects)} go in the {rule.region}"
    relation = {"near": "next to"}.get(rule.relation, rule.relation)
    only = "only " if rule.only else ""
    return f"{only}{_plural_phrase(rule.objects)} go {relation} {_the(rule.target)}"


def _plural_phrase(np_: NounPhrase) -> str:
    noun = plural(_noun(np_)) if np_.category else "objects"
    return " ".join([*([np_.size_word] if np_.size_word else []), *np_.colors, noun])


def _the(np_: NounPhrase) -> str:
    return " ".join(["the", *np_.colors, _noun(np_) if np_.category else "object"])


def _noun(np_: NounPhrase) -> str:
    """The person's own word for a known kind ("can", "mat"), else the category's name:
    later instructions tend to use the same words, which helps retrieval."""
    word = singular(np_.word) if np_.word else ""
    return word if word and category_of(word) == np_.category else str(np_.category)


def _placement(rule_kind: str, rule: PlacementRule | NeverRule) -> dict[str, Any]:
    """The change of a rule about where objects of a kind go (or never go)."""
    change = {
        "rule": rule_kind,
        "object": _attributes(rule.objects),
        "target": _attributes(rule.target),
        "relation": rule.relation,
    }
    if isinstance(rule, PlacementRule) and rule.region is not None:
        change["region"] = rule.region
    if isinstance(rule, PlacementRule) and rule.only:
        change["only"] = True
    if isinstance(rule, NeverRule) and rule.unless is not None:
        change["unless"] = _attributes(rule.unless)
    return change


def _attributes(np_: NounPhrase) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if np_.category:
        out["category"] = np_.category
    if np_.colors:
        out["color"] = np_.colors[0] if len(np_.colors) == 1 else list(np_.colors)
    if np_.size_word:
        out["size"] = np_.size_word
    return out
