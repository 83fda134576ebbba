"""Shared fixtures of the simulator tests: object placements and self-closing environments."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sim.env import TabletopEnv
from sim.layout import Placement
from sim.objects import OBJECT_TYPES
from sim.world import WorldConfig

PlacementFactory = Callable[..., Placement]
EnvFactory = Callable[..., TabletopEnv]


def _item(
    kind: str,
    color: str,
    pose: tuple[float, ...] | None = None,
    name: str | None = None,
    **overrides: object,
) -> Placement:
    """A placement of a registered object type, named "<color> <kind>" unless `name` is given."""
    spec = OBJECT_TYPES.get(kind).spec(name or f"{color} {kind}", color, **overrides)
    return Placement(spec, pose)


@pytest.fixture(autouse=True)
def private_memory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`heed` commands under test keep knowledge in a throwaway folder, never the user's,
    and see no pulled models (the `auto` planner is then the same here as in CI)."""
    monkeypatch.setenv("HEEDBOT_MEMORY", str(tmp_path_factory.mktemp("memory")))
    monkeypatch.setenv("HEEDBOT_MODELS", str(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="session")
def item() -> PlacementFactory:
    """`item(kind, color, pose=None, name=None, size=..., mass=..., friction=...)`."""
    return _item


@pytest.fixture
def make_env() -> Iterator[EnvFactory]:
    """`make_env(*placements, seed=0, config=None)`; every env built is closed afterwards."""
    envs: list[TabletopEnv] = []

    def build(*placements: Placement, seed: int = 0, config: WorldConfig | None = None):
        env = TabletopEnv(list(placements), seed=seed, config=config)
        envs.append(env)
        return env

    yield build
    for env in envs:
        env.close()
