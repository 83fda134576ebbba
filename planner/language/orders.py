"""Orders people teach: "wrong order - the blue block always goes at the bottom, then the
red one", "from now on the order is green, yellow, red from the bottom", and for rows
"yellow on the left, cyan in the middle, orange on the right, same as always".

An order rule says in which order objects of given kinds are stacked, bottom first, or
stand in a row, left first. It applies to every later tower (or row) that involves at
least two of them and whose order the instruction leaves open; an order the instruction
states wins. `order_statement` writes a
rule in words `parse_order` reads back, which is how knowledge records carry it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from planner.language.grounding import Grounder, NounPhrase, describes, parse_np, share_kind
from planner.language.lexicon import GRASPABLE, normalize, normalize_rule, sentences
from skills.objects import ObjectState

_GENERAL = re.compile(  # said as a rule, or as one taught before ("i showed you that")
    r"\b(?:always|every time|each time|whenever|in future|in the future|"
    r"the order is|the stacking order is|the order should be|remember|as before|like before|"
    r"as usual|same as|i showed you|i told you|i said|from left to right|wrong order)\b"
)
_LEAD = re.compile(
    r"^(?:wrong order|no|nope|wrong|not like that|not in that order|not that order|"
    r"the other way round|always|remember)(?: again)?[,!.:]? "
)
_THEN = (
    r"\s*,?\s*(?:and then|then|and|followed by|next|above that|above it|on top of that|"
    r"after that)\s+"
)
STACK, ROW = "bottom to top", "left to right"
_ROW_PATTERNS = (
    re.compile(  # "yellow on the left, cyan in the middle, orange on the right"
        r"^(?P<first>.+?) (?:always )?(?:(?:goes|go|is|sits|comes) )?(?:on|at) the (?:far )?"
        r"left(?: end| side)?,? (?:then )?(?P<rest>.+?)"
        r"(?: in the middle| in the centre| in the center)?,? (?:and |with )?(?P<last>[a-z ]+?) "
        r"(?:(?:goes|go|is|sits|comes) )?(?:on|at) the (?:far )?right(?: end| side)?$"
    ),
    re.compile(  # "yellow, cyan, orange, left to right"
        r"^(?:(?:from )?left to right:? )?(?P<first>[a-z ]+?),\s*(?P<rest>.+?),? "
        r"(?:from )?left to right$"
    ),
    re.compile(  # "from left to right: yellow, cyan, orange" (and this form's statements)
        r"^(?:the order is )?(?:from )?left to right:? (?P<first>[a-z ]+?),\s*(?P<rest>.+)$"
    ),
)
_PATTERNS = (
    re.compile(
        r"^(?P<first>.+?) (?:should |must )?(?:always )*(?:(?:goes|go|is|sits|belongs|"
        r"comes) )?(?:at|on|to) the (?:very )?(?:bottom|base)(?:" + _THEN + r"(?P<rest>.+))?$"
    ),
    re.compile(
        r"^(?:always |every time )*(?:put|start with|begin with|place) "
        r"(?P<first>.+?) (?:at the bottom|first|at the base|on the bottom)(?:"
        + _THEN
        + r"(?P<rest>.+))?$"
    ),
    re.compile(
        r"^(?:always )*(?:the )?(?:stacking )?order (?:is|should be|must be)"
        r"(?: from the bottom| bottom to top| from bottom to top| from the bottom up)?:? "
        r"(?P<first>.+?)(?:,\s*| then | and )(?P<rest>.+)$"
    ),
    re.compile(
        r"^(?P<first>.+?) (?:always |should always |must always )(?:goes|go|belongs|sits) "
        r"(?:under|below|beneath|underneath) (?P<rest>.+)$"
    ),
)
_ITEM_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?(?:then\s+)?|\s+(?:and\s+)?then\s+|\s+and\s+")
_ITEM_TAIL = re.compile(
    r"\s+(?:on top|at the top|on the top|above it|last|after that|at the bottom|"
    r"from (?:the )?bottom(?: up)?|bottom to top|always|every time)$"
)


@dataclass(frozen=True)
class OrderRule:
    """Objects fitting `items` are stacked in that order, bottom first (`way` STACK), or
    stand in a row in that order from the robot's left (ROW); `source` is the words it was
    read from."""

    items: tuple[NounPhrase, ...]
    source: str = ""
    way: str = STACK

    def rank(self, obj: ObjectState) -> int | None:
        """The place in the order of the first item `obj` fits, or None."""
        for index, item in enumerate(self.items):
            if describes(item, obj):  # "big" items by the usual size, as rules read them
                return index
        return None

    def statement(self) -> str:
        return order_statement(self)


def parse_order(text: str) -> OrderRule | None:
    """The stacking order a sentence teaches ("always", "from now on", "the order is"),
    or None; a one-off ordering is a correction of the task, not a rule."""
    t = normalize_rule(text)
    if not _GENERAL.search(t):
        return None
    while _LEAD.match(t):
        t = _LEAD.sub("", t, count=1)
    t = re.sub(
        r",?\s*(?:(?:the )?same as (?:always|before)|as always|like always|as usual|"
        r"as i said|as before|(?:like|as) i showed you(?: before)?|like before)$",
        "",
        t,
    )
    for part in [*sentences(t), t]:
        rule = _rule_in(part.strip(" .!"), text)
        if rule is not None:
            return rule
    return None


def _rule_in(t: str, text: str) -> OrderRule | None:
    tagged = [*((p, ROW) for p in _ROW_PATTERNS), *((p, STACK) for p in _PATTERNS)]
    for pattern, way in tagged:
        m = pattern.match(t)
        if m is None or not m.group("rest"):
            continue
        last = m.groupdict().get("last")
        said = [m.group("first"), *_ITEM_SPLIT.split(m.group("rest")), *([last] if last else [])]
        items = []
        for phrase in said:
            item = parse_np(_ITEM_TAIL.sub("", phrase.strip(" ,.")))
            if not (item.colors or item.category):
                break  # a remark after the list: "..., then red, i showed you that before"
            items.append(item)
        items = share_kind(items)
        if len(items) >= 2:
            return OrderRule(tuple(items), text.strip(), way)
    return None


def order_statement(rule: OrderRule) -> str:
    """The order in words `parse_order` reads back."""
    first, *rest = (i.text for i in rule.items)
    if rule.way == ROW:
        return f"from left to right: {', '.join([first, *rest])}"
    return f"{first} always goes at the bottom, then {', then '.join(rest)}"


def orders_in(statements: Sequence[str]) -> list[OrderRule]:
    """The order rules among statements (corrections, knowledge), in order."""
    return [r for s in statements if (r := parse_order(s)) is not None]


FIRST, LAST, MIDDLE, AFTER, BEFORE = "first", "last", "middle", "after", "before"
_SAYS = r"(?:(?:goes|go|comes|come|is|sits|belongs|should be|should go|needs to be|has to be) )?"
_MOVE_PATTERNS = (
    (re.compile(rf"^(?P<item>.+?) {_SAYS}(?:at|on|to) the (?:far |very )?left end\b"), FIRST),
    (re.compile(rf"^(?P<item>.+?) {_SAYS}(?:at|on|to) the (?:far |very )?right end\b"), LAST),
    (re.compile(rf"^(?P<item>.+?) {_SAYS}(?:at the (?:start|beginning)|first)$"), FIRST),
    (re.compile(rf"^(?P<item>.+?) {_SAYS}(?:at the (?:very )?end|last)$"), LAST),
    (re.compile(rf"^(?P<item>.+?) {_SAYS}in the (?:middle|centre|center)$"), MIDDLE),
    (re.compile(rf"^(?:(?P<item>.+?) {_SAYS})?(?:right )?after (?P<other>.+)$"), AFTER),
    (re.compile(rf"^(?:(?P<item>.+?) {_SAYS})?(?:right )?before (?P<other>.+)$"), BEFORE),
    (re.compile(rf"^(?:(?P<item>.+?) {_SAYS})?between (?P<other>.+?) and .+$"), AFTER),
)


@dataclass(frozen=True)
class RowMove:
    """One object's new place in a row being lined up, left to right: at an end, in the
    middle, or just after/before another ("orange goes at the right end, after cyan")."""

    item: NounPhrase
    where: str
    other: NounPhrase | None = None


def parse_row_moves(text: str) -> list[RowMove]:
    """The places a correction gives objects of a row, clause by clause; a clause with no
    object of its own ("..., after cyan") is about the one named before."""
    moves: list[RowMove] = []
    item: NounPhrase | None = None
    t = _LEAD.sub("", normalize(text))
    for clause in re.split(r"\s*[,;.!]\s*(?:and\s+)?", t):
        for pattern, where in _MOVE_PATTERNS:
            m = pattern.match(clause.strip())
            if m is None:
                continue
            named = parse_np(m.group("item")) if m.group("item") else item
            other = parse_np(m.group("other")) if "other" in m.groupdict() else None
            if named is None or not _names_object(named) or (other and not _names_object(other)):
                break
            item = named
            moves.append(RowMove(named, where, other))
            break
    return moves


def _names_object(np_: NounPhrase) -> bool:
    return bool(np_.colors or np_.category) and np_.unknown is None


def moved_in_row(row: Sequence[ObjectState], moves: Sequence[RowMove]) -> list[ObjectState]:
    """A row (left first) after each move is made in turn; a move whose objects are not
    in the row is passed over."""
    out = list(row)
    for move in moves:
        obj = _fitting(out, move.item)
        other = _fitting(out, move.other) if move.other is not None else None
        if obj is None or (move.other is not None and (other is None or other is obj)):
            continue
        out.remove(obj)
        spot = {FIRST: 0, LAST: len(out), MIDDLE: len(out) // 2 + len(out) % 2}.get(move.where)
        if spot is None:
            assert other is not None
            spot = out.index(other) + (1 if move.where == AFTER else 0)
        out.insert(spot, obj)
    return out


def _fitting(row: Sequence[ObjectState], np_: NounPhrase | None) -> ObjectState | None:
    return next(
        (o for o in row if np_ is not None and Grounder([o]).candidates(np_, GRASPABLE)), None
    )


AS_ARRANGED = re.compile(  # "... - that's how I always want them": the order just made
    r"\b(?:that is|this is|that s|thats) (?:how|the way|the order)\b|"
    r"\b(?:like (?:this|that)|this way|that way|the same way|in that order)\b"
)
_ARRANGING = re.compile(r"\b(?:line|lined|row|stack|stacked|tower|pile|piled|arrange|arranged)\b")


def arranged_order(text: str, instruction: str, scene: Sequence[ObjectState]) -> OrderRule | None:
    """The order a habit said about the arrangement just made teaches ("line up the pink,
    blue and white blocks ... - that's how I always want them"): the things the instruction
    names by colour, as they stand at the end, left first in a row, bottom first in a tower;
    None unless it is said as a rule about a row or a tower."""
    t, said = normalize_rule(text), normalize(instruction)
    if not (AS_ARRANGED.search(t) and _GENERAL.search(t) and _ARRANGING.search(said)):
        return None
    named = [
        o
        for o in scene
        if o.category in GRASPABLE and o.color and re.search(rf"\b{o.color}\b", said)
    ]
    if len(named) < 2:
        return None
    tower = max(o.position[2] for o in named) - min(o.position[2] for o in named) > 0.02
    ordered = sorted(named, key=lambda o: o.position[2] if tower else -o.position[1])
    items = share_kind([parse_np(f"{o.color} {o.category}") for o in ordered])
    return OrderRule(items, text.strip(), STACK if tower else ROW)


def row_order(text: str, row: Sequence[ObjectState]) -> OrderRule | None:
    """The row order a correction teaches by moving objects of the row as it stood
    ("orange goes at the right end, after cyan"): the whole row after the moves, left
    first; None when it moves nothing (one-offs are never distilled at all)."""
    moves = parse_row_moves(text)
    if not moves:
        return None
    ordered = moved_in_row(sorted(row, key=lambda o: -o.position[1]), moves)
    items = tuple(parse_np(f"{o.color} {o.category}".strip()) for o in ordered)
    return OrderRule(items, text.strip(), ROW) if len(items) >= 2 else None
