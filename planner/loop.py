"""The ReAct loop: Thought -> code -> sandboxed run -> Observation, until done.

Each step the backend sees the instruction, the scene, retrieved knowledge and the
history; its code runs in the sandbox, whose skill calls cross to `SkillApi` here. A
call to a function nobody defined is written by the backend first (hierarchical code
generation) and kept for later steps of the same task.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from planner.api import SkillApi, api_listing
from planner.backend import PlannerBackend
from planner.context import PlannerContext, Proposal, StepRecord, TaskCorrection
from planner.corrections import CorrectionInterpreter
from planner.events import EventBus
from planner.outcome import TaskOutcome
from planner.sandbox.checker import ProgramRejected
from planner.sandbox.executor import ExecutionResult, SandboxExecutor
from skills.objects import ObjectState

SceneText = Callable[[Sequence[ObjectState]], str]
SceneDiff = Callable[[Sequence[ObjectState], Sequence[ObjectState]], list[str]]
MAX_FGEN_ROUNDS = 3
MOVED_M = 0.01  # an object that moved more than this was moved by the program
Corrector = Callable[[bool], str | None]  # (did the robot act?) -> correction text or None
LOOKING = ("go_home", "move_to", "move_by")  # motions that do not act on objects


@dataclass(frozen=True)
class LoopConfig:
    """Limits of one task.

    Attributes:
        max_steps: most Thought/code/Observation steps.
        max_defined: most functions the backend may generate for one task.
    """

    max_steps: int = 8
    max_defined: int = 8


class ReActLoop:
    """Runs one instruction to completion against a `SkillApi` through a sandbox."""

    def __init__(
        self,
        backend: PlannerBackend,
        api: SkillApi,
        executor: SandboxExecutor,
        scene_text: SceneText,
        scene_diff: SceneDiff,
        config: LoopConfig | None = None,
        corrector: Corrector | None = None,
        interpreter: CorrectionInterpreter | None = None,
    ) -> None:
        self.backend = backend
        self.api = api
        self.executor = executor
        self.scene_text = scene_text
        self.scene_diff = scene_diff
        self.config = config or LoopConfig()
        self.corrector = corrector
        self.interpreter = interpreter or CorrectionInterpreter()
        self.task_corrections: list[TaskCorrection] = []
        self.last_moves: tuple[tuple[str, float, float], ...] = ()
        self.bus: EventBus = api.bus
        self.prelude: list[str] = []
        self.initial_scene_text = ""
        self.defined: set[str] = set()
        self.defined_this_step = False

    def run(self, instruction: str, knowledge: Sequence[str] = ()) -> TaskOutcome:
        outcome = TaskOutcome(status="max_steps")
        self.bus.publish(
            "start", instruction=instruction, backend=self.backend.name, knowledge=list(knowledge)
        )
        last_failed = False
        for step in range(1, self.config.max_steps + 1):
            self.bus.step = step
            if self.bus.stop_requested:
                outcome.status = "stopped"
                break
            t0 = time.perf_counter()
            context = self._context(instruction, knowledge, outcome)
            t_model = time.perf_counter()
            proposal = self.backend.propose(context)
            model_s = proposal.latency_s or (time.perf_counter() - t_model)
            self._account(outcome, proposal)
            outcome.step_model_s.append(round(proposal.latency_s, 4))
            self.bus.publish(
                "thought",
                text=proposal.thought,
                model_s=round(proposal.latency_s, 3),
                prompt_tokens=proposal.prompt_tokens,
                completion_tokens=proposal.completion_tokens,
                cached_tokens=proposal.meta.get("cached_tokens", 0),
            )
            self.bus.publish("code", code=proposal.code)
            result, overhead = self._execute(proposal, context, outcome, t0, model_s)
            outcome.overhead_s.append(overhead)
            log = self.api.new_program()
            observation = self._observe(result, log, context.scene)
            ok = result.ok
            outcome.history.append(StepRecord(proposal.thought, proposal.code, observation, ok))
            outcome.questions.extend(log.questions)
            outcome.steps = step
            self.bus.publish("observation", text=observation, ok=ok)
            if last_failed and ok:
                outcome.rescued += 1
            last_failed = not ok
            self.last_moves = self._moves(context.scene)
            acted = any(r["skill"] not in LOOKING for r in log.results)
            text = self.corrector(acted) if self.corrector else None
            if text is not None:
                if self._take_correction(text, outcome, context) == "stop":
                    outcome.status = "stopped"
                    break
                continue  # re-plan from here, even after done()
            if log.ended is not None and ok:
                outcome.status, outcome.reason = log.ended, log.reason
                break
        outcome.task_corrections = list(self.task_corrections)
        outcome.adjustments = {k: dict(v) for k, v in self.api.adjustments.items()}
        self.bus.publish("done", status=outcome.status, steps=outcome.steps)
        return outcome

    # --- corrections -------------------------------------------------------------------------
    def _take_correction(self, text: str, outcome: TaskOutcome, context: PlannerContext) -> str:
        """Interpret and apply a correction; return its kind. What the patterns did not read
        (only the embedding fallback, or nothing) the backend's model reads, if it has one."""
        correction = self.interpreter.interpret(text)
        if correction.meta.get("source") != "pattern":
            correction = self.backend.classify_correction(text, context) or correction
        applied: list[str] = []
        if correction.kind == "skill":
            applied = self.api.adjust(correction.changes)
        elif correction.kind == "task":
            scene = tuple(self.api.objects_source())
            self.task_corrections.append(
                TaskCorrection(text, correction.intent, self.last_moves, scene)
            )
        record = {
            "text": text,
            "kind": correction.kind,
            "intent": correction.intent,
            "read_by": correction.meta.get("source", "pattern"),
            "changes": [c.describe() for c in correction.changes],
            "applied": applied,
        }
        outcome.corrections.append(record)
        self.bus.publish("correction", **record)
        return correction.kind

    def _moves(self, before: Sequence[ObjectState]) -> tuple[tuple[str, float, float], ...]:
        """Objects the last program moved, with where they were before it (for "put it back")."""
        now = {o.name: o for o in self.api.objects_source()}
        return tuple(
            (o.name, o.position[0], o.position[1])
            for o in before
            if o.name in now and math.dist(o.position, now[o.name].position) > MOVED_M
        )

    # --- pieces ------------------------------------------------------------------------------
    def _context(
        self, instruction: str, knowledge: Sequence[str], outcome: TaskOutcome
    ) -> PlannerContext:
        scene = tuple(self.api.objects_source())
        text = self.scene_text(scene)
        if not outcome.history:
            self.initial_scene_text = text
        return PlannerContext(
            instruction=instruction,
            scene=scene,
            scene_text=text,
            history=tuple(outcome.history),
            knowledge=tuple(knowledge),
            answers=tuple(outcome.questions),
            corrections=tuple(self.task_corrections),
            last_moves=self.last_moves,
            api=api_listing(),
            initial_scene_text=self.initial_scene_text,
        )

    @staticmethod
    def _account(outcome: TaskOutcome, proposal: Proposal) -> None:
        outcome.prompt_tokens += proposal.prompt_tokens
        outcome.completion_tokens += proposal.completion_tokens
        outcome.model_s += proposal.latency_s
        outcome.cached_tokens += proposal.meta.get("cached_tokens", 0)

    def _execute(
        self,
        proposal: Proposal,
        context: PlannerContext,
        outcome: TaskOutcome,
        t0: float,
        model_s: float,
    ) -> tuple[ExecutionResult, float]:
        """Check, define missing functions, run; return the result and the loop's own
        overhead: the step's time less model time (proposing and defining functions), the
        program's own run time and the skills' time."""
        try:
            t_define = time.perf_counter()
            self._define_missing(proposal.code, context, outcome)
            if self.defined_this_step:
                model_s += time.perf_counter() - t_define
            checked_s = time.perf_counter()
            self.bus.clear_interrupt()
            result = self.executor.run(proposal.code, "\n\n".join(self.prelude))
        except ProgramRejected as rejected:
            return ExecutionResult.rejected(rejected), time.perf_counter() - t0 - model_s
        overhead = (checked_s - t0 - model_s) + max(
            0.0, result.wall_s - result.handler_s - result.run_s
        )
        return result, overhead

    def _define_missing(self, code: str, context: PlannerContext, outcome: TaskOutcome) -> None:
        self.defined_this_step = False
        for _ in range(MAX_FGEN_ROUNDS):
            missing = [
                f
                for f in self.executor.check(code, "\n\n".join(self.prelude)).undefined_functions
                if f not in self.defined
            ]
            if not missing:
                return
            for name in missing:
                if len(self.defined) >= self.config.max_defined:
                    raise ProgramRejected(
                        0, f"too many new functions (limit {self.config.max_defined})"
                    )
                proposal = self.backend.define(name, code, context)
                self._account(outcome, proposal)
                self.bus.publish("code", code=proposal.code, defines=name)
                self.executor.check(proposal.code, "\n\n".join(self.prelude))
                self.prelude.append(proposal.code)
                self.defined.add(name)
                self.defined_this_step = True

    def _observe(self, result: ExecutionResult, log, before: Sequence[ObjectState]) -> str:
        lines = []
        for r in log.results:
            mark = "ok" if r["success"] else "FAILED"
            lines.append(f"{r['skill']}: {mark} - {r['message']}")
        lines += [f"said: {s}" for s in log.said]
        lines += [f"asked: {q} -> answer: {a}" for q, a in log.questions]
        if result.output:
            lines.append(f"printed: {result.output.strip()}")
        if result.error is not None:
            where = f" (line {result.error.line})" if result.error.line else ""
            lines.append(f"error{where}: {result.error.type}: {result.error.message}")
        changes = self.scene_diff(before, self.api.objects_source())
        lines.append("scene changes: " + ("; ".join(changes) if changes else "none"))
        if log.ended:
            lines.append(f"task {log.ended}")
        return "\n".join(lines)
