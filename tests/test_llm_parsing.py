"""Reply parsing against realistic, often malformed, model outputs."""

from __future__ import annotations

import pytest

from planner.llm import extract_code, extract_thought, parse_reply, strip_think


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>plan it</think>\nThought: go", "Thought: go"),
        ("<THINK>a</THINK>b<think>c</think>d", "bd"),
        ("<thinking>\nmulti\nline\n</thinking>answer", "answer"),
        ("the template opened it</think>\n\nThought: go", "Thought: go"),
        ("<think>ran out of tokens while reasoning about pick(", ""),
        ("Thought: go\n<think>unfinished", "Thought: go"),
        ("no reasoning here", "no reasoning here"),
    ],
)
def test_strip_think(text: str, expected: str) -> None:
    assert strip_think(text) == expected


# (model output, expected code, expected thought)
CASES = [
    pytest.param(
        "Thought: The cube is on the left.\n```python\npick('red_cube')\n```",
        "pick('red_cube')",
        "The cube is on the left.",
        id="canonical",
    ),
    pytest.param(
        "Thought: pick it\n```python\npick('red_cube')\nplace('red_cube', 'bowl')",
        "pick('red_cube')\nplace('red_cube', 'bowl')",
        "pick it",
        id="missing-closing-fence",
    ),
    pytest.param(
        "Thought: go\n```\nmove(0.5, 0.1)\n```",
        "move(0.5, 0.1)",
        "go",
        id="unlabelled-fence",
    ),
    pytest.param(
        "Thought: go\n```Python3\nmove(0.5, 0.1)\n```",
        "move(0.5, 0.1)",
        "go",
        id="python3-capitalised",
    ),
    pytest.param(
        "**Thought:** the bowl is empty\n\n**Code:**\n```py\nx = 0.4\nmove(x, 0.0)\n```<end_code>",
        "x = 0.4\nmove(x, 0.0)",
        "the bowl is empty",
        id="markdown-labels-smolagents",
    ),
    pytest.param(
        "Thought: look first\nCode:\n```python\nlook()\n```\nObservation: a red cube",
        "look()",
        "look first",
        id="hallucinated-observation-after-fence",
    ),
    pytest.param(
        'Scene:\n```json\n{"red_cube": [0.5, 0.1]}\n```\n```python\npick("red_cube")\n```',
        'pick("red_cube")',
        'Scene:\n```json\n{"red_cube": [0.5, 0.1]}\n```',
        id="json-block-before-code",
    ),
    pytest.param(
        "Thought: a\n```\nnotes\n```\n```python\npick('a')\n```",
        "pick('a')",
        "a\n```\nnotes\n```",
        id="python-label-beats-earlier-unlabelled",
    ),
    pytest.param(
        "Thought: two steps\n```python\npick('a')\n```\nThen:\n```python\nplace('a', 'b')\n```",
        "pick('a')",
        "two steps",
        id="first-of-two-blocks",
    ),
    pytest.param(
        "Thought: nested\n  ```python\n  for name in ['a', 'b']:\n      pick(name)\n  ```",
        "for name in ['a', 'b']:\n    pick(name)",
        "nested",
        id="indented-fence-dedented",
    ),
    pytest.param(
        "Thought: inline\n```python pick('cube')```",
        "pick('cube')",
        "inline",
        id="one-line-fence",
    ),
    pytest.param(
        "```python pick('cube')\nplace('cube', 'bowl')\n```",
        "pick('cube')\nplace('cube', 'bowl')",
        "",
        id="code-on-fence-line",
    ),
    pytest.param(
        "Thought: done soon\n```python\nopen_gripper()``` That should do it.",
        "open_gripper()",
        "done soon",
        id="closing-fence-mid-line",
    ),
    pytest.param(
        "Thought: tildes\n~~~python\nclose_gripper()\n~~~",
        "close_gripper()",
        "tildes",
        id="tilde-fence",
    ),
    pytest.param(
        "Thought: I see the cube.\nAction: pick('cube')\nObservation: picked",
        "pick('cube')",
        "I see the cube.",
        id="action-label-no-fence",
    ),
    pytest.param(
        "Code:\npick('cube')\nplace('cube', 'bowl')",
        "pick('cube')\nplace('cube', 'bowl')",
        "",
        id="code-label-no-fence",
    ),
    pytest.param(
        "pick('cube')\nplace('cube', 'bowl')",
        "pick('cube')\nplace('cube', 'bowl')",
        "",
        id="bare-code",
    ),
    pytest.param(
        "I'll pick the cube first.\npick('cube')\nplace('cube', 'bowl')",
        "pick('cube')\nplace('cube', 'bowl')",
        "I'll pick the cube first.",
        id="prose-then-bare-code",
    ),
    pytest.param(
        "Thought: use tags\n<code>\npick('cube')\n</code>",
        "pick('cube')",
        "use tags",
        id="code-tags",
    ),
    pytest.param(
        "<think>maybe ```python\ndrop('cube')\n```? no.</think>\nThought: pick\n```python\n"
        "pick('cube')\n```",
        "pick('cube')",
        "pick",
        id="draft-code-inside-think-ignored",
    ),
    pytest.param(
        "user wants the cube</think>\n\n```python\npick('cube')\n```",
        "pick('cube')",
        "",
        id="orphan-think-close",
    ),
    pytest.param(
        "### Thought\nThe bowl is full.\n\n### Action\n```python\nsay('full')\n```",
        "say('full')",
        "The bowl is full.\n\n### Action",
        id="markdown-headings",
    ),
    pytest.param(
        "thought: lower case label\n```python\nlook()\n```",
        "look()",
        "lower case label",
        id="lowercase-thought",
    ),
]


@pytest.mark.parametrize(("text", "code", "thought"), CASES)
def test_code_and_thought(text: str, code: str, thought: str) -> None:
    assert extract_code(text) == code
    assert extract_thought(text) == thought


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Done", id="bare-word"),
        pytest.param("Thought: done", id="annotation-lookalike"),
        pytest.param("not possible", id="parsable-prose"),
        pytest.param("Thought: The task is complete.", id="prose"),
        pytest.param("I cannot see a cube in the scene, so I will stop.", id="refusal"),
        pytest.param("```bash\nls -la\n```", id="other-language"),
        pytest.param("Thought: hm\n```python\n```", id="empty-block"),
        pytest.param("<think>pick('cube') is what I'd write", id="unterminated-think"),
    ],
)
def test_no_code(text: str) -> None:
    assert extract_code(text) is None


def test_fenced_code_is_passed_on_even_if_it_does_not_parse() -> None:
    # the executor reports the SyntaxError as an Observation the model can fix
    assert extract_code("Thought: x\n```python\npick('cube'") == "pick('cube'"


def test_thought_without_code_is_the_whole_reply() -> None:
    assert extract_thought("Thought: The task is complete.") == "The task is complete."
    assert parse_reply("**Thought**: all done").thought == "all done"


def test_thought_word_inside_text_is_kept() -> None:
    assert extract_thought("Thoughtful plan\n```python\nlook()\n```") == "Thoughtful plan"


@pytest.mark.parametrize(
    "reply",
    ["-" * 10000 + "1", "(" * 5000, "not " * 3000 + "x"],  # nest the parser past its depth
)
def test_a_reply_nested_past_the_parser_has_no_code_and_raises_nothing(reply):
    assert parse_reply(reply).code is None


def test_a_runaway_reply_has_no_code_and_its_thought_says_why():
    parsed = parse_reply("pick('red block')\n" * 2000)
    assert parsed.code is None
    assert "over the 16000" in parsed.thought


def test_bare_code_is_looked_for_from_a_bounded_number_of_lines(monkeypatch):
    """Each try parses the rest of the reply: lines of calls are tried at most
    MAX_CODE_STARTS times, not once per line (24 KB of lines once took 49 s)."""
    import ast

    from planner.llm import parsing

    calls = []
    real = ast.parse
    monkeypatch.setattr(parsing.ast, "parse", lambda src, *a, **k: calls.append(1) or real(src))
    parse_reply("hmm, let me see\n" + "x = (1 +\n" * 800)
    assert len(calls) <= parsing.MAX_CODE_STARTS + 2
