"""Words the embedded planner understands: colours, categories, numbers, places, directions.

Everything here is data; `normalize` turns an utterance into the canonical vocabulary
(contractions expanded, politeness and hedges dropped, synonyms and number words unified)
so the parser sees one form of each idea.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
    "lavender": "purple",
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
    "dark": "",
    "light": "",
    "bright": "",
    "pale": "",
}

# canonical category -> words that name it (singular; plurals derived)
CATEGORY_WORDS = {
    "block": ("block", "cube", "box", "brick", "square block", "cubic block"),
    "bar": (
        "bar",
        "stick",
        "beam",
        "rod",
        "plank",
        "long block",
        "rectangular block",
        "rectangle",
        "cuboid",
        "bar block",
    ),
    "cylinder": (
        "cylinder",
        "can",
        "tin",
        "tube",
        "canister",
        "cylindrical object",
        "cylindrical block",
        "round block",
        "soda can",
        "tin can",
    ),
    "bowl": ("bowl", "dish", "basin", "cup", "pot"),
    "zone": (
        "zone",
        "mat",
        "pad",
        "patch",
        "target area",
        "area",
        "square",
        "region",
        "spot",
        "tile",
        "coaster",
        "placemat",
    ),
    # words for "a thing something can go in or on": a bowl or a zone
    "container": ("container", "plate", "tray", "receptacle", "bin", "basket", "holder", "target"),
}
# a category word that stands for several kinds of object
CATEGORY_GROUPS = {"container": ("bowl", "zone")}
GENERIC_WORDS = ("object", "thing", "item", "piece", "one", "toy", "shape", "stuff")
EVERYTHING_WORDS = ("everything", "anything", "all objects", "all things")
# kinds of object the robot knows it does not have: a phrase naming one finds nothing
ABSENT_WORDS = (
    "ball",
    "sphere",
    "marble",
    "apple",
    "banana",
    "pen",
    "pencil",
    "bottle",
    "mug",
    "glass",
    "book",
    "phone",
    "cone",
    "pyramid",
    "triangle",
    "star",
    "doll",
    "car",
    "spoon",
    "fork",
    "knife",
    "sponge",
    "towel",
    "egg",
    "fruit",
    "lid",
    "disc",
    "disk",
    "ring",
    "coin",
    "key",
)
GRASPABLE = ("block", "bar", "cylinder")
CONTAINERS = ("bowl", "zone")
USUAL_SIZE_M = {"block": 0.04, "bar": 0.12, "cylinder": 0.09, "bowl": 0.17, "zone": 0.12}
"""The longest side of an ordinary thing of each kind: "big blocks" in a rule are blocks
clearly larger than that (`grounding.size_class`), whatever else is on the table."""

NUMBER_WORDS = {
    "a pair of": "2",
    "pair of": "2",
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
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "a couple of": "2",
    "couple of": "2",
    "a couple": "2",
    "a single": "1",
    "just one": "1",
    "only one": "1",
    "exactly one": "1",
    "one single": "1",
}
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NUMBER_WORDS |= {tens: str(20 + 10 * i) for i, tens in enumerate(_TENS)}
NUMBER_WORDS |= {  # "forty five" ("forty-five" once dashes are spaces)
    f"{tens} {unit}": str(20 + 10 * i + j + 1)
    for i, tens in enumerate(_TENS)
    for j, unit in enumerate(_UNITS)
}
NUMBER_WORDS |= {
    f"{a}hundred{b}": str(100 + n)
    for a in ("a ", "one ")
    for b, n in (("", 0), (" and eighty", 80))
}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "last": -1,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
    "6th": 6,
}

REGION_WORDS = {
    "top left corner": (
        "top left corner",
        "upper left corner",
        "far left corner",
        "back left corner",
        "left far corner",
        "left back corner",
        "top left",
        "upper left",
        "back left",
    ),
    "top right corner": (
        "top right corner",
        "upper right corner",
        "far right corner",
        "back right corner",
        "right far corner",
        "right back corner",
        "top right",
        "upper right",
        "back right",
    ),
    "bottom left corner": (
        "bottom left corner",
        "lower left corner",
        "near left corner",
        "front left corner",
        "left near corner",
        "left front corner",
        "bottom left",
        "lower left",
        "front left",
    ),
    "bottom right corner": (
        "bottom right corner",
        "lower right corner",
        "near right corner",
        "front right corner",
        "right near corner",
        "right front corner",
        "bottom right",
        "lower right",
        "front right",
    ),
    "top side": (
        "top side",
        "top edge",
        "far side",
        "far edge",
        "back edge",
        "upper side",
        "upper edge",
        "back side",
        "top of the table",
        "far end",
        "back of the table",
        "far side of the table",
        "back row",
    ),
    "bottom side": (
        "bottom side",
        "bottom edge",
        "near side",
        "near edge",
        "front edge",
        "lower side",
        "lower edge",
        "front side",
        "bottom of the table",
        "near end",
        "front of the table",
        "near side of the table",
        "front row",
        "near me",
        "close to me",
        "my side",
        "my end",
    ),
    "left side": (
        "left side",
        "left edge",
        "left of the table",
        "left half",
        "left hand side",
        "left end",
    ),
    "right side": (
        "right side",
        "right edge",
        "right of the table",
        "right half",
        "right hand side",
        "right end",
    ),
    "center": (
        "center",
        "centre",
        "middle",
        "center of the table",
        "middle of the table",
        "center of the workspace",
        "middle of the workspace",
    ),
}

# relation -> words before the reference object
RELATION_WORDS = {
    "left_of": (
        "to the left of",
        "left of",
        "on the left of",
        "at the left of",
        "on the left side of",
        "to the left side of",
        "on the left hand side of",
        "to the left hand side of",
    ),
    "right_of": (
        "to the right of",
        "right of",
        "on the right of",
        "at the right of",
        "on the right side of",
        "to the right side of",
        "on the right hand side of",
        "to the right hand side of",
    ),
    "behind": (
        "behind",
        "in back of",
        "beyond",
        "further back than",
        "on the far side of",
        "at the back of",
        "on the other side of",
        "past",
    ),
    "in_front_of": (
        "in front of",
        "before",
        "on the near side of",
        "closer to me than",
        "at the front of",
        "on this side of",
    ),
    "near": (
        "next to",
        "beside",
        "besides",
        "near",
        "close to",
        "closer to",
        "nearer to",
        "nearer",
        "by",
        "alongside",
        "near to",
        "nearby",
        "adjacent to",
        "up against",
        "against",
        "right by",
        "close by",
        "at the side of",
        "by the side of",
        "on the side of",
    ),
}
# direction words (table frame: left = +y, front/near = -x)
DIRECTION_VECTORS = {
    "left": (0.0, 1.0),
    "leftward": (0.0, 1.0),
    "leftwards": (0.0, 1.0),
    "right": (0.0, -1.0),
    "rightward": (0.0, -1.0),
    "rightwards": (0.0, -1.0),
    "forward": (1.0, 0.0),
    "forwards": (1.0, 0.0),
    "ahead": (1.0, 0.0),
    "away": (1.0, 0.0),
    "away from me": (1.0, 0.0),
    "away from you": (1.0, 0.0),
    "away from the robot": (1.0, 0.0),
    "back": (1.0, 0.0),
    "backward": (1.0, 0.0),
    "backwards": (1.0, 0.0),
    "up": (1.0, 0.0),
    "toward me": (-1.0, 0.0),
    "towards me": (-1.0, 0.0),
    "toward you": (-1.0, 0.0),
    "towards you": (-1.0, 0.0),
    "front": (-1.0, 0.0),
    "down": (-1.0, 0.0),
    "closer": (-1.0, 0.0),
    "closer to me": (-1.0, 0.0),
    "nearer": (-1.0, 0.0),
    "toward the robot": (-1.0, 0.0),
    "towards the robot": (-1.0, 0.0),
    "toward the front": (-1.0, 0.0),
    "towards the front": (-1.0, 0.0),
    "further": (1.0, 0.0),
    "farther": (1.0, 0.0),
    "further away": (1.0, 0.0),
    "farther away": (1.0, 0.0),
}
AMOUNTS_M = {
    "a tiny bit": 0.02,
    "a little": 0.03,
    "a bit": 0.04,
    "slightly": 0.03,
    "a little bit": 0.03,
    "a few cm": 0.04,
    "a few": 0.04,
    "a touch": 0.02,
    "a lot": 0.15,
    "far": 0.15,
    "way": 0.15,
}

_CONTRACTIONS = (
    (r"\bcan't\b|\bcannot\b", "can not"),
    (r"\bwon't\b", "will not"),
    (r"\bshan't\b", "shall not"),
    (r"\b(\w+)n't\b", r"\1 not"),
    (r"\b(i|you|we|they|he|she|it)'d\b", r"\1 would"),
    (r"\b(i|you|we|they|he|she|it|that)'ll\b", r"\1 will"),
    (r"\bi'm\b", "i am"),
    (r"\b(you|we|they)'re\b", r"\1 are"),
    (r"\b(you|we|they|i)'ve\b", r"\1 have"),
    (r"\blet's\b", "let us"),
    (r"\b(it|that|what|there|here|which|who)'s\b", r"\1 is"),
    (r"\bwhats\b", "what is"),
    (r"\b(there|that|here)s\b", r"\1 is"),  # typed without the apostrophe
    (r"\b(do|does|did|is|are|was|were|has|have|should|would|could)nt\b", r"\1 not"),  # "dont"
    (r"\b(what|which|where|how|colou?r|size)'s\b", r"\1 is"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"(?<=[a-z] )'?em\b", "them"),  # "pop em in the bowl"
    (r"\b(to|on|at) the ([a-z]+(?: [a-z]+)?)'s (left|right|front|back)\b", r"\1 the \3 of the \2"),
    (r"'s been\b", " has been"),  # "the green can's been left out"
    (
        r"'s (?=(?:in|on|at|by|under|over|near|next|still|not|just|back|off|out|gone|got|sitting|"
        r"lying|standing|there|here|wandered|fallen|rolled|moved|ended|been)\b)",
        " is ",
    ),
    (r"'s\b", ""),
)
# politeness, hedges and lead-ins that carry no task content
_FILLER = re.compile(
    r"\b(?:(?:hey|hi|hello|ok|okay|alright|all right) (?:robot|there)|"
    r"please|pls|plz|kindly|thanks(?: a (?:bunch|lot|million))?|many thanks|ta(?: very much)?|"
    r"thank you(?: very much| so much)?|cheers|um+|uh+|erm|hmm+|hey|ugh|argh|oops|whoops|"
    r"yeah|yep|yup|"
    r"(?:whenever|when) you (?:get|have) a (?:sec|second|moment|minute|chance)|"
    r"(?:for me|if you (?:can|could|would|do not mind|please)|if possible|when you can|"
    r"when you get a chance|real quick|right now|at once|now|just|simply|carefully|gently|"
    r"quickly|slowly|softly|lightly|actually|basically|maybe)|"
    r"would you mind|do you mind|do you think you could|are you able to|"
    r"(?:is there )?any chance (?:you could|you can|of you|that you could)|"
    r"(?:could|can|shall|may|might) (?:we|i)(?: please| maybe| possibly)?(?= \w)|"
    r"(?:could|can|would|will|might) you(?: please| kindly| maybe| possibly)?"
    r"(?: be so kind as to| be able to)?|"
    r"is it possible to|would it be possible to|i would like you to|i would love you to|"
    r"i want you to|i need you to|i would like it if you|i would appreciate it if you|"
    r"go ahead and|^go on|(?<=[,.;!?] )go on|go ahead|try to|try and|"
    r"you should|you can|you could|you must|"
    r"you need to|(?:and )?(?:be|go) (?:careful|gentle|easy|slow)(?: with (?:it|them))?|"
    r"take (?:your|its) time|"
    r"why do not you|how about you|let us|please do|i am asking you to|off you go|"
    r"there you go|go for it)\b"
)
_REASON = re.compile(  # "..., it's in my way", "so it is out of the way while i work"
    r",?\s*\b(?:because|since|as it is in|so (?:that )?(?:i|you|we) (?:can|could)|"
    r"so (?:it is|that it is|they are) out of the way|while i|it is in my way|"
    r"they are in my way|i want (?:it|them) (?:closer|nearer|out))\b[^.,;!?]*"
)
_RESTATEMENT = re.compile(  # "..., i.e. on the side closer to you": says it again
    r",?\s*\b(?:i\.\s?e\.|e\.\s?g\.|in other words|that is to say)\s*,?[^.;!?]*|"
    r",\s*(?:on|at|to) (?:the (?:far|near|other|back|front)|my|your|our|the robot'?s) side of "
    r"(?:it|that|them)\b[^.;!?]*"
)
_CORNER_BY_DISTANCE = re.compile(  # "the right-hand corner nearest the robot": the near right
    r"\b(?P<side>left|right)(?: hand)? corner (?:that is |which is )?(?P<how>nearest|closest|"
    r"nearer|closer|furthest|farthest|further|farther)(?: to| from| away from)? (?:the robot|me|"
    r"us|you|the base)\b"
)
_GERUNDS = re.compile(r"^(?P<verb>\w+?)ing\b")
_LEAD_IN = re.compile(
    r"^(?:and|then|so|ok|okay|alright|right|now|first|first of all|also|well|next(?! to\b)|"
    r"lastly|you)"
    r"(?:,?\s+|$)"
)


def plural(word: str) -> str:
    if word.endswith(("sh", "ch", "x", "s")):
        return word + "es"
    return word + "s"


def _word_pattern(phrases: dict[str, str]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")\b")


_COLOR_RE = _word_pattern(COLOR_SYNONYMS)
_NUMBER_RE = _word_pattern(NUMBER_WORDS)


def normalize_rule(text: str) -> str:
    """`normalize` for a sentence that may teach a rule: "from now on" is kept, as "always"
    (`normalize` drops "now" as filler)."""
    return normalize(re.sub(r"\bfrom now on\b", "always", text.lower()))


def _one_unit(m: re.Match[str]) -> str:
    """ "a metre" is 1 m, "half a metre" 0.5 m."""
    return "0.5 " if m.group(1) else "1 "


def _corner_by_distance(m: re.Match[str]) -> str:
    near = m["how"].startswith(("near", "clos"))
    return f"{'near' if near else 'far'} {m['side']} corner"


def normalize(text: str) -> str:
    """Lower-case, expand contractions, drop politeness, unify spellings and number words."""
    t = text.lower().replace("’", "'").replace("‘", "'")
    t = re.sub(r"\s*(?:->|=>|→|⇒|⟶)\s*", " to ", t)  # "red block -> blue bowl"
    t = re.sub(r"\s+[-–—]+\s+", ", ", t).replace("-", " ")  # a spaced dash breaks a clause
    t = re.sub(r"\([^)]*\)", " ", t)  # a remark in brackets only restates the order
    t = _RESTATEMENT.sub(" ", t)
    t = _CORNER_BY_DISTANCE.sub(_corner_by_distance, t)
    # "on my side of the bowl" is in front of it; the table's sides are regions
    t = re.sub(
        r"\bon (?:my|your|our|the robot'?s|the near|this) side of\b(?! the table)", "in front of", t
    )
    t = re.sub(r"\bon the (?:far|other|back) side of\b(?! the table)", "behind", t)
    for pattern, repl in _CONTRACTIONS:
        t = re.sub(pattern, repl, t)
    t = _REASON.sub("", t)
    t = re.sub(r"(?:^|\s)\d+\)\s+", " ; ", t)  # "1) ... 2) ...": numbered steps
    t = re.sub(  # "on the gray block's left", "on its right side": to the left of ...
        r"\b(?:on|at|to) (the [a-z ]+?'s|its|their) (left|right)(?: hand)?(?: side)?\b",
        lambda m: f"to the {m.group(2)} of {m.group(1).removesuffix(chr(39) + 's')}",
        t,
    )
    t = re.sub(r"\bof their\b(?=\s*(?:[,.;!?]|$))", "of them", t)
    t = re.sub(r"\bof its\b(?=\s*(?:[,.;!?]|$))", "of it", t)
    t = re.sub(r"\s*(?:°|º)", " degrees", t)  # "45°"
    t = re.sub(r"[^a-z0-9.,;:'?! ]+", " ", t).replace("'", " ")
    t = re.sub(r"(?<=[a-z])\.(?=[a-z])", " ", t)
    t = _COLOR_RE.sub(lambda m: COLOR_SYNONYMS[m.group(1)], t)
    t = re.sub(  # "a single file of the cans": a row, one behind the other
        r"\b(in )?(?:a |one )?single file\b", lambda m: f"{m.group(1) or ''}a row", t
    )
    t = _NUMBER_RE.sub(lambda m: NUMBER_WORDS[m.group(1)], t)
    t = re.sub(r"\b(centimet(er|re)s?|cms?)\b", "cm", t)
    t = re.sub(r"\b(millimet(er|re)s?|mms?)\b", "mm", t)
    t = re.sub(r"\b(met(er|re)s?)\b", "m", t)
    t = re.sub(r"\b(?:(half) an?|an?|one) (?=(?:cm|mm|m|inch|foot)\b)", _one_unit, t)
    t = re.sub(
        r"(\d+(?:\.\d+)?)\s*(inch(?:es)?|foot|feet)\b",
        lambda m: f"{float(m.group(1)) * (2.54 if m.group(2)[0] == 'i' else 30.48):g} cm",
        t,
    )
    t = re.sub(r"(\d)\s*(cm|mm|m)\b", r"\1 \2", t)
    t = re.sub(r"\b(?:about|around|roughly|approximately|some|maybe) (?=\d)", "", t)
    t = re.sub(  # "8 cm towards the back of the table": a way to go, not a region to reach
        r"(\d (?:cm|mm|m)) (?:to|towards?) the (back|front|left|right)(?: side| edge| end)? "
        r"of the table\b",
        r"\1 towards the \2",
        t,
    )
    t = re.sub(
        r"\bwhatever(?: (?:is|are|that is|that are|thing is|things are))?\b", "everything", t
    )
    # "whichever block is nearest, ...": the block that is nearest
    t = re.sub(r"\bwhichever ([a-z]+(?: [a-z]+)?) (is|are)\b", r"the \1 that \2", t)
    t = re.sub(  # "anything that is not a can": everything but the cans (a kind, not a colour)
        r"\b(anything|everything|all (?:the )?(?:things|objects))(?: that| which)? (?:is|are) not "
        rf"(?:a |an )?({kind_words(GRASPABLE + CONTAINERS)})s?\b",
        r"everything except the \2s",
        t,
    )
    t = re.sub(r",\s*bar (?=(?:the|that|this|those|these|my) )", ", except ", t)  # ", bar the can"
    t = re.sub(  # "counting from the left, take the second block": the second from the left
        r"^(?:counting|going|starting|numbering) from the (left|right|front|back)(?: side)?,?\s+"
        rf"(.*?\b(?:{'|'.join(w for w in ORDINALS if w != 'last')}) [a-z]+)",
        r"\2 from the \1",
        t,
    )
    t = re.sub(  # "all but one of the 4 blocks": 3 of them
        r"\ball but (one|\d+) of the (\d+) ",
        lambda m: f"{max(int(m.group(2)) - int(m.group(1).replace('one', '1')), 0)} of the ",
        t,
    )
    t = re.sub(r",\s*(?:that|they|it|those|these) (?=(?:goes|go|belongs?|should go)\b)", " ", t)
    t = re.sub(  # "..., just that one, the others stay where they are": what stays is kept
        r",\s*(?:(?:just|only) )?(?:that|this) one(?=\s*(?:[,.;]|$))|"
        r",\s*(?:and )?(?:the others?|the rest|everything else|all the others)"
        r"(?: (?:should|can|must|will))? (?:stay|stays|remain|remains|stay put|stays put|are left|"
        r"is left)"
        r"(?: (?:where (?:they|it) (?:are|is)|alone|as (?:they|it) (?:are|is)))?(?=\s*(?:[,.;]|$))",
        "",
        t,
    )
    t = _FILLER.sub(" ", t)
    t = re.sub(
        r"\bso (?:that )?(?:it|they) (?:sits?|is|are|ends? up|lands?|stands?|rests?|goes)\b",
        " ",
        t,
    )
    t = re.sub(  # "stack the cube so that the can is what is supporting it": on the can
        r"\bso (?:that )?(?P<under>(?:the|a|an) [a-z ]+?) (?:is |are )?(?:what is |the one )?"
        r"(?:(?:supporting|supports|holding up|holds up|carrying|carries|under|underneath|"
        r"beneath|below) (?:it|them)|(?:holding|holds) (?:it|them) up)\b",
        r"on \g<under>",
        t,
    )
    t = re.sub(  # "the edge closest to me" is the near side, "the side farthest away" the far one
        r"\bthe (?:side|edge|end) (?:(?P<near>nearest|closest)|furthest|farthest)"
        r"(?: (?:to|from|away from))? (?:me|you|us)\b",
        lambda m: "the near side" if m.group("near") else "the far side",
        t,
    )
    t = re.sub(  # "the (front) edge of the table, the near side": the side said again
        r"\bthe (?:(?:front|near|bottom|lower|back|far|top|upper) )?(?:edge|side|end)"
        r"(?: of the table)?,\s*(the (?:near|far) side)\b",
        r"\1",
        t,
    )
    t = re.sub(r"\bright (?=next to|beside|by|in front of|behind|on top of|against)", "", t)
    t = re.sub(r"(?<!the )\bright (?=(?:at|on|in) the\b)", "", t)  # "right at the very bottom"
    t = re.sub(r"\bcorner (front|back|far|near) (left|right)\b", r"\1 \2 corner", t)
    t = re.sub(r"\b(build|make|give|get|find|fetch|bring|stack|set up) me\b", r"\1", t)
    t = re.sub(r"\b(left|right) hand\b", r"\1", t)
    t = re.sub(r"\s+([,.;:?!])", r"\1", re.sub(r"\s+", " ", t))
    return t.strip(" .,!?;:")


def base_verb(clause: str, verbs: tuple[str, ...]) -> str:
    """ "moving the block..." -> "move the block..." when the gerund is of a known verb."""
    m = _GERUNDS.match(clause)
    if m is None:
        return clause
    stem = m.group("verb")
    for candidate in (stem, stem + "e", stem[:-1] if stem[-1:] == stem[-2:-1] else None):
        if candidate and candidate in verbs:
            return candidate + clause[m.end() :]
    return clause


def strip_lead_in(clause: str) -> str:
    """Drop discourse words a clause may start with ("and then", "first", "now")."""
    previous = None
    while previous != clause:
        previous, clause = clause, _LEAD_IN.sub("", clause).strip(" ,")
    return clause


_COMPOUNDS = sorted(
    ((w, c) for c, ws in CATEGORY_WORDS.items() for w in ws if " " in w),
    key=lambda p: len(p[0]),
    reverse=True,
)
_COMPOUND_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w, _ in _COMPOUNDS) + r")(s|es)?\b")
_COMPOUND_HEAD = {w: CATEGORY_WORDS[c][0] for w, c in _COMPOUNDS}


def merge_compounds(text: str) -> str:
    """Replace many-word category names by one word ("long block" -> "bar")."""
    return _COMPOUND_RE.sub(
        lambda m: _COMPOUND_HEAD[m.group(1)] + ("s" if m.group(2) else ""), text
    )


def category_of(word: str) -> str | None:
    """The canonical category a (singular or plural) noun names, if any."""
    for category, words in CATEGORY_WORDS.items():
        for w in words:
            if word in (w, plural(w)):
                return category
    return None


def singular(word: str) -> str:
    """The singular of a noun the lexicon knows ("dishes" -> "dish"); others unchanged."""
    for stem in (word[:-2], word[:-1]):
        known = category_of(stem) or absent_kind(stem) or is_generic(stem)
        if stem and known and plural(stem) == word:
            return stem
    return word


def absent_kind(word: str) -> str | None:
    """The kind of object a word names that no scene has ("ball"), if it names one."""
    for w in ABSENT_WORDS:
        if word in (w, plural(w)):
            return w
    return None


def is_generic(word: str) -> bool:
    return any(word in (w, plural(w)) for w in GENERIC_WORDS)


def categories(category: str) -> tuple[str, ...]:
    """The object categories a category word stands for ("container" -> bowl, zone)."""
    return CATEGORY_GROUPS.get(category, (category,))


def kind_words(kinds: Iterable[str]) -> str:
    """A regex alternation of every word for these kinds of object, longest first ("tin"
    and "can" for cylinder), to find the things a sentence names."""
    words = {w for kind in kinds for w in CATEGORY_WORDS[kind]}
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_THERE_PLACE = re.compile(  # a container by any of its words ("the white pot"), or a region
    rf"\b(?:the )?(?:[a-z]+ )?(?:{kind_words(CONTAINERS)})s?\b|"
    r"\bthe (?:[a-z]+ ){1,2}(?:corner|side|edge)\b"
)


_THERE = re.compile(r"\b(?:(?P<rel>beside|next to|near|by|in|into|on) it|(?:in )?there)\b")
_IN_THERE = re.compile(  # "in there", or "put it there" (not "leave it there": keep it)
    r"\b(?:(?P<rel>in|into|on|onto) there|(?P<put>(?:put|place|set|pop|stick|drop|move|bring) "
    r"(?:it|them|the (?:(?!(?:in|into|on|onto)\b)[a-z]+ ?){1,3})) there)\b"
)
_BESIDE_BEFORE = re.compile(r"\b(?P<rel>next to|beside|near|by) $")  # just before a place


def spell_out_it(text: str, thing: str) -> str:
    """The first "it"/"them" of `text` that is not its subject ("put the bar on it", not "it's
    been cleaned") replaced by the thing it stands for."""
    return re.sub(r"(?<=\S )\b(?:it|them)\b", thing, text, count=1)


def resolve_there(text: str, strict: bool = False) -> str:
    """ "orange bowl. purple things go there now", "by the cyan bowl. the green block sits
    beside it": "there" (or "beside it") replaced by the last place named before it (the
    text unchanged when it names none). `strict`: only "in there" / "on there" (in an
    order, "leave it there" and "beside it" may mean something else)."""
    pattern = _IN_THERE if strict else _THERE
    there = next(  # the first "there" after a named place ("no, not there. ... go there")
        (m for m in pattern.finditer(text) if any(_THERE_PLACE.finditer(text, 0, m.start()))),
        None,
    )
    found = [m for m in _THERE_PLACE.finditer(text) if there and m.end() <= there.start()]
    if there is None or not found:
        return text
    place = found[-1].group(0)
    place = place if place.startswith("the ") else f"the {place}"
    beside = _BESIDE_BEFORE.search(text, 0, found[-1].start())  # "next to the bowl ... there"
    said = f"{there.group('rel') or (beside.group('rel') if beside else 'in')} {place}"
    put = there.groupdict().get("put")  # "put the bar there": the verb and its thing stay
    return text[: there.start()] + (f"{put} " if put else "") + said + text[there.end() :]


_REGION_NAMES = sorted(
    ((w, r) for r, ws in REGION_WORDS.items() for w in ws), key=lambda p: len(p[0]), reverse=True
)


def region_named(text: str) -> str | None:
    """The table region a phrase names ("the far left corner": "top left corner"), if any."""
    for words, region in _REGION_NAMES:
        if "_" not in region and re.search(rf"\b{re.escape(words)}\b", text):
            return region
    return None


def sentences(text: str) -> list[str]:
    """The sentences and ';'/':'-separated clauses of a normalised text."""
    return [p for p in re.split(r"\s*[;:?]\s*|(?<=\w)[.!] ", text) if p.strip()]
