"""Colour naming against the palette, robust to shading.

Rendered (and real) surfaces show their colour scaled by how they face the light, so a
pixel is named by its chromaticity (RGB over its maximum, which shading does not change)
when it is saturated, and by its brightness against the achromatic palette colours (black,
gray, white) when it is not. A 64x64x64 lookup table makes naming one gather per pixel.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np

from skills.palette import PALETTE

ACHROMATIC_SATURATION = 0.25
"""Pixels and palette colours below this saturation are named by brightness alone."""
SHADE_RANGE = (0.60, 0.94)
"""Smallest and largest brightness factor of a lit surface (side faces .. faces up)."""
_BITS = 6
_SHIFT = 8 - _BITS


def _saturation(rgb: np.ndarray) -> np.ndarray:
    top = rgb.max(axis=-1)
    return np.where(top > 0, (top - rgb.min(axis=-1)) / np.maximum(top, 1e-9), 0.0)


class ColorNamer:
    """Names pixels with the nearest palette colour.

    Attributes:
        names: the palette's colour names; pixel classes index this tuple.
    """

    def __init__(self, palette: Mapping[str, tuple[float, float, float]] = PALETTE) -> None:
        self.names = tuple(palette)
        self._rgb = np.array([palette[n] for n in self.names], dtype=float)
        self._lut = _build_lut(tuple((n, tuple(palette[n])) for n in self.names))

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """Class index (into `names`) of each pixel of an (..., 3) uint8 array."""
        q = np.asarray(rgb, dtype=np.uint8) >> _SHIFT
        index = (q[..., 0].astype(np.int32) << (2 * _BITS)) | (q[..., 1].astype(np.int32) << _BITS)
        return self._lut[index | q[..., 2]]

    def name(self, rgb: tuple[float, float, float]) -> str:
        """The palette name of one 0..255 RGB colour."""
        pixel = np.clip(np.asarray(rgb, dtype=float), 0, 255).astype(np.uint8)
        return self.names[int(self.classify(pixel[None])[0])]


@functools.lru_cache(maxsize=4)
def _build_lut(palette: tuple[tuple[str, tuple[float, float, float]], ...]) -> np.ndarray:
    rgb = np.array([c for _, c in palette], dtype=float)
    sat = _saturation(rgb)
    chroma = np.flatnonzero(sat >= ACHROMATIC_SATURATION)
    grays = np.flatnonzero(sat < ACHROMATIC_SATURATION)
    if len(grays) == 0 or len(chroma) == 0:
        raise ValueError("the palette needs both saturated and achromatic colours")
    levels = (np.arange(1 << _BITS) << _SHIFT) + (1 << _SHIFT) / 2.0
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    cube = np.stack([r, g, b], axis=-1).reshape(-1, 3)
    top = cube.max(axis=1)
    # Saturated: nearest chromaticity (colour over its maximum channel).
    ref = rgb[chroma] / rgb[chroma].max(axis=1, keepdims=True)
    norm = cube / top[:, None]
    d2 = ((norm[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)
    chroma_class = chroma[np.argmin(d2, axis=1)]
    # Achromatic: nearest in log-brightness to each gray lit at the middle shade.
    mid_shade = math.sqrt(SHADE_RANGE[0] * SHADE_RANGE[1])
    gray_levels = np.log(np.maximum(rgb[grays].max(axis=1) * 255.0 * mid_shade, 1.0))
    gray_class = grays[np.argmin(np.abs(np.log(top)[:, None] - gray_levels[None, :]), axis=1)]
    # A dark pixel has no reliable chromaticity: below the darkest saturated colour in
    # its deepest shade, name it by brightness.
    darkest = rgb[chroma].max(axis=1).min() * 255.0 * SHADE_RANGE[0]
    use_gray = (_saturation(cube) < ACHROMATIC_SATURATION) | (top < darkest * 0.6)
    return np.where(use_gray, gray_class, chroma_class).astype(np.uint8)
