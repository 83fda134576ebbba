"""Robot description files built from `pybullet_data`, adjusted for fast, stable contact.

The Panda's finger collision meshes are replaced by boxes of the same extent: contact
with box pads is several times cheaper to simulate and gives flat, even grip faces.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import pybullet_data

FINGER_MESH = '<mesh filename="package://meshes/collision/finger.obj"/>'
# The finger mesh spans x in [-0.0105, 0.0105], y in [0, 0.0264], z in [0, 0.0538].
FINGER_BOX = '<box size="0.021 0.0264 0.0538"/>'
FINGER_ORIGINS = (
    (
        "<collision>\n      <geometry>\n        " + FINGER_MESH,
        '<collision>\n      <origin rpy="0 0 0" xyz="0 0.0132 0.0269"/>\n      <geometry>\n        '
        + FINGER_BOX,
    ),
    (
        '<origin rpy="0 0 3.14159265359" xyz="0 0 0"/>\n      <geometry>\n        ' + FINGER_MESH,
        '<origin rpy="0 0 3.14159265359" xyz="0 -0.0132 0.0269"/>\n      <geometry>\n        '
        + FINGER_BOX,
    ),
)


def panda_urdf() -> str:
    """Path of the adjusted Panda URDF, written once per content into the temp folder."""
    source_dir = Path(pybullet_data.getDataPath()) / "franka_panda"
    text = (source_dir / "panda.urdf").read_text()
    for old, new in FINGER_ORIGINS:
        if text.count(old) != 1:
            raise RuntimeError(f"unexpected panda.urdf in {source_dir}: finger collision not found")
        text = text.replace(old, new)
    text = re.sub(r'filename="package://meshes/', f'filename="{source_dir}/meshes/', text)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"heedbot-panda-{digest}.urdf"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".urdf")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
    return str(target)
