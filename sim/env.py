"""A ready-to-run tabletop episode: world, arm, seeded objects, ground truth and checks."""

from __future__ import annotations

from perception.predicates import Predicate, PredicateContext, PredicateResult, evaluate_all
from sim.layout import Placement, sample_layout
from sim.panda import PandaConfig, SimRobot
from sim.suite import Episode
from sim.world import TabletopWorld, WorldConfig
from skills.objects import ObjectState


class TabletopEnv:
    """A world with the Panda and the given objects, laid out from `seed`.

    It is also the ground-truth `ObjectSource` (its `objects()` lists true states).
    """

    def __init__(
        self,
        placements: list[Placement],
        seed: int = 0,
        config: WorldConfig | None = None,
        panda: PandaConfig | None = None,
    ) -> None:
        self.seed = seed
        self.world = TabletopWorld(config)
        try:
            self.robot = SimRobot(self.world, panda)
            for placement, (x, y, yaw) in zip(
                placements, sample_layout(placements, seed), strict=True
            ):
                self.world.add_object(placement.spec, x, y, yaw)
            self.world.settle()
        except BaseException:
            self.world.close()
            raise
        self.initial = {s.name: s for s in self.world.object_states()}

    @classmethod
    def from_episode(cls, episode: Episode, config: WorldConfig | None = None) -> TabletopEnv:
        """Build the scene of a suite episode."""
        placements = [Placement(o.to_spec(), o.pose) for o in episode.objects]
        return cls(placements, episode.seed, config)

    def objects(self) -> list[ObjectState]:
        return self.world.object_states()

    def context(self) -> PredicateContext:
        """What success predicates read: objects now and at the start, and what is held."""
        now = {s.name: s for s in self.world.object_states()}
        return PredicateContext(
            objects=now, initial=self.initial, holding=self.robot.state().holding
        )

    def check(self, predicates: tuple[Predicate, ...] | list[Predicate]) -> list[PredicateResult]:
        return evaluate_all(list(predicates), self.context())

    def close(self) -> None:
        self.world.close()

    def __enter__(self) -> TabletopEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
