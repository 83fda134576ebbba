"""Reading a ReAct reply from any chat model: reasoning blocks, the Thought, the code.

Models format replies loosely: fences without a language or without a closing fence,
``Code:``/``Action:`` labels, bare code, ``<think>`` blocks, markdown labels. These
helpers accept all of that and return None rather than guess when there is no code.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

PYTHON_LANGS = frozenset({"", "python", "py", "python3", "py3", "ipython", "tool_code"})
MAX_REPLY_CHARS = 16_000  # a ReAct step is a Thought and a short program; more is runaway output
MAX_CODE_STARTS = 16  # lines tried as the start of bare code (each try parses the rest once)

_THINK_BLOCK = re.compile(r"<(think|thinking)>.*?</\1>", re.S | re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking)>", re.I)
_THINK_OPEN = re.compile(r"<(?:think|thinking)>", re.I)
_FENCE = re.compile(r"(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+#.-]*)([^\n]*)(\n|$)")
_CODE_TAG = re.compile(r"<code>(.*?)(?:</code>|$)", re.S | re.I)
_MD = r"[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*|__)?"  # optional markdown heading / bold before a label
_MD_END = r"(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*"
_CODE_LABEL = re.compile(rf"^{_MD}(?:code|action|python){_MD_END}", re.I | re.M)
_THOUGHT_LABEL = re.compile(rf"^\s*{_MD}thought(?:{_MD_END}|(?:\*\*|__)?[ \t]*\n)", re.I)
_TRAILING_LABEL = re.compile(rf"(?:\n|^){_MD}(?:code|action|python){_MD_END}\s*$", re.I)
_NEXT_SECTION = re.compile(rf"^{_MD}(?:observation|thought){_MD_END}", re.I | re.M)
_END_MARKERS = ("<end_code>", "<end_action>")
_CODE_START = re.compile(  # a line that may begin a program: a call, an assignment, a keyword
    r"^[ \t]*(?:[A-Za-z_]\w*[ \t]*(?:\(|=|\.|\[)"
    r"|(?:if|for|while|with|try|def|return|import|from)\b)",
    re.M,
)


@dataclass(frozen=True)
class ParsedReply:
    """A reply split into its reasoning and its code (None when it has none)."""

    thought: str
    code: str | None


def strip_think(text: str) -> str:
    """Removes reasoning blocks: ``<think>…</think>`` (or ``<thinking>``) anywhere, text up
    to an unmatched ``</think>`` (the prompt opened the block), and everything from an
    unterminated ``<think>`` on (the model ran out of tokens while reasoning)."""
    text = _THINK_BLOCK.sub("", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened is not None:
        text = text[: opened.start()]
    return text.strip()


def _clean_code(code: str) -> str:
    for marker in _END_MARKERS:
        code = code.split(marker, 1)[0]
    return textwrap.dedent(code).strip("\n").rstrip()


def _does_something(node: ast.stmt) -> bool:
    if isinstance(node, ast.Expr):  # an expression statement matters only if it calls
        return any(isinstance(n, ast.Call) for n in ast.walk(node))
    if isinstance(node, ast.AnnAssign):  # "Thought: done" parses as an annotation
        return node.value is not None
    return not isinstance(node, ast.Pass)


def _is_code(code: str) -> bool:
    """True if `code` parses as Python and does something (prose like ``Done`` or
    ``not possible`` parses too, but calls and assigns nothing)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # "-" * 10000 + "1" nests
        return False
    return any(_does_something(node) for node in tree.body)


def _fenced(text: str) -> tuple[int, str] | None:
    """The first Python (or unlabelled) fenced block: (start of its fence, code)."""
    fallback: tuple[int, str] | None = None
    pos = 0
    while (m := _FENCE.search(text, pos)) is not None:
        fence, lang, rest = m.group(1), m.group(2).lower(), m.group(3)
        if fence in rest:  # one-line block: ```python pick("cube")```
            inner = (lang + rest).split(fence, 1)[0]
            label, _, body = inner.partition(" ")
            lang, body = (label.lower(), body) if label.lower() in PYTHON_LANGS else ("", inner)
            end = m.start() + len(m.group(0))
        else:
            close = text.find(fence, m.end())
            body = text[m.end() :] if close < 0 else text[m.end() : close]
            end = len(text) if close < 0 else close + len(fence)
            if rest[:1] in " \t" and rest.strip() and lang:  # ```python pick("cube")⏎...
                body = rest.strip() + "\n" + body
        code = _clean_code(body)
        if code and lang in PYTHON_LANGS:
            if lang:
                return m.start(), code
            fallback = fallback or (m.start(), code)
        pos = max(end, m.end())
    return fallback


def _unfenced(text: str) -> tuple[int, str] | None:
    """Code without fences: in ``<code>`` tags, after a ``Code:``/``Action:`` label, or the
    whole reply when it parses as Python."""
    tag = _CODE_TAG.search(text)
    if tag is not None and _is_code(code := _clean_code(tag.group(1))):
        return tag.start(), code
    for label in _CODE_LABEL.finditer(text):
        after = text[label.end() :]
        section = _NEXT_SECTION.search(after)
        code = _clean_code(after[: section.start()] if section else after)
        if _is_code(code):
            return label.start(), code
    starts = [m.start() for m in _CODE_START.finditer(text)][:MAX_CODE_STARTS]
    for offset in starts:  # the longest tail of lines that is code: prose, then code
        code = _clean_code(text[offset:])
        if code and _is_code(code):
            return offset, code
    return None


def _locate(text: str) -> tuple[int, str] | None:
    return _fenced(text) or _unfenced(text)


def _thought(before: str) -> str:
    before = _TRAILING_LABEL.sub("", before.rstrip())
    return _THOUGHT_LABEL.sub("", before, count=1).strip()


def parse_reply(text: str) -> ParsedReply:
    """Splits a model reply into its Thought and its code (see `extract_code`); a reply
    longer than `MAX_REPLY_CHARS` has no code, and its Thought says why."""
    if len(text) > MAX_REPLY_CHARS:
        return ParsedReply(
            f"(The reply was {len(text)} characters, over the {MAX_REPLY_CHARS} a step may "
            "use; reply with a short Thought and one short program.)",
            None,
        )
    text = strip_think(text)
    found = _locate(text)
    if found is None:
        return ParsedReply(_thought(text), None)
    start, code = found
    return ParsedReply(_thought(text[:start]), code)


def extract_code(text: str) -> str | None:
    """The code of a reply, or None.

    Takes the first fenced block labelled Python (``python``, ``py``, …), else the first
    unlabelled one; a missing closing fence runs to the end. Without fences, takes
    ``<code>`` tags, the text after a ``Code:``/``Action:`` label, or the whole reply
    when it parses as Python (a bare word like ``Done`` does not count).
    """
    return parse_reply(text).code


def extract_thought(text: str) -> str:
    """The reasoning before the code, without a leading ``Thought:`` label."""
    return parse_reply(text).thought
