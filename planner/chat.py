"""LLM planner backends: prompts for any `ChatModel`, and reading its replies.

Every chat backend (local llama.cpp, OpenAI-compatible, transformers) gets the same prompt
(`planner.llm.prompt`: the API listing, worked examples nearest the instruction, the task
and the steps so far as chat turns) and its reply goes through the same parser. A backend
that can constrain decoding gets the reply grammar of the current scene
(`planner.llm.grammar`), so its programs call only API functions on objects that exist;
an unconstrained reply without code gets one re-prompt.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from memory.records import KnowledgeRecord
from perception import geometry
from planner.api import API
from planner.context import PlannerContext, Proposal
from planner.corrections import Correction, ParamChange
from planner.distill import distill
from planner.goals import (
    ROW_RELATIONS,
    TOWER,
    Goal,
    Layout,
    contradiction,
    row_pairs,
    stacked_pairs,
)
from planner.language.lexicon import COLORS, absent_kind, category_of, is_generic
from planner.language.questions import only_asks
from planner.language.safety import unsafe
from planner.llm import (
    ChatMessage,
    ChatModel,
    Completion,
    ContextOverflow,
    LLMError,
    ParsedReply,
    classify,
    goal_line,
    mentions,
    parse_reply,
    phrases,
)
from planner.llm.examples import Example, ExampleLibrary, default_library
from planner.llm.grammar import ARG_ROLES, reply_grammar
from planner.llm.prompt import build_messages, system_prompt
from planner.outcome import FINISHED, CorrectedTask
from planner.reading import UNREAD, Reading
from skills.objects import ObjectState
from skills.primitives import DIRECTIONS, GRASPABLE_CATEGORIES

DEFINE = """Write the Python function {name} used in this program:
{call_site}
Use only the functions listed before. Reply with one ```python block holding only
`def {name}(...):`."""
REPROMPT = "Reply with a Thought line and one ```python block."
LOOK_AGAIN = (
    "You wrote only done() and nothing has moved yet. Read the instruction and the scene "
    "again: unless the scene's positions and relations already show what the instruction "
    "asks, write the program that does it; if it is a question, answer with say(...)."
)
ANSWER_IT = (
    "You said a question back. Answer the instruction's question from the scene's names, "
    "positions and relations, in one statement with say(...)."
)
REFUSED_NO_THING = (
    "Your refusal names {said!r}, which is no kind of object: words said in passing "
    "(thanks, cheers, please) ask for nothing. Refuse only if an object the instruction "
    "needs is missing from the scene; otherwise write the program that does it."
)
_CANNOT_SEE = re.compile(  # what a refusal says is missing: "I can not see a 'cheers' here."
    r"can ?not see (?:an? |the |any )?['\"]?(?P<what>[a-z][a-z ]*?)['\"]?(?: here\b|\.|$)"
)
REFUSED_PRESENT = (
    "Your refusal names {listed}, which the scene lists. Refuse only if an object the "
    "instruction needs is missing from the scene; otherwise write the program that does it."
)
Layouts = tuple[Layout, ...]
Reader = Callable[[PlannerContext], Reading]
ORDERING = {"stacked", "on", "line", *ROW_RELATIONS}  # goal predicates that order objects
RESAMPLES = 1  # new samples drawn when the model repeats a program that already failed
WORDS_FIRST = ("ask", "refuse", "say")  # the calls of a reply that talks before moving
ANSWER_ONLY = ("say",)  # a question about the scene: answered, and then the task is done
ARM_WORDS = re.compile(r"\b(arm|gripper|hand|claw|fingers?|end.effector|wrist)\b", re.I)
RESAMPLE_TEMPERATURE = 0.7
DRAFT_KEYS = ("kind", "statement", "change")
CORRECTABLE = {  # skill parameters a correction may change, as the model names them
    "pick": ("grasp_height", "approach_height", "yaw", "force", "speed"),
    "place": ("release_height", "speed"),
}
DISTILL = """A robot was corrected while doing a task. Write what the corrections teach as
general knowledge for later tasks with other objects of the same kind.
Instruction: {instruction}
Objects: {objects}
Corrections, in order:
{corrections}
Skill parameters the corrections left in force: {skills}
A draft, from reading the corrections word by word:
{draft}
Reply with one JSON list only, improving the draft where it can be said better. Items:
{{"kind": "task", "statement": "red objects go in the green bowl", "change": {{"rule":
"destination", "object": {{"color": "red"}}, "target": {{"category": "bowl", "color":
"green"}}, "relation": "in"}}}} or {{"kind": "skill", "statement": "when picking
cylinders, grip with 60 N", "change": {{"skill": "pick", "params": {{"force": 60.0}},
"applies_to": {{"category": "cylinder"}}}}}}. Name kinds of objects, never positions."""


class ChatPlanner:
    """A planner backend over any chat model (local llama.cpp, OpenAI-compatible, HF).

    Args:
        model: the chat model.
        max_tokens: most tokens of one reply.
        examples: worked examples to choose from (default: the library shipped).
        n_examples: examples shown per task.
        constrain: decode under the reply grammar when the model can.
        reader: a reader of the words (the offline parser's): the towers and rows whose
            order a task's words give and the objects they pick out, shown in the task turn;
            a goal that stacks or lines up those objects otherwise is checked in that order.
    """

    def __init__(
        self,
        model: ChatModel,
        max_tokens: int = 320,
        examples: ExampleLibrary | None = None,
        n_examples: int = 3,
        constrain: bool = True,
        reader: Reader | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.name = model.name
        self.examples = examples
        self.n_examples = n_examples
        self.constrain = constrain and model.supports_grammar
        self._chosen: tuple[tuple[str, frozenset[str]], list[Example]] | None = None
        self._reader = reader
        self._reading: tuple[tuple[str, tuple[str, ...]], Reading] | None = None

    def propose(self, context: PlannerContext) -> Proposal:
        first = context.initial_scene or context.scene  # the scene the words were said of
        examples = self._examples_for(context.instruction, frozenset(o.color for o in first))
        # what the words name is settled until a correction or an answer says otherwise
        said = not (context.corrections or context.answers)
        reading = self._reading_of(context) if said else UNREAD
        messages = build_messages(context, examples, self._library().situational(), reading)
        rules = _StepRules.of(context, first, said)
        grammar = rules.grammar(context.scene) if self.constrain else None
        prefix = 1 + 2 * len(examples)
        try:
            reply = self._complete(messages, grammar, cache_prefix=prefix)
        except ContextOverflow:  # a long task: its latest step alone is shown
            situations = self._library().situational()
            messages = build_messages(context, examples, situations, reading, max_history=1)
            reply = self._complete(messages, grammar, cache_prefix=prefix)
        parsed = _parse(reply.text)
        failed = {s.code.strip() for s in context.history if not s.ok}
        for _ in range(RESAMPLES):  # greedy decoding repeats itself: sample something new
            if parsed.code is None or not (parsed.code.strip() in failed or _twice(parsed.code)):
                break
            retry = self._complete(messages, grammar, prefix, temperature=RESAMPLE_TEMPERATURE)
            reply, parsed = _merge(reply, retry), _parse(retry.text)
        if parsed.code is None and grammar is None:  # one re-prompt, then give up on this step
            reply, parsed = self._told(messages, reply, REPROMPT)
        elif rules.talk == ANSWER_ONLY and parsed.code and _asks_back(parsed.code):
            reply, parsed = self._told(messages, reply, ANSWER_IT, grammar, prefix)  # once
        elif parsed.code is not None and not rules.talk:
            doubt = _doubt(parsed.code, context.scene, first=not context.history)
            if doubt is not None:  # look again, once: the answer then stands
                why, proven = doubt
                if grammar is not None and proven:  # a refusal proved false may not stand
                    grammar = rules.grammar(context.scene, refuse=False)
                reply, parsed = self._told(messages, reply, why, grammar, prefix)
        code = parsed.code or f"say({'I could not write a program for this step.'!r})"
        if rules.talk == ANSWER_ONLY and "done()" not in code:  # a question answered is done
            code = f"{code.rstrip()}\ndone()"
        return Proposal(
            parsed.thought,
            code,
            reply.prompt_tokens,
            reply.completion_tokens,
            reply.latency_s,
            meta={
                "raw": reply.text,
                "cached_tokens": reply.cached_tokens,
                "constrained": grammar is not None,
                "examples": [e.id for e in examples],
            },
            goal=_read_goal(reply.text, parsed.code, context, reading.layouts if said else None),
            served_by="llm",
        )

    def _examples_for(self, instruction: str, colors: frozenset[str]) -> list[Example]:
        """The examples for a task, chosen once per instruction and scene colours."""
        if self._chosen is None or self._chosen[0] != (instruction, colors):
            chosen = self._library().nearest(instruction, self.n_examples, colors)
            self._chosen = ((instruction, colors), chosen)
        return self._chosen[1]

    def _reading_of(self, context: PlannerContext) -> Reading:
        """The reader's reading of the task's words, read once per instruction and scene."""
        if self._reader is None:
            return UNREAD
        key = (context.instruction, tuple(o.name for o in context.initial_scene or context.scene))
        if self._reading is None or self._reading[0] != key:
            self._reading = (key, self._reader(context))
        return self._reading[1]

    def _library(self) -> ExampleLibrary:
        return self.examples or default_library()

    def classify_correction(self, text: str, context: PlannerContext) -> Correction | None:
        """The model's reading of a correction the patterns could not read; None when the
        model is away or its reply is not a valid reading."""
        code = context.history[-1].code if context.history else ""
        chat = classify.messages(text, context.instruction, code, CORRECTABLE)
        grammar = classify.grammar(CORRECTABLE) if self.constrain else None
        try:
            reply = self.model.complete(chat, max_tokens=96, grammar=grammar)
        except LLMError:
            return None
        reading = classify.parse(reply.text, CORRECTABLE)
        if reading is None:
            return None
        changes = tuple(
            ParamChange(skill, param, op, math.radians(value) if param == "yaw" else value)
            for skill, param, op, value in reading.changes
        )
        meta = {"source": "llm", "model_s": round(reply.latency_s, 3)}
        return Correction(text, reading.kind, reading.intent, changes, rest=text, meta=meta)

    def define(self, function: str, call_site: str, context: PlannerContext) -> Proposal:
        messages = [
            ChatMessage.system(system_prompt(context.api, self._library().situational())),
            ChatMessage.user(DEFINE.format(name=function, call_site=call_site)),
        ]
        reply = self._complete(messages)
        parsed = parse_reply(reply.text)
        code = parsed.code or f"def {function}(*args):\n    say('{function} is not defined')"
        return Proposal(
            parsed.thought, code, reply.prompt_tokens, reply.completion_tokens, reply.latency_s
        )

    def distill(self, task: CorrectedTask) -> list[KnowledgeRecord]:
        """Ask the model for general knowledge; the structured draft when its reply is not
        a usable JSON list of records."""
        draft = distill(task)
        if task.status not in FINISHED or not (task.corrections or task.skills):
            return draft
        prompt = DISTILL.format(
            instruction=task.instruction,
            objects=", ".join(o.name for o in task.scene) or "none",
            corrections="\n".join(f"- {c.text} ({c.intent})" for c in task.corrections) or "- none",
            skills="; ".join(f"{s.skill} on {s.obj.name}: {s.params}" for s in task.skills)
            or "none",
            draft=json.dumps([{k: r.to_dict()[k] for k in DRAFT_KEYS} for r in draft]),
        )
        try:
            reply = self._complete([ChatMessage.user(prompt)])
        except LLMError:
            return draft  # the task is over; the model being away must not lose its lesson
        records = []
        for item in _json_list(reply.text):
            try:
                record = KnowledgeRecord.from_dict({k: item.get(k) for k in DRAFT_KEYS})
            except (ValueError, AttributeError):  # checked as the knowledge base checks it
                continue
            said = "; ".join(c.text for c in task.corrections)
            records.append(
                replace(record, context=task.context(task.scene), provenance=task.provenance(said))
            )
        return records or draft

    def _told(
        self,
        messages: list[ChatMessage],
        reply: Completion,
        note: str,
        grammar: str | None = None,
        cache_prefix: int = 0,
    ) -> tuple[Completion, ParsedReply]:
        """`reply` answered with `note` (why it gets a second look): the model's new reply,
        with the cost of both, and its reading."""
        turns = [*messages, ChatMessage.assistant(reply.text), ChatMessage.user(note)]
        retry = self._complete(turns, grammar, cache_prefix)
        return _merge(reply, retry), _parse(retry.text)

    def _complete(
        self,
        messages: list[ChatMessage],
        grammar: str | None = None,
        cache_prefix: int = 0,
        temperature: float = 0.0,
    ) -> Completion:
        stop = None if grammar is not None else ["\n```\n\n"]
        return self.model.complete(
            messages,
            max_tokens=self.max_tokens,
            temperature=temperature,
            stop=stop,
            grammar=grammar,
            cache_prefix=cache_prefix,
        )


@dataclass(frozen=True)
class _StepRules:
    """What a step's reply may do, from the task's words and its steps so far.

    Attributes:
        arm: the arm-only motions are allowed (the words speak of the arm).
        ask: asking is allowed (a task asks once, then acts on the answer or refuses).
        say: saying is allowed (an order answered in words once must act or refuse).
        still: objects held still (`mentions.unnamed_alike`).
        talk: the only calls a reply of words alone may make (`_words_first`).
    """

    arm: bool
    ask: bool
    say: bool
    still: tuple[str, ...]
    talk: tuple[str, ...]

    @classmethod
    def of(cls, context: PlannerContext, first: Sequence[ObjectState], said: bool) -> _StepRules:
        """The rules of the next step; `said`: the words alone say what is meant (no
        correction or answer came since)."""
        spoke = any(_only_says(s.code) for s in context.history)
        return cls(
            arm=bool(ARM_WORDS.search(context.instruction)),
            ask=not context.answers,
            say=not spoke or only_asks(context.instruction),
            still=tuple(mentions.unnamed_alike(context.instruction, first)) if said else (),
            talk=_words_first(context, first) if said and not context.history else (),
        )

    def grammar(self, scene: Sequence[ObjectState], refuse: bool = True) -> str:
        """The reply grammar under these rules (`refuse` False: the reply must act)."""
        return step_grammar(scene, self.arm, refuse, self.ask, self.still, self.talk, say=self.say)


def _read_goal(
    text: str, code: str | None, context: PlannerContext, orders: Layouts | None
) -> Goal | None:
    """The goal a reply's Goal line states, read as its program and the words allow:
    descriptions grounded in the scene the words were said of, parts its own program
    contradicts dropped, none if it contradicts itself; where the words alone say what is
    meant (`orders` not None), checked in the order of the towers and rows they give and
    with what they name that the goal leaves out marked unchecked."""
    first = context.initial_scene or context.scene

    def ground(text: str) -> tuple[str, list[str]]:  # find("...") in the first scene
        return phrases.ground(text, first, context.scene)

    goal = goal_line.read(text, ground)
    if code is None:
        return goal
    if goal is None:
        return Goal.unstated("the model stated no goal")
    goal = _consistent(goal, ground(code)[0])
    if why := contradiction(goal.predicates):  # never kept as the task's goal
        return Goal.unstated(f"its goal contradicts itself: {why}")
    if orders is not None and goal.predicates:  # checked as far as it follows the words
        goal = _in_said_order(goal, orders)
        named = {a for p in goal.predicates for a in _strings(p)}
        gaps = mentions.unsaid(context.instruction, first, named)
        goal = replace(goal, unchecked=(*goal.unchecked, *gaps)) if gaps else goal
    return goal


def step_grammar(
    scene: Sequence[ObjectState],
    arm: bool = True,
    refuse: bool = True,
    ask: bool = True,
    still: Collection[str] = (),
    talk: Collection[str] = (),
    say: bool = True,
) -> str:
    """The reply grammar for a step in this scene: API calls on the objects it holds. The
    arm-only motions are left out unless the instruction speaks of the arm (`arm`): a small
    model reaches for move_to() to "move" an object. `refuse` False leaves out refusing and
    any reply of words alone: the program must act. `ask` False leaves out asking: a task
    asks once, then acts on the answer or refuses. Objects in `still` may only be named in
    a goal that they stay: not moved, nor a place (`mentions.unnamed_alike`); `talk` names
    the only calls a reply of words alone may make (`_words_first`); `say` False leaves out
    say()."""
    left_out = {name for name, kept in (("refuse", refuse), ("ask", ask), ("say", say)) if not kept}
    if talk:
        left_out |= set(WORDS_FIRST) - set(talk)
    functions = {
        name: (API.get(name).spec, API.get(name).group)
        for name in API
        if (arm or API.get(name).group != "arm") and name not in left_out
    }
    movable = [o.name for o in scene if o.category in GRASPABLE_CATEGORIES and o.name not in still]
    return reply_grammar(
        functions,
        [o.name for o in scene],
        list(geometry.REGIONS),
        list(DIRECTIONS),
        movable,
        geometry.SIDES,
        must_act=not refuse,
        must_talk=bool(talk) and refuse,
        fixed=still,
    )


def _json_list(text: str) -> list[dict]:
    """The first JSON list of objects in a reply (models wrap it in prose or fences)."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        items = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _doubt(code: str, scene: Sequence[ObjectState], first: bool = True) -> tuple[str, bool] | None:
    """Why a program deserves a second look, and whether that proves a refusal false; None
    when it does not: as the `first` of a task it declares the task finished before anything
    moved; at any step it refuses (or says, with no refusal) that it "can not see" an object
    the scene lists (under another word for its kind, too: a cube is a block) - after a
    failed goal check, too; or it refuses for a missing "thing" that names no kind of object
    ("cheers")."""
    if code.strip() == "done()":
        return (LOOK_AGAIN, False) if first else None
    if code.lstrip().startswith(("refuse(", "say(")):  # "I can not see ..." said either way
        said = re.sub(r"[a-z]+", lambda m: category_of(m.group()) or m.group(), code.lower())
        listed = [o for o in scene if re.search(rf"\bsee (?:an? |the |any )?{o.name}\b", said)]
        if listed:
            where = ", ".join(
                f"the {o.name} at ({o.position[0]:.2f}, {o.position[1]:.2f})" for o in listed
            )
            return REFUSED_PRESENT.format(listed=where), True
    missing = _CANNOT_SEE.search(code.lower()) if code.lstrip().startswith("refuse(") else None
    if missing is not None and not _names_kind(missing.group("what")):
        return REFUSED_NO_THING.format(said=missing.group("what")[:40]), False
    return None


def _names_kind(words: str) -> bool:
    """Whether words name a kind of object, one the scene may have or not ("can", "ball",
    "thing"), or a colour."""
    return any(
        category_of(w) or absent_kind(w) or is_generic(w) or w in COLORS for w in words.split()
    )


def _asks_back(code: str) -> bool:
    """Whether a program's words are a question (a question answered with one says it back)."""
    said = [
        a.value
        for c in _calls(code)
        if c.func.id == "say"
        for a in c.args[:1]
        if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]
    return bool(said) and all(s.rstrip().endswith("?") for s in said)


def _only_says(code: str) -> bool:
    """Whether a program only says something (and maybe ends): words where an order was."""
    names = [c.func.id for c in _calls(code)]
    return "say" in names and set(names) <= {"say", "done"}


def _calls(code: str) -> list[ast.Call]:
    """The calls of a program to functions by name; none when the code does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [c for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]


def _moved_by(calls: Sequence[ast.Call]) -> set[str]:
    """The objects a program's calls hand to the skills that move things (their object
    arguments, not their targets)."""
    moved = set()
    for call in calls:
        if call.func.id not in API or API.get(call.func.id).group != "skill":
            continue
        params = API.get(call.func.id).spec.params
        named = [*zip(params, call.args, strict=False)]
        named += [(p, k.value) for k in call.keywords for p in params if p.name == k.arg]
        for param, value in named:
            if ARG_ROLES.get(param.name) in ("object", "objects"):
                moved |= {
                    n.value
                    for n in ast.walk(value)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                }
    return moved


def _twice(code: str) -> bool:
    """Whether a call that moves things names one object twice (a tower of the red block on
    the red block, a row listing it twice), or a line says again what the line before it
    did (a small model looping until the program is as long as allowed): a greedy model
    writes it again at every step."""
    lines = [line.strip() for line in code.splitlines() if line.strip()]
    if any(a == b for a, b in pairwise(lines)):
        return True
    for call in _calls(code):
        if call.func.id in API and API.get(call.func.id).group == "skill":
            said = [
                n.value
                for n in ast.walk(call)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            if len(said) != len(set(said)):
                return True
    return False


def _put_pairs(calls: Sequence[ast.Call]) -> set[tuple[str, str]]:
    """(object, target) of each put_first_on_second(obj, "target") among a program's calls."""
    return {
        (call.args[0].value, call.args[1].value)
        for call in calls
        if call.func.id == "put_first_on_second"
        and len(call.args) == 2
        and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)
    }


def _consistent(goal: Goal, code: str) -> Goal:
    """The goal without the parts its own program contradicts: ``unmoved(x)`` for an x the
    program moves is a copied or slipped word, and would fail a task done as written; and
    ``stacked(a, b)`` (b on a, bottom first) beside a program that puts a on b is the
    notation misread, not the task: it says on(a, b), as the program does."""
    calls = _calls(code)
    moved, puts = _moved_by(calls), _put_pairs(calls)
    kept = []
    for predicate in goal.predicates:
        if "unmoved" in predicate and isinstance(predicate["unmoved"], list):
            still = [n for n in predicate["unmoved"] if n not in moved]
            predicate = {"unmoved": still} if still else None
        elif "stacked" in predicate and len(predicate["stacked"]) == 2:
            lower, upper = predicate["stacked"]
            if (lower, upper) in puts and (upper, lower) not in puts:
                predicate = {"on": [lower, upper]}
        if predicate is not None:
            kept.append(predicate)
    if kept == list(goal.predicates):
        return goal
    if not kept:
        return Goal.unstated("its goal only said that objects it moves stay where they are")
    return replace(goal, predicates=tuple(kept))


def _words_first(context: PlannerContext, scene: Sequence[ObjectState]) -> tuple[str, ...]:
    """The calls a task's first step may make when its words say to talk before moving: a
    question about the scene is answered (say), never asked back, refused ("is there a
    purple bowl?" - no) nor acted on; an unsafe order is refused; otherwise ask or refuse
    when the words name what `scene` lacks, ask when a bare name fits several
    (`mentions.unclear`). () when acting may do."""
    if only_asks(context.instruction):
        return ANSWER_ONLY  # the scene answers it: asking it back answers nothing
    if unsafe(context.instruction):
        return ("refuse",)
    why = mentions.unclear(context.instruction, scene)
    if not why:
        return ()
    return ("ask",) if why == mentions.OPEN else ("ask", "refuse")


def _in_said_order(goal: Goal, orders: Layouts) -> Goal:
    """The goal checked against the towers and rows the words give: where it stacks or
    lines up their objects otherwise (or leaves them out), their order as the words give
    it replaces its own, so the check sends the model back instead of verifying a tower
    read upside down or a row run the wrong way."""
    missed = [layout for layout in orders if layout.pairs() - _pairs(goal, layout)]
    if not missed:
        return goal
    inside = {name for layout in missed for name in layout.names}
    own = [p for p in goal.predicates if not (p.keys() & ORDERING and set(_strings(p)) <= inside)]
    return replace(goal, predicates=(*own, *(p for m in missed for p in m.predicates())))


def _pairs(goal: Goal, layout: Layout) -> set[tuple[str, str]]:
    """Each object the goal puts before the next the way `layout` runs."""
    if layout.kind == TOWER:
        return stacked_pairs(goal.predicates)
    return row_pairs(goal.predicates, layout.way)


def _strings(value: object) -> list[str]:
    """Every string inside a predicate in its YAML form (the names it speaks of)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list | tuple) else []


def _parse(text: str) -> ParsedReply:
    """A reply's Thought and code; its Goal line is read apart (`goal_line.read`)."""
    return parse_reply(goal_line.strip(text))


def _merge(first: Completion, second: Completion) -> Completion:
    """The second completion's text with the cost of both."""
    return Completion(
        text=second.text,
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        latency_s=first.latency_s + second.latency_s,
        model=second.model,
        cached_tokens=first.cached_tokens + second.cached_tokens,
    )
