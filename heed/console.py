"""The terminal view of a run: a subscriber that prints the planner's events with rich."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from planner.events import Event


class ConsolePrinter:
    """Prints Thoughts, code, skill results, questions and Observations as they happen."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()

    def __call__(self, event: Event) -> None:
        c, d = self.console, event.data
        if event.kind == "start":
            c.rule(f"[bold]{escape(d['instruction'])}[/]  [dim]({d['backend']})[/]")
        elif event.kind == "thought":
            cost = ""
            if d.get("model_s"):
                cost = (
                    f" [dim]({d['model_s']:.1f} s, {d.get('prompt_tokens', 0)} prompt tokens"
                    f" of which {d.get('cached_tokens', 0)} cached, "
                    f"{d.get('completion_tokens', 0)} written)[/]"
                )
            by = f" [dim]\\[{d['served_by']}][/]" if d.get("served_by") else ""
            c.print(f"[bold cyan]Thought {event.step}:[/]{by} {escape(d['text'])}{cost}")
        elif event.kind == "goal":
            c.print(f"[bold blue]Goal:[/] {escape(d['text'])}")
        elif event.kind == "goal_check":
            style = {"verified": "green", "failed": "red"}.get(d["status"], "yellow")
            unmet = "; ".join(d.get("unmet") or ()) or d.get("reason", "")
            c.print(f"[bold {style}]goal check: {d['status']}[/] {escape(unmet)}")
        elif event.kind == "code":
            title = f"defines {d['defines']}" if d.get("defines") else "code"
            c.print(f"[dim]{title}:[/]")
            c.print(Syntax(d["code"], "python", theme="ansi_dark", line_numbers=False))
        elif event.kind == "skill_end":
            ok = d.get("success")
            mark = "[green]ok[/]" if ok else "[red]failed[/]"
            detail = d.get("message") or d.get("error", "")
            c.print(f"  {mark} {d.get('skill')}: {escape(str(detail))}")
        elif event.kind == "correction":
            applied = "; ".join(d.get("applied") or ())
            change = f" [dim]-> {escape(applied)}[/]" if applied else ""
            c.print(
                f"[bold magenta]correction ({d['kind']}, {d['intent']}):[/] "
                f"{escape(d['text'])}{change}"
            )
        elif event.kind in ("question", "answer", "say"):
            c.print(f"[bold magenta]{event.kind}:[/] {escape(d.get('text', ''))}")
        elif event.kind == "knowledge":
            params = ", ".join(f"{k}={v}" for k, v in d["defaults"].items())
            c.print(f"[yellow]skill knowledge:[/] {d['skill']} {escape(d['obj'])} with {params}")
        elif event.kind == "retrieved":
            if not d["records"]:
                c.print("[yellow]remembered:[/] nothing relevant")
            for r in d["records"]:
                c.print(f"[yellow]remembered:[/] {escape(r['statement'])} [dim]({r['score']})[/]")
        elif event.kind == "distilled":
            replaced = (
                f", replacing #{', #'.join(map(str, d['supersedes']))}" if d["supersedes"] else ""
            )
            c.print(
                f"[bold yellow]learned #{d['id']} ({d['kind']}):[/] {escape(d['statement'])}"
                f"[dim]{replaced}[/]"
            )
        elif event.kind == "forgotten":
            c.print(f"[bold yellow]forgot #{d['id']}:[/] {escape(d['statement'])}")
        elif event.kind == "observation":
            style = "green" if d.get("ok") else "red"
            c.print(f"[bold {style}]Observation {event.step}:[/]\n{escape(d['text'])}")
        elif event.kind == "done":
            c.rule(f"[bold]{d['status']}[/] after {d['steps']} step(s)")
            if d.get("reason"):
                c.print(f"[dim]{escape(d['reason'])}[/]")
