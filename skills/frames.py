"""The table frame's fixed facts (ARCHITECTURE.md): workspace rectangle and table height.

x points away from the robot base, y to its left, z up; metres. Every part that needs the
workspace (safety limits, layouts, regions, suite validation) reads it from here.
"""

from __future__ import annotations

WORKSPACE_X: tuple[float, float] = (0.30, 0.70)
WORKSPACE_Y: tuple[float, float] = (-0.30, 0.30)
TABLE_Z = 0.0
