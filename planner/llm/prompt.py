"""The prompt every chat backend gets: one builder for local, OpenAI-compatible and
transformers models.

The conversation is laid out so that a step only adds to the one before (ReAct as chat
turns): the system prompt and the API listing; worked examples as earlier conversations
(instruction, scene, reply); the task (instruction, knowledge, the scene at
the start); then one assistant turn per step taken and one user turn per Observation. The
scene as it is now, the corrections and answers go in the last user turn only. A local
engine that keeps the previous prompt's KV state therefore evaluates only the newest turns
each step.
"""

from __future__ import annotations

from collections.abc import Sequence

from perception.scene_graph import scene_text
from planner.context import PlannerContext, TaskCorrection
from planner.goals import Layout, layouts
from planner.llm import goal_line, mentions
from planner.llm.base import ChatMessage
from planner.llm.examples import Example
from planner.reading import UNREAD, Reading
from skills.objects import ObjectState

SYSTEM = """You control a robot arm over a table by writing short Python programs.
Frame: x points away from the robot (front = small x, behind = large x), y to the robot's
left (left = large y, right = small y); the workspace is x 0.30..0.70, y -0.30..0.30.
Functions you may call:
{api}
Rules:
- Use object names exactly as the scene lists them, in double quotes. People use other
  words for the same kinds: a cube is a block, a can is a cylinder, a dish is a bowl, a
  mat, pad, tray, plate or square is a zone.
- One call per line. For places use the place functions (left_of, behind, between,
  region_pos, free_spot_near, ...) instead of arithmetic on coordinates.
- End with done() when the instruction is complete. Check every object the instruction
  names against the scene: if one is missing, the whole program is refuse("I can not see
  a ... here."); if a phrase fits several objects equally, the whole program is one
  ask("Which ...?"). Answer questions with say(...) and move nothing.
- If a step failed, fix the cause and continue from the scene as it is now.
How requests become calls (A, B, C: objects as the scene names them):
- "put/set/stack A on (top of) B", "A onto B", "A in B", "B under A":
  put_first_on_second(A, B); A moves, B stays.
- A tower: build_tower(bottom=A, above=[B, C]): A stays at the bottom, B goes on A and C
  on B; "A at the bottom, then B, then C" and "C on top of B on top of A" are both that.
  List only what the tower holds.
- "A to the left of / right of / behind / in front of B": put_first_on_second(A,
  left_of(B)) (right_of, behind, in_front_of); 15 cm is 0.15. "Next to / beside / near
  B": free_spot_near(B); "between B and C": between(B, C); a corner, the middle or a side
  of the table: region_pos(...), where top is the far edge and bottom the edge nearest me
  ("bottom right corner": the corner nearest me on my right). A row:
  line_up([A, B, C], order="right to left") starts at A and runs the way the words say:
  "left to right" (unsaid), "right to left", "front to back" (away from me) or "back to
  front"; along a side or edge: line_up([...], along="left side") (top side = far edge,
  bottom side = near edge).
- An object picked out by position, size or a relation ("the leftmost X", "the X
  closest to me", "the second X from the right", "the biggest X", "the X nearest to B"):
  find("leftmost X") with the instruction's own words, used where a name goes, also in
  the Goal line. Several ("every X except A", "the X that are not red", "two of the
  X"): find_all("X except A"), and put_all(find_all(...), B) puts each in B.
- "Push/slide/nudge A left 10 cm": push(A, "left", 0.10); towards me is "front".
- "Swap A and B", "A and B trade/switch places": swap(A, B).
- "Turn A a quarter turn" (90 degrees; half a turn is 180): rotate(A, 90); "lift A 10 cm",
  "hold A up": lift(A, 0.10).
Reply with one line "Thought: ...", one line "Goal: ..." and then one ```python block.
The Goal line says what will hold when the task is done, as checks on the scene:
in(a, container), on(a, b) (a on top of b), stacked(bottom, ..., top), left_of(a, b),
right_of(a, b), in_front_of(a, b), behind(a, b), near(a, b), between(a, b, c),
at(a, region), line(a, b, c), unmoved(a, ...), turned(a, degrees), raised(a, metres),
shifted(a, direction, metres) (as push), at_start_of(a, b); separated by "; ".
Write "Goal: none" for a question or a refusal.{situations}"""

MAX_HISTORY = 6  # most earlier steps shown; older ones are dropped


def assistant_reply(thought: str, code: str, goal: Sequence[dict] | str = ()) -> str:
    """A reply in the one format the planner asks for (and its grammar allows); `goal` is
    predicates, or the Goal line's body as said."""
    body = goal if isinstance(goal, str) else goal_line.render(goal)
    return f"Thought: {thought}\nGoal: {body}\n```python\n{code.rstrip()}\n```"


def _example_reply(example: Example) -> str:
    """An example's reply, its Goal line as the example says it."""
    return assistant_reply(example.thought, example.program, example.goal_said or example.goal)


def _task_turn(
    instruction: str,
    scene: str,
    objects: Sequence[ObjectState],
    knowledge: Sequence[str] = (),
    reading: Reading = UNREAD,
) -> str:
    """The task as the model first sees it; named objects the scene lacks are said, the
    order of each tower and row the words give (a small model reads "X on top" as X first,
    and lines a row up left to right whatever the words say) and the objects they pick out
    (by position or relation, which it reads off the coordinates badly, or in other words
    than the scene's)."""
    parts = [f"Instruction: {instruction}"]
    if knowledge:
        parts += ["Remember (what you were taught before):", *[f"- {k}" for k in knowledge]]
    parts += ["Scene:", scene]
    missing = mentions.note(instruction, objects)
    parts += [missing] if missing else []
    parts += [layout_line(layout) for layout in reading.layouts]
    if reading.picks:
        parts += ["Picked out by the words (as find() grounds them):"]
        parts += [f"- {pick.line()}" for pick in reading.picks]
    return "\n".join(parts)


def layout_line(layout: Layout) -> str:
    """A tower's or a row's order as the task turn says it."""
    return f"{layout.kind.capitalize()} the words give, {layout.way}: {', '.join(layout.names)}."


def example_turn(example: Example) -> str:
    """An example's task as a real task's turn shows it, scene and all: a reply that picks
    "the nearest block" must be seen picking it off the scene, or a small model copies
    the example's answer instead of reading its own scene."""
    orders = layouts([p for p in example.goal if "on" not in p])  # a pair is no tower here
    reading = Reading(orders)
    return _task_turn(example.instruction, scene_text(example.scene), example.scene, (), reading)


def _correction_text(correction: TaskCorrection) -> str:
    """A correction with what it refers to: what the program before it moved, from where
    to where the objects were when the user spoke."""
    line = f'- "{correction.text}" ({correction.intent})'
    then = {o.name: o for o in correction.scene}
    moves = []
    for name, x, y in correction.moved:
        now = then.get(name)
        where = f" to [{now.position[0]:.3f}, {now.position[1]:.3f}]" if now else ""
        moves.append(f"{name} from [{x:.3f}, {y:.3f}]{where}")
    if moves:
        line += "; your program before it moved " + ", ".join(moves)
    return line


def _latest_turn(context: PlannerContext, observation: str | None) -> str:
    parts = [] if observation is None else ["Observation:", observation, ""]
    if observation is not None:
        parts += ["Scene now:", context.scene_text]
    if context.corrections:
        parts += ["The user corrected you (follow this now, over the instruction's wording):"]
        parts += [_correction_text(c) for c in context.corrections]
    if context.answers:
        parts += ["Answers to your questions:", *[f"- {q} -> {a}" for q, a in context.answers]]
    failed = [s for s in context.history if not s.ok]
    if len(failed) >= 2 and failed[-1].code == failed[-2].code:
        parts.append("The same program failed twice: write a different one.")
    if observation is not None:
        parts.append("Continue the instruction from here; if it is complete, reply done().")
    return "\n".join(parts)


def system_prompt(api: str, situations: Sequence[Example] = ()) -> str:
    """The system prompt: the API listing, the rules and the examples whose right answer
    depends on the scene (a missing or an ambiguous object), which every task may need and
    which the prefix cache keeps for good."""
    shown = "".join(f"\n\n{example_turn(e)}\n{_example_reply(e)}" for e in situations)
    return SYSTEM.format(api=api, situations=f"\nWhen the scene decides:{shown}" if shown else "")


def build_messages(
    context: PlannerContext,
    examples: Sequence[Example],
    situations: Sequence[Example] = (),
    reading: Reading = UNREAD,
    max_history: int = MAX_HISTORY,
) -> list[ChatMessage]:
    """The chat for the next step of the task in `context`; `reading` is what a reader of
    its words found in them (towers, rows, objects picked out)."""
    messages = [ChatMessage.system(system_prompt(context.api, situations))]
    for example in examples:
        messages += [
            ChatMessage.user(example_turn(example)),
            ChatMessage.assistant(_example_reply(example)),
        ]
    first_scene = context.initial_scene_text or context.scene_text
    objects = context.initial_scene or context.scene
    task = _task_turn(context.instruction, first_scene, objects, context.knowledge, reading)
    history = context.history[-max(1, max_history) :]
    if not history:
        latest = _latest_turn(context, None)
        messages.append(ChatMessage.user(task + (f"\n{latest}" if latest else "")))
        return messages
    messages.append(ChatMessage.user(task))
    for i, step in enumerate(history):
        messages.append(ChatMessage.assistant(assistant_reply(step.thought, step.code, step.goal)))
        if i < len(history) - 1:
            messages.append(ChatMessage.user(f"Observation:\n{step.observation}"))
    messages.append(ChatMessage.user(_latest_turn(context, history[-1].observation)))
    return messages
