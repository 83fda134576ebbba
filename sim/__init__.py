"""PyBullet tabletop world: arm, objects, cameras, suites and success predicates."""

from sim.quiet import import_pybullet_quietly

import_pybullet_quietly()
