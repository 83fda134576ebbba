"""PyBullet tabletop world: arm, objects, cameras and task suites."""

from sim.quiet import import_pybullet_quietly

import_pybullet_quietly()
