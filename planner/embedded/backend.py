"""The `embedded` backend: the offline default, no LLM.

It parses the instruction into frames, grounds every phrase in the scene and compiles
code-as-policy. When no pattern recognises a clause, MiniLM embeddings match it to
exemplar sentences of each intent, so unseen phrasings still land. When it cannot
understand, or a phrase fits several objects, it asks instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from memory.embedder import MiniLMEmbedder
from memory.records import KnowledgeRecord
from perception import geometry
from planner.context import PlannerContext, Proposal, StepRecord, TaskCorrection
from planner.distill import distill
from planner.embedded.compiler import RULE_QUESTION, Compiler, Plan, agreed
from planner.embedded.conditions import Conditional, holds, read_condition
from planner.embedded.parser import Frame, parse_clause, parse_instruction
from planner.embedded.questions import answer
from planner.goals import Goal, Layout, layouts
from planner.language.exemplars import ExemplarMatcher
from planner.language.forget import remembered
from planner.language.grounding import Grounder, GroundingError, NounPhrase, parse_np
from planner.language.lexicon import CONTAINERS, GRASPABLE
from planner.language.meanings import apply_meanings, meanings_in, parse_meaning
from planner.language.never_rules import never_in
from planner.language.orders import OrderRule, orders_in, parse_row_moves
from planner.language.questions import Question, read_question
from planner.language.rules import (
    SCOPE_QUESTION,
    PlacementRule,
    parse_rule,
    put_backs,
    resolve_retarget,
    resolve_swap,
    said_instead,
    scope_question,
    strip_replan_lead,
)
from planner.language.safety import unsafe
from planner.language.spelling import correct
from planner.language.verbs import ALL_VERBS
from planner.outcome import CorrectedTask
from planner.reading import Pick, Reading
from skills.objects import ObjectState

if TYPE_CHECKING:
    from planner.corrections import Correction

# intent -> a verb that makes the clause parse as that intent, and exemplar sentences
INTENT_EXEMPLARS: dict[str, tuple[str, tuple[str, ...]]] = {
    "move": (
        "put",
        (
            "put the red block in the bowl",
            "place the cube on the plate",
            "move the can to the corner",
            "transfer the block into the dish",
            "the red block goes in the blue bowl",
            "get the cube into the container",
            "drop the block into the bowl",
            "relocate the block to the left of the bowl",
        ),
    ),
    "push": (
        "push",
        (
            "push the block to the left",
            "slide the cube forward",
            "nudge the can a bit",
            "shove the block toward the bowl",
        ),
    ),
    "stack": (
        "stack",
        (
            "stack the blocks",
            "build a tower from the cubes",
            "pile the blocks up",
            "put the blocks on top of each other",
        ),
    ),
    "line": (
        "line up",
        (
            "line up the blocks",
            "arrange the cubes in a row",
            "put the blocks in a straight line",
        ),
    ),
}
INTENT_THRESHOLD = 0.55
_NP_STARTS = {"the", "a", "an", "all", "every", "each", "both", "it", "them", "this", "that"}
LOOK = "go_home()"  # after a failure: clear the cameras' view before re-planning
_PICKED = re.compile(
    r"^pick: ok - picked (?P<name>.+)$|already holding (?P<held>.+?); place it first"
)


def _swapped(
    frame: Frame, wrong: ObjectState, right: ObjectState, scene: Sequence[ObjectState]
) -> Frame:
    """The frame with a singular object phrase that meant `wrong` now naming `right`."""
    np_ = frame.objects
    if np_ is None or np_.wants_many:
        return frame
    if wrong.name not in {o.name for o in Grounder(list(scene)).candidates(np_)}:
        return frame
    return replace(frame, objects=parse_np(f"the {right.name}"))


def held_after(history: Sequence[StepRecord]) -> str | None:
    """The object an earlier program picked and never put down, as the observations tell."""
    held = None
    for line in (line for step in history for line in step.observation.splitlines()):
        m = _PICKED.search(line)
        if m:
            held = m.group("name") or m.group("held")
        elif line.startswith("place:") and "could not reach" not in line:
            held = None  # placed, dropped or slipped: the gripper let go
    return held


def plan_goal(plan: Plan) -> Goal | None:
    """The goal a compiled plan states (None for a question or a refusal: no goal yet)."""
    if plan.question is not None or plan.refusal is not None:
        return None
    if not plan.goal:
        unchecked = ", ".join(plan.unchecked) or "the plan leaves nothing to check"
        return Goal.unstated(f"no predicate expresses {unchecked}")
    return Goal(tuple(plan.goal), unchecked=tuple(plan.unchecked))


class EmbeddedPlanner:
    """Semantic parser + compiler; deterministic and offline."""

    name = "embedded"

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self._intents = ExemplarMatcher(
            {intent: sentences for intent, (_, sentences) in INTENT_EXEMPLARS.items()},
            INTENT_THRESHOLD,
            embedder,
        )

    def propose(self, context: PlannerContext) -> Proposal:
        forgotten = [c.text for c in context.corrections if c.intent == "forget"]
        if forgotten:  # "forget what I said about the white bowl" holds from now on
            context = replace(context, knowledge=tuple(remembered(context.knowledge, forgotten)))
        if context.order is not None and not self._acts(context.order):
            return self._remember(context)  # the instruction only teaches: kept, nothing moves
        if context.history and not context.history[-1].ok and context.history[-1].code != LOOK:
            return Proposal(
                "The last program failed; I move the arm out of the cameras' view and look "
                "at the scene again before re-planning.",
                LOOK,
                served_by="parser",
            )
        taught = meanings_in(_taught(context, "meaning")[::-1])  # the latest meaning wins
        instruction, meant = apply_meanings(context.order or context.instruction, taught)
        text, fixes = correct(instruction, [o.name for o in context.scene], ALL_VERBS)
        read_as = "".join(f" As you taught me, {m.phrase!r} means {m.means!r}." for m in meant)
        read_as += "".join(f" I read {f.typo!r} as {f.word!r}." for f in fixes)
        if context.order:
            read_as += " What you taught me here I will remember for later tasks."
        why = unsafe(text)
        if why is not None:  # "fling the cube at my colleague": refused before any plan
            return Proposal(
                f"This can not be done here: {why}", f"refuse({why!r})", served_by="parser"
            )
        question = read_question(text)
        if question is not None and not context.corrections:
            said = answer(question, context.scene)
            if said is not None or not question.may_be_order():
                return self._answer(question, said, context, read_as)
        conditional = read_condition(text) if not context.corrections else None
        if conditional is not None:
            met, said = _condition_met(conditional, context)
            if met is None:  # the scene can not settle it: asked once
                return Proposal(
                    f"I ask before acting, once: {said}", f"ask({said!r})", served_by="parser"
                )
            todo = [conditional.command if met else conditional.otherwise]
            text = "; ".join(p for p in [*todo, conditional.rest] if p)
            read_as += f" {said}"
            if not text:  # it does not hold and nothing else was asked: move nothing
                return _says_only(said, said, context, "condition")
        frames = self._frames(text)
        rules = self._rules(context)
        compiler = Compiler(
            list(context.scene),
            list(context.answers),
            replanning=any(not step.ok for step in context.history),
            held=held_after(context.history),
            failed_picks=[
                line
                for step in context.history
                for line in step.observation.splitlines()
                if line.startswith("pick: FAILED")
            ],
            rules=rules,
            never=[  # "only white things go in the black bowl": nothing else does
                *never_in(_taught(context, "never")),
                *(n for r in rules if (n := r.exclusive()) is not None),
            ],
            orders=orders_in(_taught(context, "order")),
            row_moves=[
                m
                for c in context.corrections
                if c.intent == "order"
                for m in parse_row_moves(c.text)
            ],
            anchor=list(context.initial_scene),
        )
        latest = context.corrections[-1] if context.corrections else None
        for correction in context.corrections:  # "no, the other block": swap the objects
            swap = resolve_swap(correction) if correction.intent == "retarget" else None
            if swap is not None:
                wrong, right = swap
                moves = [m for m in put_backs(correction, context.scene) if m[0].name == wrong.name]
                compiler.put_back(moves)
                frames = [_swapped(f, wrong, right, context.scene) for f in frames]
        if latest is not None and latest.intent == "undo":
            plan = compiler.put_back(put_backs(latest, context.scene))
            thought = f"The user said {latest.text!r}: I return what I moved and stop there."
            return Proposal(thought, plan.code(), meta={"frames": ["undo"]}, served_by="parser")
        question = next(  # "it always goes in the green bowl": every red object, or ...?
            (q for c in context.corrections if (q := scope_question(c)) is not None), None
        )
        if latest is not None and latest.intent == "unclear":
            question = f"Sorry, I did not understand {latest.text!r}. What should I do instead?"
        if question is not None and question not in {q for q, _ in context.answers}:
            plan = Plan(question=question)  # once: after the answer the plan goes on
        else:
            frames = [
                f for c in context.corrections if c.intent == "replan" for f in self._replan(c)
            ] + frames
            plan = compiler.compile(frames)
        followed = [*compiler.followed, *compiler.followed_orders]
        thought = self._thought(frames, plan.question, plan.refusal, context, followed)
        used = {r.source for r in [*followed, *compiler.followed_never]}
        applied = [
            k for k in context.knowledge if k in used or parse_meaning(k) in meant
        ]  # the retrieved statements this plan acted on
        return Proposal(
            thought + read_as,
            plan.code(),
            goal=plan_goal(plan),
            served_by="parser",
            meta={
                "frames": [f.intent for f in frames],
                "understood": plan.understood,
                "applied": applied,
                "chosen": plan.chosen,
            },
        )

    def _acts(self, order: str) -> bool:
        """Whether what a teaching instruction also says asks for motion ("nothing to do
        right now", "they are the scales" ask for none)."""
        if not order or read_question(order) is not None:
            return False
        return any(
            f.intent not in ("unknown", "exclude")
            and (f.objects is None or (f.objects.names_thing and not f.objects.unknown))
            and (f.objects is None or not re.match(r"(?:nothing|none)\b", f.objects.text))
            for f in parse_instruction(order)
        )

    @staticmethod
    def _remember(context: PlannerContext) -> Proposal:
        """An instruction that teaches ("from now on, cans go in the cyan bowl") is
        acknowledged and kept for later tasks; nothing moves now."""
        said = context.instruction.strip()[:200]
        return _says_only(
            f"This teaches me something for later tasks rather than asking for a move now: "
            f"I will remember {said!r}.",
            f"Understood, I will remember that: {said}",
            context,
            "teach",
        )

    @staticmethod
    def _answer(
        question: Question, said: str | None, context: PlannerContext, read_as: str
    ) -> Proposal:
        """A question is answered in words from the perceived scene, and nothing moves."""
        if said is None:
            reason = f"I can not answer {question.text[:80]!r} from what I see."
            return Proposal(
                f"A question I can not answer.{read_as}", f"refuse({reason!r})", served_by="parser"
            )
        return _says_only(
            f"This is a question, not an order: I answer from the scene and move nothing.{read_as}",
            said,
            context,
            "question",
        )

    # --- corrections and knowledge --------------------------------------------------------------
    @staticmethod
    def _rules(context: PlannerContext) -> list[PlacementRule]:
        """Placement rules: this task's corrections (newest first), then retrieved knowledge."""
        rules = []
        for correction in reversed(context.corrections):
            if correction.intent == "preference":
                rule = parse_rule(correction.text, override=True)
                if rule is None or scope_question(correction):  # "it always goes in ..."
                    rule = resolve_retarget(correction) or rule
            elif correction.intent == "retarget":
                rule = resolve_retarget(correction)
            elif correction.intent == "never":  # "..., use the other one"
                rule = said_instead(correction)
            else:
                rule = None
            if rule is not None:
                rules.append(rule)
        rules += [r for r in map(parse_rule, context.knowledge) if r is not None]
        return rules

    def _replan(self, correction: TaskCorrection) -> list[Frame]:
        """The frames a plan fix asks to do first; a "clear the bowl" clears only what
        was in the bowl when the user said it, so it never undoes the task itself."""
        frames = self._frames(strip_replan_lead(correction.text))
        out = []
        for frame in frames:
            if frame.intent == "clear" and frame.objects is not None:
                try:
                    found = Grounder(correction.scene).resolve(frame.objects, CONTAINERS)
                except GroundingError:
                    found = []
                inside = tuple(
                    o.name for c in found for o in correction.scene if geometry.is_in(o, c)
                )
                frame = replace(frame, only=inside if found else None)  # None: ask which
            out.append(frame)
        return out

    def layouts(self, context: PlannerContext) -> tuple[Layout, ...]:
        """The towers and rows whose whole order the task's words give, as this parser
        reads them (none when it did not understand them): a reading a chat model may be
        shown."""
        objects = context.initial_scene or context.scene
        first = replace(context, scene=objects, history=(), corrections=(), answers=())
        proposal = self.propose(first)
        if proposal.goal is None or not proposal.meta.get("understood", True):
            return ()
        chosen = {tuple(t) for t in proposal.meta.get("chosen", ())}
        things = {o.name for o in objects if o.category in GRASPABLE}  # not "on the mat"
        said = [
            p
            for p in proposal.goal.predicates
            if tuple(p.get("stacked", ())) not in chosen and set(p.get("on", ())) <= things
        ]
        return layouts(said)

    def picks(self, context: PlannerContext) -> tuple[Pick, ...]:
        """The objects the task's words pick out by position, size, rank or relation ("the
        second mat from the right"), or name in other words than the scene ("the only can"
        is the purple cylinder), grounded as `find()` grounds them in the scene the words
        were said of; phrases that fit nothing or several are left out."""
        objects = context.initial_scene or context.scene
        text, _ = correct(context.instruction, [o.name for o in objects], ALL_VERBS)
        found: dict[str, Pick] = {}
        for frame in parse_instruction(text):
            if frame.intent in ("line", "stack"):  # their order is the layouts' to say
                continue
            target = frame.target
            for np_ in (frame.objects, target and target.ref, target and target.ref2):
                if np_ is None or np_.text in found or np_.pronoun or np_.conjuncts:
                    continue
                selects = _selects(np_)
                if not selects and np_.wants_many:  # "the blocks": every block, said plainly
                    continue
                try:
                    chosen = Grounder(objects).resolve(np_, (*GRASPABLE, *CONTAINERS))
                except GroundingError:
                    continue
                if not selects and all(o.name in np_.text for o in chosen):
                    continue  # "the green bowl": named as the scene names it
                said = _TRAILING_PREPOSITION.sub("", np_.text)  # "the purple stick to"
                but = [e.text for e in np_.exclude if e.text not in said]
                words = f"{said} except {' and '.join(but)}" if but else said
                found[np_.text] = Pick(words, tuple(o.name for o in chosen))
        return tuple(found.values())

    def reading(self, context: PlannerContext) -> Reading:
        """This parser's reading of a task's words that a chat model may be shown."""
        return Reading(self.layouts(context), self.picks(context))

    def define(self, function: str, call_site: str, context: PlannerContext) -> Proposal:
        return Proposal(
            f"The embedded planner writes no new functions; {function} is unknown.",
            f"say({f'I do not know how to {function.replace(chr(95), chr(32))}.'!r})",
        )

    def distill(self, task: CorrectedTask) -> list[KnowledgeRecord]:
        """Knowledge from the structured interpretation of the task's corrections."""
        return distill(task)

    def classify_correction(self, text: str, context: PlannerContext) -> Correction | None:
        """None: the parser has no reading beyond the interpreter's (it has no model)."""
        return None

    # --- parsing -----------------------------------------------------------------------------
    def _frames(self, text: str) -> list[Frame]:
        frames = parse_instruction(text)
        return [self._rescue(f) if f.intent == "unknown" else f for f in frames]

    def _rescue(self, frame: Frame) -> Frame:
        """Re-read a clause no rule understood as the nearest intent's phrasing."""
        intent = self._intents.nearest(frame.text)
        if intent is None:
            return frame
        verb = INTENT_EXEMPLARS[intent][0]
        first, _, rest = frame.text.partition(" ")
        body = frame.text if first in _NP_STARTS or not rest else rest  # drop an unknown verb
        rescued = parse_clause(f"{verb} {body}")
        return replace(rescued, guess=f"{verb} {body}") if rescued.intent != "unknown" else frame

    @staticmethod
    def _thought(
        frames: list[Frame],
        question: str | None,
        refusal: str | None,
        context: PlannerContext,
        rules: Sequence[PlacementRule | OrderRule],
    ) -> str:
        if refusal:
            return f"This can not be done here: {refusal}"
        if question and question.startswith(SCOPE_QUESTION):
            return f"What you taught could hold for more objects or fewer, so I ask: {question}"
        if question and question.startswith(RULE_QUESTION):
            return f"This would break a rule you taught me, so I ask once: {question}"
        if question:
            return f"The instruction is not clear enough to act on, so I ask: {question}"
        steps = "; ".join(f"{f.intent} ({f.text})" for f in frames)
        again = (
            " Re-planning from the current scene after the last observation."
            if context.history
            else ""
        )
        following = f" Following: {'; '.join(r.source for r in rules)}." if rules else ""
        return f"Plan: {steps}.{following}{again}"


_TRAILING_PREPOSITION = re.compile(r"\s+(?:to|at|in|into|on|onto|over|from|by|towards?)$")


def _selects(np_: NounPhrase) -> bool:
    """Whether a phrase picks its objects by more than kind and colour ("the leftmost can",
    "the second mat from the right", "the block in the bowl", "all cans but the red one")."""
    return bool(np_.superlative or np_.ordinal or np_.location or np_.side or np_.exclude)


def _taught(context: PlannerContext, intent: str) -> list[str]:
    """What this task's corrections of one intent said (newest first), then the knowledge
    retrieved for it: the statements taught rules are read from."""
    said = [c.text for c in reversed(context.corrections) if c.intent == intent]
    return [*said, *context.knowledge]


def _condition_met(conditional: Conditional, context: PlannerContext) -> tuple[bool | None, str]:
    """Whether the condition holds in the scene (or the user, asked once, says to go ahead),
    and the words that say why; None with the question when it is still to be asked."""
    verdict = holds(conditional.condition, context.scene)
    if verdict is None:
        asked = f"I can not tell from what I see whether {conditional.condition}. Go ahead anyway?"
        reply = dict(context.answers).get(asked)
        if reply is None:
            return None, asked
        verdict = agreed(reply), f"You answered {reply[:80]!r}."
    met, shown = verdict
    said = f"You asked for it only if {conditional.condition}: {shown}"
    if met:
        return met, said + " So I do it."
    return met, said + (
        " So I do what you said otherwise." if conditional.otherwise else " So I do not."
    )


def _says_only(thought: str, said: str, context: PlannerContext, frame: str) -> Proposal:
    """A step that only says something and moves nothing: an answer, a lesson kept, a
    condition that does not hold; its goal is every object where it is."""
    everything = [o.name for o in context.scene]
    return Proposal(
        thought,
        f"say({said!r})\ndone()",
        goal=Goal(({"unmoved": everything},)) if everything else Goal.unstated("empty scene"),
        served_by="parser",
        meta={"frames": [frame]},
    )
