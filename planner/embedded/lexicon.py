"""Words the embedded planner understands: colours, categories, numbers, places, directions.

Everything here is data; `normalize` turns an utterance into the canonical vocabulary
(British spellings, synonyms, number words) so the parser sees one form of each idea.
"""

from __future__ import annotations

import re

COLORS = (
    "blue",
    "red",
    "green",
    "orange",
    "yellow",
    "purple",
    "pink",
    "cyan",
    "brown",
    "gray",
    "white",
    "black",
)
COLOR_SYNONYMS = {
    "grey": "gray",
    "silver": "gray",
    "violet": "purple",
    "lilac": "purple",
    "aqua": "cyan",
    "teal": "cyan",
    "turquoise": "cyan",
    "crimson": "red",
    "scarlet": "red",
    "navy": "blue",
    "lime": "green",
    "gold": "yellow",
    "golden": "yellow",
    "magenta": "pink",
    "rose": "pink",
    "tan": "brown",
    "chocolate": "brown",
}

# canonical category -> words that name it (singular; plurals derived)
CATEGORY_WORDS = {
    "block": ("block", "cube", "box", "brick", "square block"),
    "bar": ("bar", "stick", "beam", "rod", "plank", "long block", "rectangular block"),
    "cylinder": ("cylinder", "can", "tin", "tube", "canister", "cylindrical object"),
    "bowl": ("bowl", "dish", "basin", "container", "cup"),
    "zone": ("zone", "mat", "pad", "patch", "target area", "area", "square", "region", "spot"),
}
GENERIC_WORDS = ("object", "thing", "item", "piece", "one", "toy")
GRASPABLE = ("block", "bar", "cylinder")
CONTAINERS = ("bowl", "zone")

NUMBER_WORDS = {
    "a pair of": "2",
    "zero": "0",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "twelve": "12",
    "fifteen": "15",
    "twenty": "20",
    "couple of": "2",
    "a couple": "2",
}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "last": -1,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
}

REGION_WORDS = {
    "top left corner": (
        "top left corner",
        "upper left corner",
        "far left corner",
        "back left corner",
        "top left",
    ),
    "top right corner": (
        "top right corner",
        "upper right corner",
        "far right corner",
        "back right corner",
        "top right",
    ),
    "bottom left corner": (
        "bottom left corner",
        "lower left corner",
        "near left corner",
        "front left corner",
        "bottom left",
    ),
    "bottom right corner": (
        "bottom right corner",
        "lower right corner",
        "near right corner",
        "front right corner",
        "bottom right",
    ),
    "top side": (
        "top side",
        "top edge",
        "far side",
        "far edge",
        "back edge",
        "upper side",
        "back side",
        "top of the table",
        "far end",
    ),
    "bottom side": (
        "bottom side",
        "bottom edge",
        "near side",
        "near edge",
        "front edge",
        "lower side",
        "front side",
        "bottom of the table",
        "near end",
    ),
    "left side": ("left side", "left edge", "left of the table", "left half"),
    "right side": ("right side", "right edge", "right of the table", "right half"),
    "center": ("center", "centre", "middle", "center of the table", "middle of the table"),
}

# relation -> words before the reference object
RELATION_WORDS = {
    "left_of": ("to the left of", "left of", "on the left of", "at the left of"),
    "right_of": ("to the right of", "right of", "on the right of", "at the right of"),
    "behind": ("behind", "in back of", "beyond", "further back than", "on the far side of"),
    "in_front_of": ("in front of", "before", "on the near side of", "closer to me than"),
    "near": ("next to", "beside", "near", "close to", "by", "alongside", "near to"),
}
# direction words (table frame: left = +y, front/near = -x)
DIRECTION_VECTORS = {
    "left": (0.0, 1.0),
    "right": (0.0, -1.0),
    "forward": (1.0, 0.0),
    "away": (1.0, 0.0),
    "back": (1.0, 0.0),
    "backward": (1.0, 0.0),
    "backwards": (1.0, 0.0),
    "up": (1.0, 0.0),
    "toward me": (-1.0, 0.0),
    "towards me": (-1.0, 0.0),
    "front": (-1.0, 0.0),
    "down": (-1.0, 0.0),
    "closer": (-1.0, 0.0),
    "toward the robot": (-1.0, 0.0),
    "towards the robot": (-1.0, 0.0),
    "further": (1.0, 0.0),
    "farther": (1.0, 0.0),
}
AMOUNTS_M = {
    "a tiny bit": 0.02,
    "a little": 0.03,
    "a bit": 0.04,
    "slightly": 0.03,
    "a lot": 0.15,
    "far": 0.15,
    "a little bit": 0.03,
}

_CONTRACTIONS = {
    "can't": "can not",
    "don't": "do not",
    "isn't": "is not",
    "aren't": "are not",
    "won't": "will not",
    "it's": "it is",
    "that's": "that is",
    "let's": "let us",
    "i'd": "i would",
    "you'd": "you would",
    "what's": "what is",
}


def plural(word: str) -> str:
    if word.endswith(("sh", "ch", "x", "s")):
        return word + "es"
    return word + "s"


def _word_pattern(phrases: dict[str, str]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")\b")


_COLOR_RE = _word_pattern(COLOR_SYNONYMS)
_NUMBER_RE = _word_pattern(NUMBER_WORDS)


def normalize(text: str) -> str:
    """Lower-case, expand contractions, unify spellings and number words, tidy spacing."""
    t = text.lower().replace("’", "'").replace("-", " ")
    for short, full in _CONTRACTIONS.items():
        t = t.replace(short, full)
    t = re.sub(r"[^a-z0-9.,;:'?! ]+", " ", t)
    t = _COLOR_RE.sub(lambda m: COLOR_SYNONYMS[m.group(1)], t)
    t = _NUMBER_RE.sub(lambda m: NUMBER_WORDS[m.group(1)], t)
    t = re.sub(r"\b(centimet(er|re)s?|cms?)\b", "cm", t)
    t = re.sub(r"\b(millimet(er|re)s?|mms?)\b", "mm", t)
    t = re.sub(r"\b(met(er|re)s?)\b", "m", t)
    t = re.sub(r"(\d)\s*(cm|mm|m)\b", r"\1 \2", t)
    t = re.sub(r"\bplease\b|\bkindly\b|\bcould you\b|\bcan you\b|\bwould you\b", " ", t)
    t = re.sub(
        r"\bso (?:that )?(?:it|they) (?:sits?|is|are|ends? up|lands?|stands?|rests?)\b", " ", t
    )
    return re.sub(r"\s+", " ", t).strip(" .!?")


def category_of(word: str) -> str | None:
    """The canonical category a (singular or plural) noun names, if any."""
    for category, words in CATEGORY_WORDS.items():
        for w in words:
            if word in (w, plural(w)):
                return category
    return None


def is_generic(word: str) -> bool:
    return any(word in (w, plural(w)) for w in GENERIC_WORDS)
