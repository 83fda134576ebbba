"""LLM planner backends: prompts for any `ChatModel`, and reading its replies.

The prompt is short on purpose (small local models write ~7 tokens/s on CPU): the API
listing generated from the skill declarations, two worked examples, the scene as text,
retrieved knowledge and a compact history. A reply without code gets one re-prompt.
"""

from __future__ import annotations

import json
from dataclasses import replace

from memory.records import SKILL, KnowledgeRecord
from planner.api import PARAM_DEFAULTS
from planner.backend import PlannerContext, Proposal
from planner.distill import CorrectedTask, distill
from planner.embedded.backend import EmbeddedPlanner
from planner.llm import ChatMessage, ChatModel, Completion, LLMError, make_chat_model, parse_reply

SYSTEM = """You control a robot arm over a table by writing short Python programs.
Frame: x points away from the robot, y to its left, metres; the table workspace is
x 0.30..0.70, y -0.30..0.30. Use object names exactly as the scene lists them.
Functions you may call:
{api}
Plain Python only: no import, class, lambda, try, with, generators or names starting
with "_"; math functions (sqrt, sin, cos, atan2, hypot, pi) and dist(a, b) are there.
Answer with one line "Thought: ..." and then one ```python block. Call done() when the
instruction is complete, refuse(reason) if it is impossible here (an object is missing),
ask(question) if it is ambiguous. If the last step failed, fix the cause and continue
from the current scene."""

EXAMPLES = (
    (
        "Instruction: put the green block on the blue bowl\nScene:\n"
        "- blue bowl at (60.0, -5.0, 2.5), size 17.0 x 17.0 x 5.0\n"
        "- green block at (45.0, 10.0, 2.0), size 4.0 x 4.0 x 4.0, yaw 0",
        "Thought: Pick the green block and place it in the blue bowl.\n```python\n"
        'put_first_on_second("green block", "blue bowl")\ndone()\n```',
    ),
    (
        "Instruction: stack the blocks, then put the can 10 cm left of the red block\nScene:\n"
        "- gray cylinder at (50.0, -20.0, 4.5), size 5.5 x 5.5 x 9.0\n"
        "- red block at (40.0, 0.0, 2.0), size 4.0 x 4.0 x 4.0, yaw 0\n"
        "- yellow block at (55.0, 20.0, 2.0), size 4.0 x 4.0 x 4.0, yaw 0",
        "Thought: Put the yellow block on the red block, then the can at a position.\n"
        '```python\nput_first_on_second("yellow block", "red block")\n'
        'x, y, z = get_pos("red block")\n'
        'put_first_on_second("gray cylinder", [x, y + 0.10])\ndone()\n```',
    ),
)
DEFINE = """Write the Python function {name} used in this program:
{call_site}
Use only the functions listed before. Reply with one ```python block holding only
`def {name}(...):`."""
MAX_HISTORY = 4
DRAFT_KEYS = ("kind", "statement", "change")
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
    """A planner backend over any chat model (OpenAI-compatible endpoint or local HF)."""

    def __init__(self, model: ChatModel, max_tokens: int = 384) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.name = model.name

    def propose(self, context: PlannerContext) -> Proposal:
        messages = self._messages(context)
        reply = self._complete(messages)
        parsed = parse_reply(reply.text)
        if parsed.code is None:  # one re-prompt, then give up on this step
            messages += [
                ChatMessage.assistant(reply.text),
                ChatMessage.user("Reply with a Thought line and one ```python block."),
            ]
            retry = self._complete(messages)
            reply = _merge(reply, retry)
            parsed = parse_reply(retry.text)
        code = parsed.code or f"say({'I could not write a program for this step.'!r})"
        return Proposal(
            parsed.thought,
            code,
            reply.prompt_tokens,
            reply.completion_tokens,
            reply.latency_s,
            meta={"raw": reply.text},
        )

    def define(self, function: str, call_site: str, context: PlannerContext) -> Proposal:
        messages = [
            ChatMessage.system(_system(context)),
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
        if task.status != "done" or not (task.corrections or task.skills):
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
                if record.kind == SKILL:  # parameters every later call of the skill will take
                    PARAM_DEFAULTS[record.subject]().updated(**record.change["params"])
            except (ValueError, AttributeError, KeyError, TypeError):
                continue
            said = "; ".join(c.text for c in task.corrections)
            records.append(
                replace(record, context=task.context(task.scene), provenance=task.provenance(said))
            )
        return records or draft

    def _complete(self, messages: list[ChatMessage]) -> Completion:
        return self.model.complete(messages, max_tokens=self.max_tokens, stop=["\n```\n\n"])

    @staticmethod
    def _messages(context: PlannerContext) -> list[ChatMessage]:
        messages = [ChatMessage.system(_system(context))]
        for user, assistant in EXAMPLES:
            messages += [ChatMessage.user(user), ChatMessage.assistant(assistant)]
        parts = [f"Instruction: {context.instruction}", "Scene:", context.scene_text]
        if context.knowledge:
            parts += ["Remember:", *[f"- {k}" for k in context.knowledge]]
        if context.answers:
            parts += ["Answers so far:", *[f"- {q} -> {a}" for q, a in context.answers]]
        if context.corrections:
            parts += [
                "The user corrected you (follow this now):",
                *[f"- {c.text}" for c in context.corrections],
            ]
        if context.last_moves:
            parts.append(
                "Your last step moved: "
                + "; ".join(f"{n} from [{x:.3f}, {y:.3f}]" for n, x, y in context.last_moves)
            )
        for i, step in enumerate(context.history[-MAX_HISTORY:], 1):
            parts += [f"Step {i} code:", step.code, f"Step {i} observation:", step.observation]
        failed = [s for s in context.history if not s.ok]
        if len(failed) >= 2 and failed[-1].code == failed[-2].code:
            parts.append("The same program failed twice: write a different one.")
        messages.append(ChatMessage.user("\n".join(parts)))
        return messages


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


def _system(context: PlannerContext) -> str:
    return SYSTEM.format(api=context.api)


def _merge(first: Completion, second: Completion) -> Completion:
    return Completion(
        text=second.text,
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        latency_s=first.latency_s + second.latency_s,
        model=second.model,
    )


def make_backend(spec: str = "embedded") -> EmbeddedPlanner | ChatPlanner:
    """`embedded` (offline default), `openai:MODEL@URL` or `hf:PATH[@DEVICE]`."""
    if spec == "embedded":
        return EmbeddedPlanner()
    return ChatPlanner(make_chat_model(spec))
