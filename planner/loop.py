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
from dataclasses import dataclass, replace

from planner.api import SkillApi, api_listing
from planner.backend import BackendError, PlannerBackend
from planner.context import (
    PlannerContext,
    Proposal,
    RememberedProgram,
    StepRecord,
    TaskCorrection,
)
from planner.corrections import CorrectionInterpreter, manner_changes
from planner.events import EventBus
from planner.goals import Goal, check_goal
from planner.language.meanings import manner_text, meanings_in
from planner.outcome import FINISHED, TaskOutcome
from planner.sandbox.checker import ProgramRejected
from planner.sandbox.executor import ExecutionResult, SandboxExecutor
from skills.objects import ObjectState

SceneText = Callable[[Sequence[ObjectState]], str]
SceneDiff = Callable[[Sequence[ObjectState], Sequence[ObjectState]], list[str]]
MAX_FGEN_ROUNDS = 3
MOVED_M = 0.01  # an object that moved more than this was moved by the program
Corrector = Callable[[bool], str | None]  # (did the robot act?) -> correction text or None
LOOKING = ("go_home", "move_to", "move_by")  # motions that do not act on objects
GUESSED = ("embedding", "default")  # correction readings no pattern or model made


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
        self.initial_scene: tuple[ObjectState, ...] = ()
        self.goal: Goal | None = None
        self.goal_open = True  # whether a step may still state the task's goal
        self.programs: tuple[RememberedProgram, ...] = ()
        self.order: str | None = None  # what a teaching instruction also asks to be done
        self.defined: set[str] = set()
        self.defined_this_step = False

    def run(
        self,
        instruction: str,
        knowledge: Sequence[str] = (),
        programs: Sequence[RememberedProgram] = (),
    ) -> TaskOutcome:
        """Carry out `instruction` with retrieved knowledge statements and remembered
        programs in the context; the outcome says how it ended and what it cost."""
        self.programs = tuple(programs)
        outcome = TaskOutcome(status="failed", reason="the steps ran out")
        self.api.new_task()
        self.goal, self.goal_open = None, True
        self.bus.publish(
            "start", instruction=instruction, backend=self.backend.name, knowledge=list(knowledge)
        )
        taught = self._take_teaching([instruction])  # "from now on, cans go in the cyan bowl"
        self.order = self.interpreter.orders_beside(instruction) if taught else None
        last_failed = False
        for step in range(1, self.config.max_steps + 1):
            self.bus.step = step
            if self.bus.stop_requested:
                outcome.status, outcome.reason = "stopped", "stopped by the user"
                break
            t0 = time.perf_counter()
            self._set_manner(instruction, knowledge)
            context = self._context(instruction, knowledge, outcome)
            t_model = time.perf_counter()
            try:
                proposal = self.backend.propose(context)
            except BackendError as error:
                outcome.status, outcome.reason = "failed", f"the planner failed: {error}"
                break
            plan_s = time.perf_counter() - t_model
            outcome.step_plan_s.append(round(plan_s, 6))
            model_s = proposal.latency_s or plan_s
            self._account(outcome, proposal)
            outcome.step_model_s.append(round(proposal.latency_s, 4))
            outcome.served_by.append(proposal.served_by or self.backend.name)
            self.bus.publish(
                "thought",
                text=proposal.thought,
                served_by=outcome.served_by[-1],
                model_s=round(proposal.latency_s, 3),
                prompt_tokens=proposal.prompt_tokens,
                completion_tokens=proposal.completion_tokens,
                cached_tokens=proposal.meta.get("cached_tokens", 0),
            )
            kept = self._take_goal(proposal, outcome)
            self.bus.publish("code", code=proposal.code)
            result, overhead = self._execute(proposal, context, outcome, t0, model_s)
            outcome.overhead_s.append(overhead)
            log = self.api.new_program()
            observation = "\n".join(filter(None, [self._observe(result, log, context.scene), kept]))
            ok = result.ok
            verdict = ""
            if log.ended == "done" and ok:
                verdict, check_lines = self._verify(outcome)
                observation = "\n".join([observation, *check_lines])
                ok = verdict != "failed"
            stated = proposal.goal.predicates if proposal.goal is not None else ()
            outcome.history.append(
                StepRecord(proposal.thought, proposal.code, observation, ok, stated)
            )
            outcome.questions.extend(log.questions)
            self._take_teaching([answer for _, answer in log.questions])
            outcome.repeated_questions += len(log.repeated)
            outcome.steps = step
            self.bus.publish("observation", text=observation, ok=ok)
            if last_failed and ok:
                outcome.rescued += 1
            last_failed = not ok
            self.last_moves = self._moves(context.scene)
            acted = any(r["skill"] not in LOOKING for r in log.results)
            if self.goal is not None and self.goal.predicates and (acted or verdict == "failed"):
                self.goal_open = False  # acted on, or checked: the goal stands
            self.goal_open = self.goal_open or bool(log.questions)  # an answer says more
            text = self.corrector(acted) if self.corrector else None
            if text is not None:
                if self._take_correction(text, outcome, context) == "stop":
                    outcome.status, outcome.reason = "stopped", f"the user said {text!r}"
                    break
                continue  # re-plan from here, even after done()
            if log.ended == "refused" and ok:
                outcome.status, outcome.reason = "refused", log.reason
                break
            if verdict in FINISHED:
                outcome.status = verdict
                break
        self._finish(outcome)
        return outcome

    # --- goals -------------------------------------------------------------------------------
    def _take_goal(self, proposal: Proposal, outcome: TaskOutcome) -> str:
        """Keep the goal a proposal states, unless a step acted on the goal already or it was
        checked: then it stands until a task correction or an answer (a model that missed
        its goal restated it as what it had done). Returns the Observation's line if kept."""
        goal = proposal.goal
        if goal is None or goal == self.goal:
            return ""
        if not self.goal_open and self.goal is not None:
            return f"goal kept: {self.goal.describe()} (the instruction has not changed)"
        self.goal = goal
        outcome.goal = [dict(p) for p in goal.predicates]
        self.bus.publish("goal", predicates=outcome.goal, reason=goal.reason, text=goal.describe())
        return ""

    def _verify(self, outcome: TaskOutcome) -> tuple[str, list[str]]:
        """After done(): ``verified`` when the stated goal holds on the perceived scene,
        ``failed`` when it does not (the lines say which predicates, for the next step),
        ``unverified`` when no goal was stated or it can not be read on this scene."""
        goal = self.goal or Goal.unstated("the planner stated no goal")
        check = (
            check_goal(goal, self.api.objects_source(), self.initial_scene, self.api.holding())
            if goal.predicates
            else None
        )
        if check is None or check.malformed:
            reason = (
                goal.reason if check is None else f"the goal can not be read: {check.malformed}"
            )
            outcome.reason = reason
            self.bus.publish("goal_check", status="unverified", reason=reason)
            return "unverified", [f"goal check: not possible ({reason})"]
        outcome.unmet = list(check.failed)
        self.bus.publish(
            "goal_check", status="verified" if check.ok else "failed", unmet=outcome.unmet
        )
        if check.ok and goal.unchecked:
            outcome.reason = f"{goal.describe()}: the rest met, those parts unchecked"
            return "unverified", [f"goal check: met as far as it goes ({goal.describe()})"]
        if check.ok:
            outcome.reason = f"goal met: {goal.describe()}"
            return "verified", [f"goal check: met ({goal.describe()})"]
        outcome.reason = "goal not met: " + "; ".join(check.failed)
        return "failed", ["goal check: NOT met, the task is not done yet:"] + [
            f"  {line}" for line in check.failed
        ]

    def _finish(self, outcome: TaskOutcome) -> None:
        outcome.task_corrections = list(self.task_corrections)
        outcome.adjustments = {k: dict(v) for k, v in self.api.adjustments.items()}
        if outcome.status == "unverified":
            self.api.say(f"I have finished, but I could not check the result: {outcome.reason}.")
        self.bus.publish("done", status=outcome.status, steps=outcome.steps, reason=outcome.reason)

    def _set_manner(self, instruction: str, knowledge: Sequence[str]) -> None:
        """Skill speed and grip from how the task is worded ("carefully", "gently") and the
        manner words the user taught, before each step (a correction may teach one)."""
        said = [c.text for c in self.task_corrections if c.intent == "meaning"]
        meanings = meanings_in([*knowledge, *said])
        self.api.set_manner(manner_changes(manner_text(instruction, meanings)))

    # --- corrections -------------------------------------------------------------------------
    def _take_teaching(self, said: Sequence[str]) -> bool:
        """What an instruction or an answer teaches ("from now on, cans go in the cyan bowl",
        "yes, and forget what I said about the blue bowl") is kept like a correction; True
        when something was taught."""
        found = False
        for text in said:
            taught = self.interpreter.teaching(text)
            if taught is not None:
                scene = tuple(self.api.objects_source())
                self.task_corrections.append(TaskCorrection(text, taught.intent, (), scene))
                found = True
        return found

    def _take_correction(self, text: str, outcome: TaskOutcome, context: PlannerContext) -> str:
        """Interpret and apply a correction; return its kind. What the patterns did not read
        (only the embedding fallback, or nothing) the backend's model reads, if it has one;
        without a model such a reading never moves the robot: the planner asks about it
        (once). A stop stands however it was read: stopping is always safe."""
        correction = self.interpreter.interpret(text)
        if correction.meta.get("source") != "pattern":
            correction = self.backend.classify_correction(text, context) or correction
        if correction.meta.get("source") in GUESSED and correction.kind == "task":
            correction = replace(correction, intent="unclear")
        applied: list[str] = []
        if correction.kind == "skill":
            applied = self.api.adjust(correction.changes)
        elif correction.kind == "task":
            self.goal_open = True  # "no, the other bowl": the goal is said anew
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
            self.initial_scene = scene
            self.api.task_scene = scene  # find("leftmost block") means it as the user saw it
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
            initial_scene=self.initial_scene,
            programs=self.programs,
            order=self.order,
        )

    @staticmethod
    def _account(outcome: TaskOutcome, proposal: Proposal) -> None:
        for statement in proposal.meta.get("applied", ()):
            if statement not in outcome.knowledge_applied:
                outcome.knowledge_applied.append(statement)
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
        lines += [
            f"asked again, not put to the user twice: {q} -> answer: {a}" for q, a in log.repeated
        ]
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
