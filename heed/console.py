"""The terminal: what every `heed` command prints through, and the view of a run (a
subscriber that prints the planner's events with rich).

Text that comes from outside the program (a generated program's `say`, a stored
statement, a file name in an error) is shown through `shown`: without the escape
sequences and control characters that would let it move the cursor, retitle the window
or hide what was printed.
"""

from __future__ import annotations

import logging
import re

import typer
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from planner.events import Event

err_console = Console(stderr=True)
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences: cursor, colours, clearing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC sequences: window titles, links
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # every other C0 and C1 control but \t and \n
)


def terminal_text(text: object) -> str:
    """`text` without escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", str(text))


def shown(text: object) -> str:
    """`terminal_text`, escaped for rich markup."""
    return escape(terminal_text(text))


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    line = (message.strip().splitlines() or ["failed"])[0]
    err_console.print(f"[bold red]error:[/] {shown(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


class NoticePrinter(logging.Handler):
    """Prints what opening a knowledge base had to repair, one ``note:`` line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        text = shown(record.getMessage())
        err_console.print(f"[yellow]note:[/] {text}", highlight=False, soft_wrap=True)


def show_memory_notices() -> None:
    """Route the knowledge base's notices (the ``heedbot.memory`` logger) to `NoticePrinter`
    alone, so each prints once; calling it again changes nothing."""
    log = logging.getLogger("heedbot.memory")
    if not any(isinstance(h, NoticePrinter) for h in log.handlers):
        log.addHandler(NoticePrinter(logging.WARNING))
        log.propagate = False


class ConsolePrinter:
    """Prints Thoughts, code, skill results, questions and Observations as they happen."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()

    def __call__(self, event: Event) -> None:
        c, d = self.console, event.data
        if event.kind == "start":
            c.rule(f"[bold]{shown(d['instruction'])}[/]  [dim]({d['backend']})[/]")
        elif event.kind == "thought":
            cost = ""
            if d.get("model_s"):
                cost = (
                    f" [dim]({d['model_s']:.1f} s, {d.get('prompt_tokens', 0)} prompt tokens"
                    f" of which {d.get('cached_tokens', 0)} cached, "
                    f"{d.get('completion_tokens', 0)} written)[/]"
                )
            by = f" [dim]\\[{d['served_by']}][/]" if d.get("served_by") else ""
            c.print(f"[bold cyan]Thought {event.step}:[/]{by} {shown(d['text'])}{cost}")
        elif event.kind == "goal":
            c.print(f"[bold blue]Goal:[/] {shown(d['text'])}")
        elif event.kind == "goal_check":
            style = {"verified": "green", "failed": "red"}.get(d["status"], "yellow")
            unmet = "; ".join(d.get("unmet") or ()) or d.get("reason", "")
            c.print(f"[bold {style}]goal check: {d['status']}[/] {shown(unmet)}")
        elif event.kind == "code":
            title = f"defines {d['defines']}" if d.get("defines") else "code"
            c.print(f"[dim]{title}:[/]")
            code = terminal_text(d["code"])
            c.print(Syntax(code, "python", theme="ansi_dark", line_numbers=False))
        elif event.kind == "skill_end":
            ok = d.get("success")
            mark = "[green]ok[/]" if ok else "[red]failed[/]"
            detail = d.get("message") or d.get("error", "")
            c.print(f"  {mark} {d.get('skill')}: {shown(detail)}")
        elif event.kind == "correction":
            applied = "; ".join(d.get("applied") or ())
            change = f" [dim]-> {shown(applied)}[/]" if applied else ""
            c.print(
                f"[bold magenta]correction ({d['kind']}, {d['intent']}):[/] "
                f"{shown(d['text'])}{change}"
            )
        elif event.kind in ("question", "answer", "say"):
            c.print(f"[bold magenta]{event.kind}:[/] {shown(d.get('text', ''))}")
        elif event.kind == "knowledge":
            params = ", ".join(f"{k}={v}" for k, v in d["defaults"].items())
            c.print(f"[yellow]skill knowledge:[/] {d['skill']} {shown(d['obj'])} with {params}")
        elif event.kind == "retrieved":
            if not d["records"]:
                c.print("[yellow]remembered:[/] nothing relevant")
            for r in d["records"]:
                c.print(f"[yellow]remembered:[/] {shown(r['statement'])} [dim]({r['score']})[/]")
        elif event.kind == "error":
            c.print(f"[red]{shown(d.get('message', ''))}[/]")
        elif event.kind == "distilled":
            replaced = (
                f", replacing #{', #'.join(map(str, d['supersedes']))}" if d["supersedes"] else ""
            )
            c.print(
                f"[bold yellow]learned #{d['id']} ({d['kind']}):[/] {shown(d['statement'])}"
                f"[dim]{replaced}[/]"
            )
        elif event.kind == "forgotten":
            c.print(f"[bold yellow]forgot #{d['id']}:[/] {shown(d['statement'])}")
        elif event.kind == "observation":
            style = "green" if d.get("ok") else "red"
            c.print(f"[bold {style}]Observation {event.step}:[/]\n{shown(d['text'])}")
        elif event.kind == "done":
            c.rule(f"[bold]{d['status']}[/] after {d['steps']} step(s)")
            if d.get("reason"):
                c.print(f"[dim]{shown(d['reason'])}[/]")
