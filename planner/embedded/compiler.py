"""Task frames to code-as-policy, grounded in the current scene.

The compiler keeps a virtual copy of the scene in which planned moves have already
happened, so later placements (a row, a tower, a second object in a zone) avoid what
earlier ones put down. Goals that already hold are skipped, so re-planning after a
failure continues where the robot is instead of starting over.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from shapely.geometry import LineString, Point

from perception import geometry
from planner.embedded.parser import RAINBOW, Frame, Target, parse_target
from planner.language.grounding import (
    MEASURES,
    Ambiguous,
    Grounder,
    GroundingError,
    NotFound,
    NounPhrase,
    Unknown,
    parse_np,
    share_kind,
)
from planner.language.lexicon import CONTAINERS, GRASPABLE, categories, normalize
from planner.language.never_rules import NeverRule
from planner.language.orders import ROW, STACK, OrderRule, RowMove, moved_in_row
from planner.language.rules import PlacementRule
from skills.frames import WORKSPACE_X, WORKSPACE_Y
from skills.objects import ROUND_CATEGORIES, ObjectState
from skills.primitives import MAX_LIFT_M, MAX_PUSH_M

EDGE_MARGIN = 0.05  # keep placed centres this far inside the workspace edge
CLEARANCE = 0.03  # free space kept around a placed object
SLANTS = (0, 30, -30, 45, -45)  # degrees off a side that still read as that side (geometry's
# dominant-direction rule allows about 63), tried in turn where straight that way is taken
DEFAULT_NUDGE = 0.10  # metres moved for "move it to the left" without a distance
# a bar's grasp can not turn a quarter, so its fingers may point at a neighbour: keep its
# release point this far (centre to centre) from standing neighbours that they would knock
NEIGHBOUR_REACH = {"bowl": 0.15, "cylinder": 0.13}
FINGER_SWEEP = 0.07  # how far the fingers reach from the release point along their axis
ZONE_EDGE_MARGIN = 0.015  # how far inside a zone's edge each of several objects' centres lies
ZONE_SPOT_MAX = 0.045  # and at most this far from its middle along each axis (9 cm apart)
PICK_SWEEP = 0.065  # how far the opened fingers reach from an object's centre to grasp it
CLEAR_SWEEP = 0.04  # fingers this far from every neighbour are clear either way round
LINE_GAP = 0.04  # free space between neighbours in a line
RULE_QUESTION = "You told me "  # how a question about breaking a taught rule begins
BESIDE = {"left_of", "right_of", "in_front_of", "behind", "near", "between"}  # relations
REGION_MARGIN = 0.015  # a spot for a region keeps the centre this far inside its edge
NEAR_LIMIT = 0.12  # "next to": footprints at most this far apart
LIFT_DEFAULT_M = 0.10  # "lift the block up": held this high, said out loud
NEAR_SLACK = 0.03  # "2 cm from": the near check never asks for footprints closer than this
PUSH_WORDS = {(0.0, 1.0): "left", (0.0, -1.0): "right", (1.0, 0.0): "away", (-1.0, 0.0): "front"}
PUSH_FINGER_REACH = 0.05  # the finger starts this far behind the pushed object
PUSH_CLEARANCE = 0.01  # room kept between a pushed object and what it passes
PALM_HALF_SPAN = 0.10  # the hand reaches this far either side of a push line (fingers across)
PALM_HEIGHT = 0.05  # ... at this height over the table: what is taller, the palm sweeps
PUSH_NEAR_LIMIT = 0.06  # "push it to the bowl": footprints this close after the push
WHICHEVER = re.compile(
    r"\b(?:any|either|whichever|you (?:choose|pick|decide)|does not matter|do not (?:mind|care)|"
    r"i am not fussed|random|up to you|your choice|no preference|your call|wherever|anywhere|"
    r"somewhere)\b"
)
YES = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|correct|right|exactly|indeed|of course|ok|okay|"
    r"that is right|that is it|please do|go ahead|do it)\b"
)


def agreed(answer: str) -> bool:
    """Whether the user's answer says yes, go ahead."""
    return YES.search(normalize(answer)) is not None


LINE_SIDES = {
    "top side": ("y", 0.63),
    "bottom side": ("y", 0.37),
    "left side": ("x", 0.23),
    "right side": ("x", -0.23),
}
RELATION_DIRECTIONS = {
    "left_of": (0.0, 1.0),
    "right_of": (0.0, -1.0),
    "behind": (1.0, 0.0),
    "in_front_of": (-1.0, 0.0),
}


class NeedsQuestion(Exception):
    """The plan cannot be made without asking the user."""


class NotUnderstood(NeedsQuestion):
    """The words themselves were not understood (a model may read them where one runs)."""


class Impossible(Exception):
    """The instruction cannot be carried out in this scene."""


class NotUnderstoodRefusal(Exception):
    """The user did not confirm the only reading the parser found."""


@dataclass
class Plan:
    """Generated code lines, or the reason to ask or refuse instead."""

    lines: list[str] = field(default_factory=list)
    question: str | None = None
    refusal: str | None = None
    goal: list[dict] = field(default_factory=list)  # success predicates of what it does
    notes: list[str] = field(default_factory=list)  # said before acting (defaults taken)
    understood: bool = True  # False: a question or refusal about words the parse lacks
    unchecked: list[str] = field(default_factory=list)  # parts no predicate can check
    chosen: list[tuple[str, ...]] = field(default_factory=list)  # towers ordered here, not said

    def code(self) -> str:
        if self.refusal is not None:
            return f"refuse({self.refusal!r})"
        if self.question is not None:
            return f"ask({self.question!r})"
        said = [f"say({note!r})" for note in self.notes]
        return "\n".join([*said, *self.lines, "done()"])


def _clear_of_bar(xy: tuple[float, float], obj: ObjectState, ref: ObjectState) -> bool:
    """Whether `obj` released at `xy` keeps clear of `ref` where one of them is a bar: by
    their footprints (a covering circle would keep a bar a bar's length away), and, for a
    bar, whose grasp can not turn, with its opened fingers clear of `ref` too."""
    placed = replace(obj, position=(xy[0], xy[1], obj.position[2]))
    if geometry.footprint_distance(placed, ref) < CLEARANCE * 0.5:
        return False
    if obj.category != "bar" or ref.category == "zone":  # flat: the fingers pass over it
        return True
    axis = (-math.sin(obj.yaw), math.cos(obj.yaw))
    sweep = LineString(
        [(xy[0] + k * FINGER_SWEEP * axis[0], xy[1] + k * FINGER_SWEEP * axis[1]) for k in (-1, 1)]
    )
    return geometry.footprint(ref).distance(sweep) >= CLEARANCE * 0.5


def _finger_room(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the finger that pushes from a towards b starts inside the workspace (a push
    from outside it is refused by the safety envelope)."""
    gap = math.dist(a, b)
    if gap < 1e-6:
        return True
    x = a[0] - (b[0] - a[0]) / gap * PUSH_FINGER_REACH
    y = a[1] - (b[1] - a[1]) / gap * PUSH_FINGER_REACH
    return WORKSPACE_X[0] <= x <= WORKSPACE_X[1] and WORKSPACE_Y[0] <= y <= WORKSPACE_Y[1]


def _leg(a: tuple[float, float], b: tuple[float, float]) -> tuple[tuple[float, float], float]:
    """A push from a to b: unit direction (rounded to an axis word where it is one) and length."""
    gap = math.dist(a, b)
    unit = (round((b[0] - a[0]) / gap, 3), round((b[1] - a[1]) / gap, 3))
    unit = tuple(0.0 if v == 0 else v for v in unit)  # no "-0.0"
    return (unit[0], unit[1]), gap


def _subjects(raw: dict, every: bool = False) -> list[str]:
    """The objects a goal predicate says where they end up (`every`: all it names)."""
    ((kind, args),) = raw.items()
    if kind == "not":
        return _subjects(args, every)
    names = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
    if every or kind in ("unmoved", "line"):
        return names
    return names[1:] if kind == "stacked" else names[:1]


def _radius(obj: ObjectState) -> float:
    """Radius of a circle covering the object's footprint."""
    if obj.category in ROUND_CATEGORIES:
        return min(obj.size[:2]) / 2.0
    return math.hypot(obj.size[0], obj.size[1]) / 2.0


def _like(ref: NounPhrase | None, objects: NounPhrase | None) -> NounPhrase | None:
    """ "the blue one", "the other": the same kind of thing as the object it is said of."""
    if ref is None or ref.category or ref.pronoun or objects is None or not objects.category:
        return ref
    if ref.other or re.search(r"\bones?\b", ref.text):
        return replace(ref, category=objects.category)
    return ref


def _well_inside(obj: ObjectState, xy: tuple[float, float], region: str) -> bool:
    """Whether `obj` set down at `xy` is in the region with its centre `REGION_MARGIN` from
    the edge, so that where it lands is still in the region."""
    return all(
        geometry.is_at(replace(obj, position=(xy[0] + dx, xy[1] + dy, obj.position[2])), region)
        for dx, dy in (
            (0, 0),
            (REGION_MARGIN, 0),
            (-REGION_MARGIN, 0),
            (0, REGION_MARGIN),
            (0, -REGION_MARGIN),
        )
    )


def _of_kind(ref: NounPhrase, objects: NounPhrase | None) -> NounPhrase:
    """A colour said of a group of one kind ("the blocks: yellow on top") is that kind."""
    if ref.category or ref.pronoun or objects is None or not objects.category:
        return ref
    return replace(ref, category=objects.category)


def _container_spots(container: ObjectState, n: int) -> list[tuple[float, float]]:
    """Offsets from a container's centre for n objects side by side (a bowl's round wall
    allows a ring of 3 cm radius; a zone's square a diagonal pair or a 2x2 grid, each
    centre `ZONE_EDGE_MARGIN` inside its edge, 3 to 4.5 cm from its middle each way)."""
    if n <= 1:
        return [(0.0, 0.0)]
    if container.category == "bowl":
        return [
            (0.03 * math.cos(a), 0.03 * math.sin(a))
            for a in (math.pi / 2 + 2 * math.pi * k / n for k in range(n))
        ]
    d = min(ZONE_SPOT_MAX, max(0.03, min(container.size[:2]) / 2 - ZONE_EDGE_MARGIN))
    return [(d, d), (-d, -d), (d, -d), (-d, d)][:n] + [(0.0, 0.0)] * max(0, n - 4)


def _choose(answer: str, candidates: list[ObjectState], mentioned: list[str]) -> ObjectState | None:
    """The one candidate an answer picks ("the green one", "the left one", "either"), if any."""
    text = normalize(answer)
    if WHICHEVER.search(text):
        return candidates[0]
    text = re.sub(
        r",?\s*\b(?:and |but )?not (?:the |a |that )?[a-z ]+$", "", text
    )  # "…, not the block"
    np_ = parse_np(text)
    kinds = tuple(dict.fromkeys(c.category for c in candidates))
    if np_.category and not set(categories(np_.category)) & set(kinds):
        return None
    grounder = Grounder(candidates, list(mentioned))
    try:
        if np_.superlative or np_.ordinal:
            fits = grounder.resolve(replace(np_, category=None), kinds)
        else:
            fits = grounder.candidates(np_, kinds)
    except GroundingError:
        return None
    return fits[0] if len(fits) == 1 else None


def _ranked_by(order: Sequence[NounPhrase]) -> tuple[str, str] | None:
    """The size measure and its end first, when every item of a said order is ranked by one
    size ("the smallest one nearest me and the biggest furthest away"): the whole group goes
    in that order."""
    ranks = {np_.superlative for np_ in order}
    if len(order) < 2 or len(ranks) != 2 or None in ranks:
        return None
    axes = {axis for axis, _ in ranks}
    if len(axes) != 1 or axes <= {"x", "y", "distance"}:
        return None
    return order[0].superlative


def _not_understood(frame: Frame) -> str:
    objects = frame.objects
    if frame.intent == "unknown" and objects is not None and (objects.category or objects.colors):
        return f"Where should I put {objects.text}? Could you say it another way?"
    return f"I did not understand {frame.text!r}. Could you say it another way?"


def _fmt(xy: tuple[float, float]) -> str:
    return f"[{xy[0]:.3f}, {xy[1]:.3f}]"


@dataclass
class Compiler:
    """Compiles frames against `scene`.

    Attributes:
        scene: the objects as the robot sees them now.
        answers: (question, answer) pairs from earlier questions of this task.
        replanning: an earlier program of this task failed; something may still be held.
        held: the object an earlier program picked and did not put down, if known.
        failed_picks: what earlier failed picks reported, oldest first.
        rules: where kinds of objects go (corrections of this task first, then retrieved
            knowledge best first); see `planner.language.rules`.
        never: where kinds of objects must never end up (`planner.language.never_rules`).
        orders: taught stacking orders, bottom first (`planner.language.orders`).
        row_moves: places this task's corrections gave objects of a row ("orange goes at
            the right end"), made in turn on the row as it stands.
        anchor: the objects as they were when the instruction was given, where its phrases
            are grounded ("the leftmost block" keeps meaning one block on a re-plan).
    """

    scene: list[ObjectState]
    answers: list[tuple[str, str]] = field(default_factory=list)
    replanning: bool = False
    held: str | None = None
    failed_picks: list[str] = field(default_factory=list)
    rules: list[PlacementRule] = field(default_factory=list)
    never: list[NeverRule] = field(default_factory=list)
    orders: list[OrderRule] = field(default_factory=list)
    row_moves: list[RowMove] = field(default_factory=list)
    anchor: list[ObjectState] = field(default_factory=list)

    def __post_init__(self) -> None:
        then = {o.name: o for o in self.anchor}
        self.grounder = Grounder([then.get(o.name, o) for o in self.scene], current=self.scene)
        self.virtual: dict[str, ObjectState] = {o.name: o for o in self.scene}
        self.plan = Plan()
        self.followed: list[PlacementRule] = []  # the rules that decided a destination
        self.followed_orders: list[OrderRule] = []  # the taught orders a tower follows
        self.followed_never: list[NeverRule] = []  # the never-rules that bound the plan
        self.waived: set[tuple[NeverRule, str]] = set()  # broken this time, the user said
        self.put_down: tuple[float, float] | None = None
        if self.replanning:
            self.put_down = self._set_down_spot()

    # --- entry ---------------------------------------------------------------------------
    def compile(self, frames: list[Frame]) -> Plan:
        try:
            if not frames:
                raise NotUnderstood("What would you like me to do?")
            for frame in frames:
                self._check_exists(frame)
            for frame in frames:
                self._confirm(frame)
                handler = getattr(self, f"_compile_{frame.intent}", None)
                if handler is None:
                    raise NotUnderstood(_not_understood(frame))
                start = len(self.plan.goal)
                handler(frame)
                self._supersede(start)
            self._keep_never_rules()
        except NeedsQuestion as question:
            understood = not isinstance(question, NotUnderstood)
            answered = self._answer_to(str(question))
            if answered is not None:  # asked once already: never the same question twice
                return Plan(
                    refusal=f"I asked {str(question)!r} and could not act on the answer "
                    f"{answered[:80]!r}, so I will not guess.",
                    understood=understood,
                )
            return Plan(question=str(question), understood=understood)
        except NotUnderstoodRefusal as reason:
            return Plan(refusal=str(reason), understood=False)
        except Impossible as reason:
            return Plan(refusal=str(reason))
        if self.put_down is not None and self.plan.lines:
            self.plan.lines[:0] = [
                "if holding():",
                f"    place({_fmt(self.put_down)})  # first set down what is still held",
            ]
        self._expect_bystanders_still()
        return self.plan

    def _expect_bystanders_still(self) -> None:
        """Everything the plan does not move must stay where it was: a knocked neighbour
        fails the goal instead of passing unseen."""
        start = {o.name: o.position for o in self.scene}
        moved = {n for n, o in self.virtual.items() if o.position != start.get(n)}
        named = [n for raw in self.plan.goal if "unmoved" in raw for n in raw["unmoved"]]
        self.plan.goal = [raw for raw in self.plan.goal if "unmoved" not in raw]
        in_goal = {  # what a thing is put beside stays where it is: it says where that is
            n for raw in self.plan.goal for n in _subjects(raw, every=not raw.keys() & BESIDE)
        }
        still = [
            o.name
            for o in self.scene
            if o.name in named or (o.name not in moved and o.name not in in_goal)
        ]
        if still:
            self._expect("unmoved", still)

    def put_back(self, moves: list[tuple[ObjectState, tuple[float, float]]]) -> Plan:
        """Return each object to the (x, y) it came from ("put it back")."""
        for obj, xy in moves:
            self._put(self.virtual[obj.name], xy, "back where it was")
        return self.plan

    def _answer_to(self, question: str) -> str | None:
        """The user's answer to this very question, if it was asked in this task."""
        return next((a for q, a in reversed(self.answers) if q == question), None)

    def _confirm(self, frame: Frame) -> None:
        """A clause only similarity could read is acted on only after the user says yes."""
        if not frame.guess:
            return
        question = f"I am not sure I understood {frame.text!r}. Do you mean: {frame.guess}?"
        said = self._answer_to(question)
        if said is None:
            raise NotUnderstood(question)
        if not agreed(said):
            raise NotUnderstoodRefusal(
                f"I did not understand {frame.text!r}; please say it another way."
            )

    def _check_exists(self, frame: Frame) -> None:
        """Refuse at once when a phrase names something the scene lacks, before any question."""
        phrases = [(frame.objects, CONTAINERS if frame.intent == "clear" else GRASPABLE)]
        if frame.target is not None:
            phrases += [(frame.target.ref, GRASPABLE + CONTAINERS)]
            phrases += [(frame.target.ref2, GRASPABLE + CONTAINERS)]
        phrases += [(np_, GRASPABLE) for np_ in (*frame.order, frame.base, frame.top)]
        for np_, kinds in phrases:
            for part in (np_.conjuncts or (np_,)) if np_ is not None else ():
                self._check_phrase(part, kinds)

    def _check_phrase(self, np_: NounPhrase, kinds: tuple[str, ...]) -> None:
        if np_.pronoun or np_.unknown:
            return
        bare = NounPhrase(
            np_.text,
            colors=np_.colors,
            category=np_.category,
            negated_colors=np_.negated_colors,
            word=np_.word,
            count=np_.count,
            plural=np_.plural,
        )
        found = self.grounder.candidates(bare, kinds)
        if not found or (np_.count is not None and len(found) < np_.count):
            raise Impossible(f"{NotFound(bare)}, so I will not move anything.")

    def _set_down_spot(self) -> tuple[float, float] | None:
        """Where to set down what a failed program may have left in the gripper.

        The object believed held (`held`) goes straight down if the table below it is
        free, else to the nearest free spot, and the plan is made with it there; anything
        else goes to the freest spot on the table.
        """
        obj = self.virtual.get(self.held or "")
        if obj is not None:
            xy = (obj.position[0], obj.position[1])
            spot = self._free_near(xy, obj, max_shift=0.1) or self._freest_spot()
            if spot is not None:
                self.virtual[obj.name] = replace(obj, position=(*spot, obj.size[2] / 2))
            return spot
        return self._freest_spot()

    def _freest_spot(self) -> tuple[float, float] | None:
        """The point of the workspace farthest from every object, if any is clear enough."""
        grid = [(x / 100, y / 100) for x in range(36, 66, 3) for y in range(-24, 25, 3)]
        clear = [
            xy
            for xy in grid
            if all(math.dist(xy, o.position[:2]) > _radius(o) + 0.09 for o in self.virtual.values())
        ]
        if not clear:
            return None
        return max(
            clear,
            key=lambda xy: min(math.dist(xy, o.position[:2]) for o in self.virtual.values()),
        )

    # --- grounding -----------------------------------------------------------------------
    def _resolve(
        self, np_: NounPhrase | None, kinds: tuple[str, ...] = GRASPABLE
    ) -> list[ObjectState]:
        if np_ is None:
            raise NotUnderstood("Which objects do you mean?")
        try:
            objs = [self.virtual[o.name] for o in self.grounder.resolve(np_, kinds)]
        except Ambiguous as amb:
            chosen = self._apply_answers(str(amb), amb.candidates)
            if chosen is None and self._answer_to(str(amb)) is not None:
                chosen = self._default(amb.candidates)
            if chosen is None:
                raise NeedsQuestion(str(amb)) from None
            self.grounder.remember([chosen])
            objs = [self.virtual[chosen.name]]
        except Unknown as unknown:
            raise NotUnderstood(str(unknown)) from None
        except NotFound as missing:
            if np_.pronoun and np_.plural:  # "stack them all" with nothing named: everything
                return self._resolve(NounPhrase(np_.text, every=True, plural=True), kinds)
            if np_.pronoun:
                return [self._unnamed(np_, kinds)]
            raise Impossible(f"{missing}, so I will not move anything.") from None
        moving = {o.name for o in objs}
        kept = [o.name for o in self.grounder.excluded(np_, kinds) if o.name not in moving]
        if kept:  # "all blocks but the red one", "do not touch the red block": it stays
            self._expect("unmoved", kept)
        if kinds == GRASPABLE:
            for obj in objs:
                if obj.category not in GRASPABLE:
                    raise Impossible(
                        f"I can not pick up the {obj.name}: only blocks, bars and cylinders "
                        "can be picked up."
                    )
        return objs

    def _default(self, candidates: list[ObjectState]) -> ObjectState:
        """After an answer that does not say which: the candidate nearest the robot, said
        out loud before acting."""
        chosen = min(candidates, key=lambda o: math.hypot(*o.position[:2]))
        others = ", ".join(f"the {o.name}" for o in candidates if o.name != chosen.name)
        self._note(
            f"You did not say which, so I take the {chosen.name}, the one nearest to me "
            f"(not {others})."
        )
        self._unchecked(f"that the {chosen.name}, taken by default, was the one meant")
        return chosen

    def _unnamed(self, np_: NounPhrase, kinds: tuple[str, ...]) -> ObjectState:
        """What "it" means when nothing was named before: ask, or use the answer."""
        question = f"Which object do you mean by {np_.text!r}?"
        everything = [o for o in self.scene if o.category in kinds]
        chosen = self._apply_answers(question, everything)
        if chosen is None:
            raise NeedsQuestion(question)
        self.grounder.remember([chosen])
        return self.virtual[chosen.name]

    def _resolve_one(self, np_: NounPhrase | None, kinds: tuple[str, ...]) -> ObjectState:
        if np_ is None:
            raise NotUnderstood("Where should it go?")
        single = replace(np_, plural=False, every=False, count=None)
        return self._resolve(single, kinds)[0]

    def _apply_answers(self, question: str, candidates: list[ObjectState]) -> ObjectState | None:
        """Narrow ambiguous candidates with the user's answers: those to this very question
        first, then any other, newest first."""
        same = [a for q, a in self.answers if q == question]
        other = [a for q, a in self.answers if q != question]
        for answer in [*reversed(same), *reversed(other)]:
            chosen = _choose(answer, candidates, self.grounder.mentioned)
            if chosen is not None:
                return chosen
        return None

    # --- goals ---------------------------------------------------------------------------
    def _expect(self, kind: str, args: object) -> None:
        """Add a success predicate (YAML form) to the plan's goal, once."""
        raw = {kind: args}
        if raw not in self.plan.goal:
            self.plan.goal.append(raw)

    def _supersede(self, start: int) -> None:
        """Drop what earlier clauses expected of objects a later clause (the goal from
        `start` on) moves again: "put it in the bowl, then on the block" ends on the block."""
        moved = {n for raw in self.plan.goal[start:] for n in _subjects(raw)}
        earlier = [
            raw for raw in self.plan.goal[:start] if not moved & set(_subjects(raw, every=True))
        ]
        self.plan.goal[:start] = earlier

    def _note(self, text: str) -> None:
        """Something the plan says out loud before acting, said once."""
        if text not in self.plan.notes:
            self.plan.notes.append(text)

    def _unchecked(self, what: str) -> None:
        self.plan.unchecked.append(what)

    # --- emitting ------------------------------------------------------------------------
    def _put(
        self,
        obj: ObjectState,
        target: ObjectState | tuple[float, float],
        comment: str = "",
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self._uncover(obj)
        if isinstance(target, ObjectState) and target.category in GRASPABLE:
            self._uncover(target, keep=obj.name)
            target = self.virtual[target.name]
        suffix = f"  # {comment}" if comment else ""
        if isinstance(target, ObjectState):
            where = f'"{target.name}"'
            turn = 0.0
            if offset != (0.0, 0.0):  # place() turns the fingers across the offset itself,
                where += f", offset={_fmt(offset)}"  # from the grasp's yaw: keep that at 0
            else:
                turn = self._grasp_turn(obj, target.position[:2], target.name)
            floor = target.bottom_z + 0.008 if target.category == "bowl" else target.top_z
            xy = (target.position[0] + offset[0], target.position[1] + offset[1])
            z = floor + obj.size[2] / 2
        else:
            where = _fmt(target)
            turn = self._grasp_turn(obj, target)
            xy, z = target, obj.size[2] / 2
        if turn or offset != (0.0, 0.0):
            yaw = f", yaw={math.degrees(turn):.0f}" if turn else ""
            self.plan.lines.append(f'pick("{obj.name}"{yaw})')
            self.plan.lines.append(f"place({where}){suffix}")
        else:
            self.plan.lines.append(f'put_first_on_second("{obj.name}", {where}){suffix}')
        self.virtual[obj.name] = replace(obj, position=(xy[0], xy[1], z))

    def _support(self, obj: ObjectState) -> ObjectState | None:
        """The graspable object `obj` stands on, if it stands on one."""
        here = self.virtual[obj.name]
        return next(
            (
                o
                for o in self.virtual.values()
                if o.name != obj.name and o.category in GRASPABLE and geometry.is_on(here, o)
            ),
            None,
        )

    def _uncover(self, obj: ObjectState, keep: str = "") -> None:
        """What rests on `obj` (a tower being rebuilt in another order), but `keep`, is set
        down on the freest spot first, from the top down: a covered block can not be picked
        nor have anything put on it."""
        for other in list(self.virtual.values()):
            if (
                other.name not in (obj.name, keep)
                and other.category in GRASPABLE
                and geometry.is_on(other, self.virtual[obj.name])
            ):
                self._set_aside(
                    other,
                    f"off the {obj.name} first",
                    f"there is no room to set down the {other.name} on it.",
                )

    def _set_aside(self, obj: ObjectState, comment: str, refusal: str) -> None:
        """Put `obj` (and first what rests on it) on the freest spot of the table, or refuse
        with `refusal` when no spot is free."""
        self._uncover(obj)  # before the spot is chosen: what is on it moves first
        spot = self._freest_spot()
        if spot is None:
            raise Impossible(refusal)
        self._put(self.virtual[obj.name], spot, comment)

    def _grasp_turn(
        self, obj: ObjectState, release: tuple[float, float], into: str | None = None
    ) -> float:
        """Extra grasp yaw (0 or a quarter turn) that keeps the fingers clear of neighbours,
        both where they open around `obj` to pick it and where they open to release it (at
        `release`, inside `into`, if given); after a failed pick of `obj`, the other one.
        Only square blocks and cylinders can be grasped either way round."""
        if obj.category not in ("block", "cylinder") or (
            obj.category == "block" and abs(obj.size[0] - obj.size[1]) > 1e-3
        ):
            return 0.0
        grasp = math.remainder(obj.yaw, math.pi / 2) if obj.category == "block" else 0.0
        sites = (  # released inside `into`, whose walls are not in the way
            (obj.position[:2], PICK_SWEEP, {obj.name}),
            (release, FINGER_SWEEP, {obj.name, into}),
        )

        def clearance(turn: float) -> float:
            axis = (-math.sin(grasp + turn), math.cos(grasp + turn))
            gaps = (self._sweep_clearance(skip, at, axis, reach) for at, reach, skip in sites)
            return min(CLEAR_SWEEP, *gaps)

        quarter = -math.copysign(math.pi / 2, grasp)  # the turn that keeps the wrist nearer 0
        turn = quarter if clearance(quarter) > clearance(0.0) + 0.005 else 0.0
        retries = sum(obj.name in failure for failure in self.failed_picks)
        return quarter - turn if retries % 2 else turn  # failed that way: the other way round

    def _sweep_clearance(
        self,
        skip: set[str | None],
        at: tuple[float, float],
        axis: tuple[float, float],
        reach: float,
    ) -> float:
        """Distance from the fingers' sweep (`reach` either side of `at` along `axis`) to the
        nearest standing object not in `skip`."""
        sweep = LineString(
            [
                (at[0] - reach * axis[0], at[1] - reach * axis[1]),
                (at[0] + reach * axis[0], at[1] + reach * axis[1]),
            ]
        )
        return min(
            (
                geometry.footprint(o).distance(sweep)
                for o in self.virtual.values()
                if o.name not in skip and o.category != "zone"
            ),
            default=CLEAR_SWEEP,
        )

    # --- free space ----------------------------------------------------------------------
    def _inside(self, xy: tuple[float, float], obj: ObjectState) -> bool:
        r = min(_radius(obj), EDGE_MARGIN)
        return (
            WORKSPACE_X[0] + r <= xy[0] <= WORKSPACE_X[1] - r
            and WORKSPACE_Y[0] + r <= xy[1] <= WORKSPACE_Y[1] - r
        )

    def _free(
        self,
        xy: tuple[float, float],
        obj: ObjectState,
        ignore: set[str] = frozenset(),
        beside: str | None = None,
    ) -> bool:
        """Whether `obj` fits at `xy`; `beside` is the object it is meant to stand close to."""
        for other in self.virtual.values():
            if other.name == obj.name or other.name in ignore:
                continue
            if "bar" in (obj.category, other.category) and (
                other.name == beside or other.category not in NEIGHBOUR_REACH
            ):
                if not _clear_of_bar(xy, obj, other):
                    return False
                continue
            gap = _radius(obj) + _radius(other) + CLEARANCE * 0.5
            if other.category == "zone":  # flat: only keep off it, not clear of its corners
                gap = min(other.size[:2]) / 2 + 0.01
            if obj.category == "bar" and other.name != beside:  # its grasp can not turn
                gap = max(gap, NEIGHBOUR_REACH.get(other.category, 0.0))
            if math.dist(xy, other.position[:2]) < gap:
                return False
        return self._inside(xy, obj)

    def _free_near(
        self,
        xy: tuple[float, float],
        obj: ObjectState,
        ignore: set[str] = frozenset(),
        max_shift: float = 0.06,
        beside: str | None = None,
    ) -> tuple[float, float] | None:
        """`xy` if free, else the nearest free point within `max_shift` (spiral search)."""
        if self._free(xy, obj, ignore, beside):
            return xy
        for radius in (0.015, 0.03, 0.045, 0.06, 0.08, 0.1):
            if radius > max_shift:
                break
            for k in range(12):
                a = 2 * math.pi * k / 12
                cand = (xy[0] + radius * math.cos(a), xy[1] + radius * math.sin(a))
                if self._free(cand, obj, ignore, beside):
                    return cand
        return None

    # --- frames --------------------------------------------------------------------------
    def _compile_move(self, frame: Frame) -> None:
        target = frame.target
        assert target is not None
        if target.kind in ("in", "on", "to"):
            self._move_onto(frame.objects, target)
        elif target.kind in RELATION_DIRECTIONS or target.kind == "near":
            self._move_beside(frame.objects, target)
        elif target.kind == "between":
            self._move_between(frame.objects, target)
        elif target.kind == "region":
            self._move_region(frame.objects, target.region or "center")
        elif target.kind == "offset":
            self._move_offset(frame.objects, target)
        elif target.kind == "away":
            self._move_away(frame.objects, target)
        elif target.kind == "start_of":
            self._move_to_start_of(frame.objects, target)
        elif target.kind == "home":
            self._move_home(frame.objects)
        else:
            raise NotUnderstood(f"I did not understand where to put it in {frame.text!r}.")

    def _move_home(self, objects: NounPhrase | None) -> None:
        """Each object to where a taught rule says it belongs ("put the can away"): a region,
        next to an object, or in or on one; asked once when no rule says."""
        for obj in self._resolve(objects):
            rule = next((r for r in self.rules if r.applies(obj)), None)
            this = parse_np(f"the {obj.name}")
            if rule is None:
                question = f"Where does the {obj.name} belong?"
                said = self._answer_to(question)
                _, target = parse_target(normalize(said)) if said else ("", None)
                if target is None and said and WHICHEVER.search(normalize(said)):
                    # "somewhere out of the way, you choose"
                    self._note(f"You left it to me: the {obj.name} goes to the freest spot.")
                    self._set_aside(
                        obj, "out of the way", f"there is no free spot for the {obj.name}."
                    )
                    spot = self.virtual[obj.name].position
                    shift = [round(spot[i] - obj.position[i], 3) for i in (0, 1)]
                    self._expect("shifted", [obj.name, shift])
                    continue
                if target is None or target.kind == "home":
                    raise NeedsQuestion(question)
                self._compile_move(Frame("move", objects=this, target=target, text=said))
                continue
            if rule not in self.followed:
                self.followed.append(rule)
            if rule.region is not None:
                self._move_region(this, rule.region)
            elif rule.relation == "near":
                self._move_beside(this, Target("near", rule.target))
            else:
                self._move_onto(this, Target(rule.relation, rule.target))

    def _move_onto(self, objects: NounPhrase | None, target: Target, tower: bool = False) -> None:
        """Into a container (side by side, or as a tower when `tower`), onto an object, or
        next to an object ("to the red block")."""
        objs = self._resolve(objects)
        ref = _like(target.ref, objects)
        moving = {o.name for o in objs}
        if ref is not None and ref.pronoun:  # "inside it": the last thing named that is not moving
            self.grounder.mentioned = [n for n in self.grounder.mentioned if n not in moving]
        elif ref is not None and ref.other:  # "on the other block": not the one that moves
            self.grounder.mentioned = [o.name for o in objs]
        groups: dict[str, list[ObjectState]] = {}
        default: ObjectState | None = None
        for obj in objs:
            dest = self._preferred(obj, ref) or self._allowed(obj, ref)
            if dest is None:
                default = default or self._resolve_one(ref, GRASPABLE + CONTAINERS)
                if target.kind == "in" and default.category in GRASPABLE:
                    raise Impossible(
                        f"nothing can go inside the {default.name}: it is not a container."
                    )
                dest = default
            groups.setdefault(dest.name, []).append(obj)
        for name, group in groups.items():
            self._move_group(group, self.virtual[name], target, tower)

    def _preferred(self, obj: ObjectState, ref: NounPhrase | None) -> ObjectState | None:
        """Where a placement rule sends `obj`: a rule from this task's corrections always
        applies; retrieved knowledge only where the instruction leaves the choice open."""
        if not self.rules:
            return None
        open_choice = ref is None or ref.any_one or self._ambiguous(ref)
        kinds = GRASPABLE + CONTAINERS
        fits = {o.name for o in self.grounder.candidates(ref, kinds)} if ref is not None else set()
        for rule in self.rules:
            if not (rule.override or open_choice) or not rule.applies(obj):
                continue
            dest = rule.destination(self.scene)
            if dest is None or dest.name == obj.name:
                continue
            if rule.override or ref is None or dest.name in fits:
                if rule not in self.followed:
                    self.followed.append(rule)
                return self.virtual[dest.name]
        return None

    def _allowed(self, obj: ObjectState, ref: NounPhrase | None) -> ObjectState | None:
        """Where `obj` goes when never-rules forbid some of the places an open choice ("a
        bowl") could pick: the leftmost place left, or None when no rule forbids any."""
        if not self.never or ref is None or not (ref.any_one or self._ambiguous(ref)):
            return None
        kinds = GRASPABLE + CONTAINERS
        fits = [o for o in self.grounder.candidates(ref, kinds) if o.name != obj.name]
        forbidding = {o.name: self._forbidding(obj, o) for o in fits}
        allowed = [o for o in fits if forbidding[o.name] is None]
        if len(allowed) == len(fits) or not allowed:
            return None  # nothing forbidden, or everything: the plan check refuses then
        chosen = max(allowed, key=lambda o: (o.position[1], o.name))
        said = " and ".join(sorted({r.source for r in forbidding.values() if r is not None}))
        self._note(f"You told me {said!r}: the {obj.name} goes to the {chosen.name}.")
        return self.virtual[chosen.name]

    def _forbidding(self, obj: ObjectState, place: ObjectState) -> NeverRule | None:
        """The never-rule that forbids putting `obj` in or on `place`, if one does."""
        return next((r for r in self.never if r.forbids(obj, place, self.scene)), None)

    def _keep_never_rules(self) -> None:
        """Refuse a plan that breaks a never-rule, and make the goal check each rule for
        every object the plan moves (`not in` / `not on` its forbidden places)."""
        by_name = {o.name: o for o in self.scene}
        for raw in list(self.plan.goal):
            ((kind, args),) = raw.items()
            if kind == "stacked":
                pairs = [(top, below) for below, top in pairwise(args)]
            elif kind in ("in", "on"):
                pairs = [(args[0], args[1])]
            else:
                continue
            for name, place in pairs:
                rule = self._forbidding(by_name[name], by_name[place])
                if rule is not None and not self._waived(rule, name, kind, place):
                    self.followed_never.append(rule)
                    raise Impossible(
                        f"you told me {rule.source!r}, so I will not put the {name} "
                        f"{kind if kind == 'in' else 'on'} the {place}."
                    )
        moved = sorted({n for raw in self.plan.goal for n in _subjects(raw)} & set(by_name))
        for rule in self.never:
            places = rule.places(self.scene)
            for name in (n for n in moved if rule.covers(by_name[n])):
                for place in (
                    p for p in places if p.name != name and (rule, name) not in self.waived
                ):
                    self._expect("not", {rule.relation: [name, place.name]})
                    if rule not in self.followed_never:
                        self.followed_never.append(rule)

    def _waived(self, rule: NeverRule, name: str, kind: str, place: str) -> bool:
        """Whether the user, asked once, says to break a never-rule this time ("put the can
        in the white bowl" said outright while "never put cans in the white bowl" holds)."""
        where = "in" if kind == "in" else "on"
        question = f"{RULE_QUESTION}{rule.source!r}. Put the {name} {where} the {place} anyway?"
        said = self._answer_to(question)
        if said is None:
            self.followed_never.append(rule)  # the rule is why the plan asks
            raise NeedsQuestion(question)
        if not agreed(said):
            return False
        self.waived.add((rule, name))
        self._note(f"You said to put the {name} {where} the {place} this time.")
        return True

    def _ambiguous(self, ref: NounPhrase) -> bool:
        """Whether the phrase fits several objects and nothing says which."""
        probe = replace(self.grounder, mentioned=list(self.grounder.mentioned))
        try:
            probe.resolve(
                replace(ref, plural=False, every=False, count=None), GRASPABLE + CONTAINERS
            )
        except Ambiguous:
            return True
        except GroundingError:
            return False
        return False

    def _move_group(
        self, objs: list[ObjectState], dest: ObjectState, target: Target, tower: bool
    ) -> None:
        objs = [o for o in objs if o.name != dest.name]
        self.grounder.remember(objs)  # "..., then put the green block on it": what moved
        if not objs:
            raise Impossible(f"there is nothing to put on the {dest.name}.")
        if target.kind == "to" and dest.category not in CONTAINERS:
            for obj in objs:
                self._expect("near", [obj.name, dest.name, NEAR_LIMIT])
                self._beside(obj, dest, None, None)
        elif dest.category in CONTAINERS and not (tower and len(objs) > 1):
            self._fill(objs, dest)
        else:
            self._tower(objs, dest)

    def _tower(self, objs: list[ObjectState], base: ObjectState) -> None:
        """Each object on the one before it, the first on (or in) `base`."""
        names = [o.name for o in objs]
        if base.category in CONTAINERS:
            self._expect("in", [names[0], base.name])
            if len(names) > 1:
                self._expect("stacked", names)
        else:
            self._expect("stacked", [base.name, *names])
        support = self._support(base) if base.category in GRASPABLE else None
        if support is not None and support.name in names:  # it must go above: base comes down
            self._set_aside(
                base,
                "down as the base",
                f"there is no room to set the {base.name} down as a base.",
            )
        below = self.virtual[base.name]
        for obj in objs:
            placed = self.virtual[obj.name]
            held = geometry.is_in(placed, below) if below.category in CONTAINERS else None
            if not (held or geometry.is_on(placed, below)):
                self._put(placed, below)
            below = self.virtual[obj.name]

    def _fill(self, objs: list[ObjectState], container: ObjectState) -> None:
        """Put objects into a bowl or zone side by side, not on top of each other."""
        for obj in objs:
            self._expect("in", [obj.name, container.name])
        todo = [o for o in objs if not geometry.is_in(self.virtual[o.name], container)]
        there = [
            o
            for o in self.virtual.values()
            if o.name != container.name and geometry.is_in(o, container)
        ]
        spots = _container_spots(container, len(there) + len(todo))
        for occupant in there:  # the spot each object already inside is closest to is taken
            here = (
                occupant.position[0] - container.position[0],
                occupant.position[1] - container.position[1],
            )
            spots.remove(min(spots, key=lambda s: math.dist(s, here)))
        for obj, offset in zip(todo, spots, strict=False):
            self._put(obj, container, offset=offset)

    def _beside(
        self, obj: ObjectState, ref: ObjectState, relation: str | None, distance: float | None
    ) -> None:
        if relation in RELATION_DIRECTIONS:  # straight that way, else slanted (near an edge)
            ux, uy = RELATION_DIRECTIONS[relation]
            directions = [
                (ux * math.cos(a) - uy * math.sin(a), ux * math.sin(a) + uy * math.cos(a))
                for a in (math.radians(d) for d in SLANTS)
            ]
        else:  # near: keep the side the object is on, else try all four
            dx, dy = obj.position[0] - ref.position[0], obj.position[1] - ref.position[1]
            first = (
                (0.0, math.copysign(1.0, dy))
                if abs(dy) >= abs(dx)
                else (math.copysign(1.0, dx), 0.0)
            )
            directions = [first, *[d for d in RELATION_DIRECTIONS.values() if d != first]]
        for ux, uy in directions:
            touching = ref.half_extent(ux, uy) + obj.half_extent(ux, uy)
            if distance is not None:  # centre to centre, as `left_of(obj, distance)` measures
                least = max(distance, touching + CLEARANCE)  # and never touching
                gaps = [least, least + 0.01, least + 0.02]
            else:
                gaps = [touching + CLEARANCE + extra for extra in (0.0, 0.02, 0.04, 0.06)]
            for gap in gaps:
                xy = (ref.position[0] + ux * gap, ref.position[1] + uy * gap)
                spot = self._free_near(
                    xy, obj, max_shift=0.0 if distance else 0.02, beside=ref.name
                )
                if spot is not None:
                    self._put(obj, spot, f"{relation or 'next to'} the {ref.name}")
                    return
        where = relation.replace("_", " ") if relation else "next to"
        raise Impossible(f"there is no free space {where} the {ref.name}.")

    def _move_beside(self, objects: NounPhrase | None, target: Target) -> None:
        ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
        for obj in self._resolve(objects):
            if obj.name == ref.name:
                continue
            relation = None if target.kind == "near" else target.kind
            self._expect_beside(obj, ref, relation, target.distance)
            if relation and self._holds(relation, obj, ref):
                continue
            self._beside(obj, ref, relation, target.distance)

    def _expect_beside(
        self, obj: ObjectState, ref: ObjectState, relation: str | None, distance: float | None
    ) -> None:
        if relation is not None:
            self._expect(relation, [obj.name, ref.name])
        limit = NEAR_LIMIT if distance is None else min(1.0, max(distance, NEAR_SLACK))
        if relation is None or distance is not None:
            self._expect("near", [obj.name, ref.name, round(limit, 3)])

    def _holds(self, relation: str, a: ObjectState, b: ObjectState) -> bool:
        test = {
            "left_of": geometry.is_left_of,
            "right_of": geometry.is_right_of,
            "behind": geometry.is_behind,
            "in_front_of": geometry.is_in_front_of,
        }[relation]
        return test(a, b) and not geometry.is_in(a, b)

    def _move_between(self, objects: NounPhrase | None, target: Target) -> None:
        if target.ref2 is None:  # "between the two bowls"
            pair = self._resolve(replace(target.ref, count=2), GRASPABLE + CONTAINERS)
            a, b = pair[0], pair[1]
        else:
            a = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
            b = self._resolve_one(target.ref2, GRASPABLE + CONTAINERS)
        (obj,) = self._resolve(objects)[:1]
        self._expect("between", [obj.name, a.name, b.name])
        mid = ((a.position[0] + b.position[0]) / 2, (a.position[1] + b.position[1]) / 2)
        spot = self._free_near(mid, obj, max_shift=0.015)
        if spot is None:
            raise Impossible(f"there is no room between the {a.name} and the {b.name}.")
        self._put(obj, spot, f"between the {a.name} and the {b.name}")

    def _move_region(self, objects: NounPhrase | None, region: str) -> None:
        objs = self._resolve(objects)
        anchor = geometry.region_point(region)
        for obj in objs:
            self._expect("at", [obj.name, region])
            if geometry.is_at(obj, region):
                continue
            spot = None
            for shift in (0.0, 0.03, 0.05, 0.07):
                spot = (
                    self._free_near(anchor, obj, max_shift=shift)
                    if shift
                    else (anchor if self._free(anchor, obj) else None)
                )
                if spot is not None and _well_inside(obj, spot, region):
                    break
                spot = None
            spot = spot or self._free_in_region(obj, region, anchor)
            if spot is None:
                raise Impossible(f"there is no free space at the {region}.")
            self._put(obj, spot, f"at the {region}")

    def _free_in_region(
        self, obj: ObjectState, region: str, anchor: tuple[float, float]
    ) -> tuple[float, float] | None:
        """The free point of a region nearest its anchor (a 1 cm grid over the workspace)."""
        grid = [(x / 100, y / 100) for x in range(30, 71) for y in range(-30, 31)]
        inside = [xy for xy in grid if _well_inside(obj, xy, region)]
        for xy in sorted(inside, key=lambda p: math.dist(p, anchor)):
            if self._free(xy, obj):
                return xy
        return None

    def _move_offset(self, objects: NounPhrase | None, target: Target) -> None:
        """ "10 cm to the left"; without a distance, as far as `DEFAULT_NUDGE` that fits."""
        ux, uy = target.direction or (0.0, 0.0)
        distances = (
            (target.distance,)
            if target.distance is not None
            else (DEFAULT_NUDGE, 0.08, 0.06, 0.04, 0.03)
        )
        for obj in self._resolve(objects):
            for distance in distances:
                xy = (obj.position[0] + ux * distance, obj.position[1] + uy * distance)
                spot = self._free_near(xy, obj, {obj.name}, max_shift=0.02)
                if spot is not None:
                    self._put(obj, spot, f"{distance * 100:.0f} cm over")
                    shift = [
                        round(spot[0] - obj.position[0], 3),
                        round(spot[1] - obj.position[1], 3),
                    ]
                    self._expect("shifted", [obj.name, shift])
                    break
            else:
                raise Impossible(
                    f"the {obj.name} can not move there: the space is taken or off the table."
                )

    def _move_to_start_of(self, objects: NounPhrase | None, target: Target) -> None:
        """ "where the yellow block was": the spot the other object stood on when the task
        began (free by now, if an earlier clause moved it away)."""
        ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
        (obj,) = self._resolve(objects)[:1]
        start = next(o for o in self.scene if o.name == ref.name)  # before this plan
        spot = (start.position[0], start.position[1])
        self._expect("at_start_of", [obj.name, ref.name])
        if not self._free(spot, obj, {obj.name}):
            raise Impossible(f"the spot where the {ref.name} was is still taken.")
        self._put(obj, spot, f"where the {ref.name} was")

    def _move_away(self, objects: NounPhrase | None, target: Target) -> None:
        ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
        self._unchecked(f"how far from the {ref.name}")
        for obj in self._resolve(objects):
            self._beside(obj, ref, None, target.distance)

    def _compile_clear(self, frame: Frame) -> None:
        """Everything in (or on) a container to the freest spots of the table."""
        container = self._resolve_one(frame.objects, CONTAINERS)
        if container.category not in CONTAINERS:
            raise NeedsQuestion(
                f"I can clear a bowl or a mat, not the {container.name}. What should I do?"
            )
        inside = [
            o
            for o in self.virtual.values()
            if o.category in GRASPABLE
            and geometry.is_in(o, container)
            and (frame.only is None or o.name in frame.only)
        ]
        for obj in inside:
            self._expect("not", {"in": [obj.name, container.name]})
            self._set_aside(
                obj,
                f"out of the {container.name}",
                f"there is no free spot on the table for the {obj.name}.",
            )

    def _compile_stack(self, frame: Frame) -> None:
        if frame.target is not None and frame.target.ref is not None:
            start = len(self.plan.goal)
            self._move_onto(frame.objects, Target("on", frame.target.ref), tower=True)
            built = [tuple(p["stacked"]) for p in self.plan.goal[start:] if "stacked" in p]
            self.plan.chosen += [t for t in built if len(t) > 2]  # "A and B on C": A or B first
            return
        kind = frame.objects if frame.objects and frame.objects.category else None
        said_group = frame.objects is not None and bool(frame.objects.text)  # not "a tower:"
        ends = bool(frame.base) + bool(frame.top)
        fill = len(frame.order) + ends < 2 or (len(frame.order) < 2 and said_group)
        group = self._resolve(frame.objects or parse_np("all blocks")) if fill else []
        said = frame.order[::-1] if frame.arrange == "top to bottom" else frame.order
        low, high = (frame.base,) if frame.base else (), (frame.top,) if frame.top else ()
        named = [*low, *said, *high]
        if kind is None:  # "red block at the bottom, then the green one": a block
            named = list(share_kind(named))
        cut = len(named) - len(high)
        base, middle, top = (  # "stack the blocks: yellow on top": the yellow block
            [self._resolve_one(_of_kind(np_, kind), GRASPABLE) for np_ in nps]
            for nps in (named[: len(low)], named[len(low) : cut], named[cut:])
        )
        if frame.loose:  # "a tower with the gray, yellow and black blocks": which, not how
            group, middle = middle, []
        ends = {o.name for o in base + top}
        middle = [o for o in middle if o.name not in ends]  # "..., with pink on top"
        chosen = ends | {o.name for o in middle}
        rest = [o for o in group if o.name not in chosen]
        held_clear = {  # what a never-rule keeps the others off goes on top
            o.name for o in rest if any(self._forbidding(p, o) for p in group if p is not o)
        }
        taught = self._taught_order(rest) or (lambda o: 0)
        then = group.index if frame.loose else (lambda o: -o.size[0] * o.size[1])
        middle += sorted(rest, key=lambda o: (o.name in held_clear, taught(o), then(o)))
        # then in a taught order, then as listed (or wide things low)
        order = base + middle + top
        if len(order) < 2:
            raise Impossible("a stack needs at least two objects.")
        if len(rest) > 1 or frame.loose:  # the words left the order (of some) open
            self.plan.chosen.append(tuple(o.name for o in order))
        self._tower(order[1:], order[0])

    def _taught_order(
        self, objs: list[ObjectState], way: str = STACK
    ) -> Callable[[ObjectState], int] | None:
        """The place of an object in the first taught order of this `way` (a tower, a row)
        that covers two or more of `objs` (those it does not cover after them), for one
        whose order was not said; None when no such order was taught."""
        for rule in (r for r in self.orders if r.way == way):
            ranks = {o.name: rank for o in objs if (rank := rule.rank(o)) is not None}
            if len(ranks) >= 2:
                if rule not in self.followed_orders:
                    self.followed_orders.append(rule)
                return lambda o: ranks.get(o.name, len(rule.items))
        return None

    def _compile_line(self, frame: Frame) -> None:
        objs = self._line_objects(frame)
        if len(objs) < 2:
            raise Impossible("a line needs at least two objects.")
        way = frame.arrange.removeprefix("rainbow ")
        taught = None if way or frame.side else self._taught_order(objs, ROW)
        if taught is not None:  # "yellow on the left, cyan, orange on the right, as always"
            objs, way = sorted(objs, key=taught), ROW
        if self.row_moves and not frame.order and way in ("", ROW) and not frame.side:
            row = objs if way else sorted(objs, key=lambda o: -o.position[1])
            objs, way = moved_in_row(row, self.row_moves), ROW  # "orange at the right end"
        spacing = max(max(o.size[:2]) for o in objs) + LINE_GAP
        span = spacing * (len(objs) - 1)
        ignore = {o.name for o in objs}
        column = way in ("front to back", "back to front")
        axis, fixed = LINE_SIDES.get(frame.side or "", ("x", 0.0) if column else ("y", 0.5))
        inward = -1.0 if fixed > 0.5 or (axis == "x" and fixed > 0) else 1.0
        across = (0.0, 0.04, 0.08) if frame.side else (0.0, 0.06, -0.06, 0.12, -0.12)
        if column and not frame.side:  # a column may stand anywhere across the table
            across += (0.18, -0.18, 0.24, -0.24)
        along = (0.0, 0.05, -0.05, 0.1, -0.1, 0.15, -0.15)
        if way:  # the order said: the first object at the start of the way
            ordered = list(reversed(objs)) if way in ("right to left", "back to front") else objs
            self._expect_order(objs, way)
        else:
            ordered = sorted(
                objs, key=(lambda o: -o.position[1]) if axis == "y" else (lambda o: o.position[0])
            )
        if len(objs) >= 3:
            self._expect("line", [o.name for o in ordered])
        elif not way:
            self._unchecked("a line of two")
        for obj in objs if frame.side else ():  # "along the far edge": each one there
            self._expect("at", [obj.name, frame.side])
        for strict, a, b in itertools.product((True, False), across, along):
            line_at = fixed + (inward * a if frame.side else a)
            steps = [span / 2 - i * spacing + b for i in range(len(objs))]
            if axis == "y":  # a row across the table at a fixed y, leftmost spot first
                spots = [(line_at, s) for s in steps]
            else:  # a column at a fixed y, nearest spot first when the order says so
                spots = [(0.5 - s, line_at) for s in steps]
                if not way:
                    spots.reverse()
            pairs = list(zip(spots, ordered, strict=True))
            if all(self._free(s, o, ignore) for s, o in pairs) and not (
                strict and self._still_taken(pairs)
            ):
                for spot, obj in pairs:
                    if math.dist(obj.position[:2], spot) > 0.01:
                        self._put(obj, spot, "in the line")
                return
        raise Impossible("there is no free stretch of table for the line.")

    def _still_taken(self, pairs: list[tuple[tuple[float, float], ObjectState]]) -> bool:
        """Whether a spot of a line is taken, when its object is put there, by an object of
        the line that moves after it (a row being reordered where it stands)."""
        return any(
            math.dist(spot, self.virtual[later.name].position[:2])
            < _radius(obj) + _radius(later) + CLEARANCE * 0.5
            for i, (spot, obj) in enumerate(pairs)
            for _, later in pairs[i + 1 :]
        )

    def _line_objects(self, frame: Frame) -> list[ObjectState]:
        """The objects of a line, in the order said (listed, or the rainbow's)."""
        group = self._named_group(frame.objects) if frame.order else []
        ranked = _ranked_by(frame.order)
        if ranked is not None and len(group) > 1:  # "the smallest nearest me, the biggest ..."
            axis, direction = ranked
            objs = sorted(group, key=MEASURES[axis], reverse=direction == "max")
        elif frame.order:
            objs = [self._in_group(_like(np_, frame.objects), group) for np_ in frame.order]
            if len({o.name for o in objs}) != len(objs):
                raise Impossible("the order names the same object twice.")
        else:
            objs = self._resolve(frame.objects)
        if frame.arrange.startswith("rainbow"):
            objs.sort(key=lambda o: RAINBOW.index(o.color) if o.color in RAINBOW else len(RAINBOW))
        return objs

    def _named_group(self, np_: NounPhrase | None) -> list[ObjectState]:
        """The objects a phrase names, when it names them plainly (else none)."""
        if np_ is None:
            return []
        try:
            return self.grounder.resolve(np_, GRASPABLE)
        except GroundingError:
            return []

    def _in_group(self, np_: NounPhrase, group: list[ObjectState]) -> ObjectState:
        """An item of a said order: "the block" is the block of the group just named."""
        fits = Grounder(group).candidates(np_) if group else []
        if len(fits) == 1:
            return self.virtual[fits[0].name]
        return self._resolve_one(np_, GRASPABLE)

    def _expect_order(self, objs: list[ObjectState], way: str) -> None:
        """Each object before the next along the way: "left to right" is left_of pairs."""
        relation = {
            "left to right": "left_of",
            "right to left": "right_of",
            "front to back": "in_front_of",
            "back to front": "behind",
        }[way]
        for a, b in pairwise(objs):
            self._expect(relation, [a.name, b.name])

    def _compile_triangle(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        if len(objs) != 3:
            raise Impossible(
                f"a triangle needs three objects, and {len(objs)} fit the description."
            )
        self._unchecked("the triangle's shape")
        ignore = {o.name for o in objs}
        for cx, cy in ((0.5, 0.0), (0.5, 0.12), (0.5, -0.12), (0.42, 0.0), (0.58, 0.0)):
            spots = [(cx + 0.055, cy), (cx - 0.03, cy + 0.055), (cx - 0.03, cy - 0.055)]
            if all(self._free(s, o, ignore) for s, o in zip(spots, objs, strict=True)):
                break
        else:
            raise Impossible("there is no free space for the triangle.")
        for obj, spot in zip(objs, spots, strict=True):
            self._put(obj, spot, "triangle corner")

    def _compile_match(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        ref = (
            frame.target.ref if frame.target and frame.target.ref else NounPhrase("all", every=True)
        )
        by_color: dict[str, ObjectState] = {}
        for c in self.grounder.candidates(ref, CONTAINERS):
            by_color.setdefault(c.color, c)
        matched = [o for o in objs if o.color in by_color]
        if not matched:
            raise Impossible("none of those objects has a container of its colour.")
        for color, container in by_color.items():
            group = [o for o in matched if o.color == color]
            if group:
                self._fill(group, container)

    def _compile_distribute(self, frame: Frame) -> None:
        """One object in each container, each to the nearest container still free."""
        objs = self._resolve(frame.objects)
        ref = frame.target.ref if frame.target is not None else None
        containers = self.grounder.candidates(ref or parse_np("all containers"), CONTAINERS)
        if frame.arrange == "one each":  # "a block in each bowl": as many as there are bowls
            objs = sorted(
                objs, key=lambda o: min(math.dist(o.position, c.position) for c in containers)
            )[: len(containers)]
        if len(objs) > len(containers):
            raise Impossible(
                f"there are {len(objs)} objects to share out and only {len(containers)} containers."
            )
        free = list(containers)
        for obj in sorted(objs, key=lambda o: min(math.dist(o.position, c.position) for c in free)):
            box = min(free, key=lambda c: math.dist(obj.position[:2], c.position[:2]))
            free.remove(box)
            self._fill([obj], self.virtual[box.name])

    def _compile_swap(self, frame: Frame) -> None:
        """Two objects trade places, by way of the freest spot of the table."""
        objs = self._resolve(frame.objects)
        if len(objs) != 2:
            raise Impossible(f"a swap needs two objects, and {len(objs)} fit the description.")
        a, b = objs
        spot_a, spot_b = (a.position[0], a.position[1]), (b.position[0], b.position[1])
        self._expect("at_start_of", [a.name, b.name])
        self._expect("at_start_of", [b.name, a.name])
        self._set_aside(
            a,
            "out of the way for the swap",
            f"there is no free spot to set the {a.name} down while swapping.",
        )
        self._put(self.virtual[b.name], spot_a, f"where the {a.name} was")
        self._put(self.virtual[a.name], spot_b, f"where the {b.name} was")

    def _compile_rotate(self, frame: Frame) -> None:
        """An object turned in place by the angle said (counter-clockwise seen from above)."""
        obj = self._resolve_one(frame.objects, GRASPABLE)
        if frame.angle is None:
            raise NeedsQuestion(f"How far should I turn the {obj.name}, in degrees?")
        if frame.angle % 360.0 == 0.0:
            raise Impossible(f"a full turn of the {obj.name} would leave it as it is.")
        angle = (frame.angle + 180.0) % 360.0 - 180.0  # 270 degrees one way is 90 the other
        self.plan.lines.append(f'rotate("{obj.name}", {angle:g})')
        self._expect("turned", [obj.name, abs(angle)])

    def _compile_lift(self, frame: Frame) -> None:
        """An object held up in the air, its bottom the height said above where it stood
        (a stated default when none is said); "hold it there" after a lift adds nothing."""
        obj = self._resolve_one(frame.objects, GRASPABLE)
        start = next(o for o in self.scene if o.name == obj.name)
        if frame.height is None and obj.position[2] > start.position[2]:
            return  # already held up by this plan
        height = frame.height
        if height is None:
            height = LIFT_DEFAULT_M
            said = f"{height * 100:g} cm"
            self._note(f"You did not say how high, so I hold the {obj.name} {said} up.")
        if not 0.0 < height <= MAX_LIFT_M:
            raise Impossible(
                f"I can hold things at most {MAX_LIFT_M * 100:g} cm up, not {height * 100:g} cm."
            )
        self.plan.lines.append(f'lift("{obj.name}", {height:.3f})')
        self._expect("raised", [obj.name, round(height, 3)])
        x, y, z = obj.position
        self.virtual[obj.name] = replace(obj, position=(x, y, z + height))

    def _compile_exclude(self, frame: Frame) -> None:
        """ "Do not touch the red block" on its own: nothing to do, and it must stay."""
        if frame.objects is not None:
            names = [o.name for o in self.grounder.candidates(frame.objects)]
            if names:
                self._expect("unmoved", names)

    def _compile_spread(self, frame: Frame) -> None:
        objs = self._resolve(frame.objects)
        names = [
            r
            for r in geometry.REGIONS
            if r.endswith("corner" if frame.side == "corners" else "side")
        ]
        if len(objs) > len(names):
            raise Impossible(f"there are {len(objs)} objects but only {len(names)} {frame.side}.")
        free = list(names)
        for obj in objs:
            here = next((r for r in free if geometry.is_at(obj, r)), None)
            if here is not None:
                free.remove(here)
        for obj in objs:
            here = next((r for r in names if r not in free and geometry.is_at(obj, r)), None)
            if here is not None:
                self._expect("at", [obj.name, here])
                continue
            for region in sorted(
                free, key=lambda r: math.dist(geometry.region_point(r), obj.position[:2])
            ):
                spot = self._free_near(geometry.region_point(region), obj, max_shift=0.04)
                if spot is not None:
                    free.remove(region)
                    self._expect("at", [obj.name, region])
                    self._put(obj, spot, f"at the {region}")
                    break
            else:
                raise Impossible(f"there are not enough free {frame.side} for every object.")

    def _compile_push(self, frame: Frame) -> None:
        obj = self._resolve_one(frame.objects, GRASPABLE)
        target = frame.target
        assert target is not None
        (ux, uy), distance = self._push_vector(obj, target, frame)
        end = (obj.position[0] + ux * distance, obj.position[1] + uy * distance)
        if not self._inside(end, obj):
            raise Impossible(f"pushing the {obj.name} that far would push it off the table.")
        try:
            legs = self._push_legs(obj, end, detour=target.kind == "region")
        except Impossible as blocked:
            if target.kind != "region":
                raise
            said = str(blocked).rstrip(".")  # "slide it to the corner": it gets there carried
            self._note(f"{said[0].upper()}{said[1:]}, so I carry it there instead.")
            self._move_region(parse_np(f"the {obj.name}"), str(target.region))
            return
        for (lx, ly), length in legs:
            direction = PUSH_WORDS.get((lx, ly)) or f"[{lx:.3f}, {ly:.3f}]"
            quoted = f'"{direction}"' if direction in PUSH_WORDS.values() else direction
            pieces = math.ceil(length / MAX_PUSH_M - 1e-9)  # one push goes at most so far
            self.plan.lines += [f'push("{obj.name}", {quoted}, {length / pieces:.3f})'] * pieces
        self._expect_push(obj, target, end)
        self.virtual[obj.name] = replace(obj, position=(*end, obj.position[2]))

    def _push_legs(
        self, obj: ObjectState, end: tuple[float, float], detour: bool
    ) -> list[tuple[tuple[float, float], float]]:
        """The straight push to `end`; where only the place it ends matters (`detour`: a
        region), two pushes along the table's axes around whatever stands in the way, and
        never a push through another object. A push the user aimed (a direction, an object)
        goes as aimed: what it disturbs, the goal check reports."""
        start = (obj.position[0], obj.position[1])
        if not detour:
            if not _finger_room(start, end):
                raise Impossible(f"the {obj.name} is too near the table's edge to push that way.")
            return [_leg(start, end)]
        routes = [[start, end], [start, (end[0], start[1]), end], [start, (start[0], end[1]), end]]
        routes = [r for r in routes if all(_finger_room(a, c) for a, c in pairwise(r))]
        blocker = None
        for route in routes:
            blocker = next(
                (b for a, c in pairwise(route) if (b := self._in_the_way(obj, a, c))), None
            )
            if blocker is None:
                return [_leg(a, c) for a, c in pairwise(route) if math.dist(a, c) > 1e-3]
        if blocker is None:
            raise Impossible(f"the {obj.name} is too near the table's edge to push it there.")
        raise Impossible(f"the {blocker.name} is in the way of pushing the {obj.name} there.")

    def _in_the_way(
        self, obj: ObjectState, a: tuple[float, float], b: tuple[float, float]
    ) -> ObjectState | None:
        """The first object the pushed one (and the finger behind it) would run into going
        from a to b."""
        gap = math.dist(a, b)
        if gap < 1e-6:
            return None
        ux, uy = (b[0] - a[0]) / gap, (b[1] - a[1]) / gap
        behind = (a[0] - ux * PUSH_FINGER_REACH, a[1] - uy * PUSH_FINGER_REACH)
        path = LineString([behind, b])
        for other in self.virtual.values():
            if other.name == obj.name or other.category == "zone":
                continue
            clear = _radius(obj) + _radius(other) + PUSH_CLEARANCE
            if other.size[2] > PALM_HEIGHT:  # a can: the palm above the fingers would hit it
                clear = max(clear, PALM_HALF_SPAN + _radius(other) + PUSH_CLEARANCE)
            if path.distance(Point(other.position[0], other.position[1])) < clear:
                return other
        return None

    def _expect_push(self, obj: ObjectState, target: Target, end: tuple[float, float]) -> None:
        """What a push must achieve: the region, the zone, near the object pushed toward, or
        the shift itself."""
        if target.kind == "region":
            self._expect("at", [obj.name, target.region or "center"])
        elif target.kind in ("offset", "away") or target.ref is None:
            shift = [round(end[0] - obj.position[0], 3), round(end[1] - obj.position[1], 3)]
            self._expect("shifted", [obj.name, shift])
        else:
            ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
            if target.kind == "onto" and ref.category == "zone":
                self._expect("in", [obj.name, ref.name])
            else:
                self._expect("near", [obj.name, ref.name, PUSH_NEAR_LIMIT])

    def _push_vector(
        self, obj: ObjectState, target: Target, frame: Frame
    ) -> tuple[tuple[float, float], float]:
        """Unit direction and distance of a push."""
        if target.kind == "offset":
            if target.direction is None:
                raise NeedsQuestion(f"Which way should I push the {obj.name}?")
            return target.direction, target.distance or DEFAULT_NUDGE
        if target.kind == "region":
            goal = geometry.region_point(target.region or "center")
        else:
            ref = self._resolve_one(target.ref, GRASPABLE + CONTAINERS)
            goal = ref.position[:2]
        dx, dy = goal[0] - obj.position[0], goal[1] - obj.position[1]
        gap = math.hypot(dx, dy)
        if gap < 1e-6:
            raise Impossible(f"the {obj.name} is already there.")
        unit = (dx / gap, dy / gap)
        if target.kind == "region":
            return unit, gap
        if target.kind == "away":
            return (-unit[0], -unit[1]), target.distance or DEFAULT_NUDGE
        if target.kind == "onto" and ref.category == "zone":
            return unit, target.distance or gap
        stop = max(0.02, gap - _radius(ref) - _radius(obj) - 0.01)
        return unit, target.distance or stop
