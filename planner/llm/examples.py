"""Worked examples for LLM prompts, chosen by meaning for each instruction.

The library (`data/examples.yaml`) holds (instruction, scene, Thought, program) pairs that
a test runs in the simulator, so every program a prompt shows is known to work. A prompt
takes the few nearest to the task's instruction by MiniLM cosine (word overlap when the
embedder is missing), so a stacking task sees stacking programs instead of a fixed pair
a small model would copy into every task.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from memory.embedder import EmbedderUnavailable, MiniLMEmbedder, default_embedder
from perception.predicate_yaml import read_predicate_yaml
from skills.objects import ObjectState
from skills.palette import PALETTE

LIBRARY = Path(__file__).with_name("data") / "examples.yaml"
ENDINGS = ("done", "refused", "asked")
_ORDER = tuple(PALETTE)
RECOLOUR = dict(zip(_ORDER, _ORDER[6:] + _ORDER[:6], strict=True))
"""Each colour's stand-in in a recoloured example: a fixed permutation that moves every
colour, so an example has one other look and its prompt prefix still repeats across tasks."""
RECOLOURED = "/recoloured"  # the suffix of a recoloured example's id
_COLOR_WORD = re.compile(r"\b(?:" + "|".join(_ORDER) + r")\b")


@dataclass(frozen=True)
class Example:
    """One worked example.

    Attributes:
        id: unique name in the library.
        instruction: what the user asked.
        scene: the objects it was asked about.
        thought: the Thought line of the reply.
        program: the code of the reply (no fences).
        ends: how the program ends the step: ``done``, ``refused`` or ``asked``.
        aliases: other ways to ask for the same kind of task, matched when choosing
            examples (never shown in prompts).
        situational: what makes it right is the scene, not the words (a missing or an
            ambiguous object): never chosen by similarity, which would copy its refusal
            or question into tasks that only sound alike.
        goal: the success predicates the program is verified against (shown as the
            reply's Goal line; empty for a refusal or a question).
        goal_said: the Goal line as the reply says it when it names objects by their
            description (``in(find("leftmost block"), "green bowl")``); "" to show `goal`.
    """

    id: str
    instruction: str
    scene: tuple[ObjectState, ...]
    thought: str
    program: str
    ends: str = "done"
    aliases: tuple[str, ...] = ()
    situational: bool = False
    goal: tuple[dict, ...] = ()
    goal_said: str = ""

    def phrasings(self) -> tuple[str, ...]:
        return (self.instruction, *self.aliases)

    def colors(self) -> frozenset[str]:
        return frozenset(o.color for o in self.scene)

    def recoloured(self) -> Example:
        """The same example with every colour swapped for another (`RECOLOUR`): shown
        instead where the task's scene has the example's colours, whose names a small
        model otherwise copies from the example's answer."""

        def words(text: str) -> str:
            return _COLOR_WORD.sub(lambda m: RECOLOUR[m.group()], text)

        def names(value: object) -> object:
            if isinstance(value, str):
                return words(value)
            if isinstance(value, list | tuple):
                return type(value)(names(v) for v in value)
            return {k: names(v) for k, v in value.items()} if isinstance(value, dict) else value

        scene = tuple(replace(o, name=words(o.name), color=RECOLOUR[o.color]) for o in self.scene)
        return replace(
            self,
            id=f"{self.id}{RECOLOURED}",
            instruction=words(self.instruction),
            scene=scene,
            thought=words(self.thought),
            program=words(self.program),
            goal=names(self.goal),  # type: ignore[arg-type]
            goal_said=words(self.goal_said),
        )


def _state(raw: dict, sizes: dict[str, list[float]]) -> ObjectState:
    x, y, *yaw = raw["pose"]
    size = tuple(float(v) for v in sizes[raw["type"]])
    return ObjectState(
        raw["name"],
        raw["type"],
        raw["color"],
        (float(x), float(y), size[2] / 2),
        size,  # type: ignore[arg-type]
        math.radians(yaw[0]) if yaw else 0.0,
    )


def load_examples(path: Path = LIBRARY) -> tuple[Example, ...]:
    """The examples in a library file (the verification fields are left to the test)."""
    data = read_predicate_yaml(path.read_text(encoding="utf-8"))
    sizes = data["sizes"]
    examples = tuple(
        Example(
            id=item["id"],
            instruction=item["instruction"],
            scene=tuple(_state(o, sizes) for o in item["objects"]),
            thought=item["thought"],
            program=item["program"].strip("\n"),
            ends=item.get("ends", "done"),
            aliases=tuple(item.get("aliases", ())),
            situational=bool(item.get("situational", False)),
            goal=tuple(item["success"]) if item.get("ends", "done") == "done" else (),
            goal_said=item.get("goal", ""),
        )
        for item in data["examples"]
    )
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids) or any(e.ends not in ENDINGS for e in examples):
        raise ValueError(f"{path}: example ids must be unique and ends one of {ENDINGS}")
    return examples


LEXICAL_WEIGHT = 0.3  # weight of shared content words beside the embeddings' cosine
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "and",
        "it",
        "in",
        "on",
        "into",
        "onto",
        "put",
        "move",
        "place",
        "set",
        "please",
        "can",
        "you",
        "could",
        "would",
        "then",
        "that",
        "is",
        "are",
        "be",
        "with",
        "by",
        "from",
        "for",
        "thing",
    ]
)


def _words(text: str) -> set[str]:
    """The content words of a skeleton ("leftmost", "except", "top"): what the task does."""
    return set(re.findall(r"[a-z]+", text.lower())) - _FUNCTION_WORDS


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


_OBJECT_WORDS = re.compile(
    r"\b(red|orange|yellow|green|cyan|blue|purple|pink|brown|white|gray|grey|black|"
    r"blocks?|cubes?|bowls?|dish(?:es)?|cans?|cylinders?|bars?|zones?|mats?|pads?|trays?|"
    r"plates?|objects?|things?|items?|ones?)\b"
)


def skeleton(text: str) -> str:
    """The instruction with colours and object nouns made "thing": examples are chosen for
    what is done and how it is said, not for which objects happen to be named."""
    return re.sub(r"(thing )+", "thing ", _OBJECT_WORDS.sub("thing", text.lower()))


class ExampleLibrary:
    """Finds the examples nearest to an instruction in meaning."""

    def __init__(self, examples: Sequence[Example], embedder: MiniLMEmbedder | None = None) -> None:
        if not examples:
            raise ValueError("an example library needs at least one example")
        self.examples = tuple(examples)
        self._embedder = embedder
        self._vectors: np.ndarray | None = None

    def nearest(self, instruction: str, k: int = 3, colors: Collection[str] = ()) -> list[Example]:
        """The `k` examples most similar to `instruction`, in library order: tasks of one
        kind then get the same examples in the same order, so a local engine reuses their
        evaluation from one task to the next. Each is shown recoloured where that shares
        fewer colours with the task's scene (`colors`)."""
        scores = self._scores(instruction)
        candidates = [i for i, e in enumerate(self.examples) if not e.situational]
        chosen = sorted(candidates, key=lambda i: (-scores[i], i))[:k]
        return [_least_alike(self.examples[i], set(colors)) for i in sorted(chosen)]

    def situational(self) -> list[Example]:
        """The examples chosen by the scene rather than the words (shown to every task)."""
        return [e for e in self.examples if e.situational]

    def _scores(self, instruction: str) -> list[float]:
        """Each example's best similarity over its phrasings: the embeddings' cosine
        (dense) plus a share of the content words both use (lexical), as hybrid search
        does: "on top of" and "except" weigh more than the embedding alone gives them."""
        owners = [i for i, e in enumerate(self.examples) for _ in e.phrasings()]
        texts = [skeleton(t) for e in self.examples for t in e.phrasings()]
        instruction = skeleton(instruction)
        words = _words(instruction)
        similarity = [LEXICAL_WEIGHT * _overlap(words, _words(t)) for t in texts]
        try:
            embedder = self._embedder or default_embedder()
            if self._vectors is None:
                self._vectors = embedder.embed(texts)
            cosine = self._vectors @ embedder.embed([instruction])[0]
            similarity = [s + float(c) for s, c in zip(similarity, cosine, strict=True)]
        except EmbedderUnavailable:
            pass  # shared words alone
        best = [-1.0] * len(self.examples)
        for owner, score in zip(owners, similarity, strict=True):
            best[owner] = max(best[owner], score)
        return best


def _least_alike(example: Example, colors: set[str]) -> Example:
    """`example`, or its recolouring when that shares fewer colours with `colors`."""
    other = example.recoloured()
    return other if len(other.colors() & colors) < len(example.colors() & colors) else example


@functools.cache
def default_library() -> ExampleLibrary:
    """The library shipped with the package, loaded once per process."""
    return ExampleLibrary(load_examples())
