"""Named colours of the object library (Code as Policies' ten plus white and black): the
world's colour vocabulary, which the simulator, perception and suites share."""

from __future__ import annotations

PALETTE: dict[str, tuple[float, float, float]] = {
    "blue": (0.12, 0.35, 0.85),
    "red": (0.85, 0.12, 0.12),
    "green": (0.15, 0.70, 0.20),
    "orange": (1.00, 0.50, 0.05),
    "yellow": (0.95, 0.85, 0.10),
    "purple": (0.50, 0.20, 0.70),
    "pink": (1.00, 0.45, 0.70),
    "cyan": (0.10, 0.80, 0.85),
    "brown": (0.50, 0.30, 0.12),
    "gray": (0.50, 0.50, 0.50),
    "white": (0.95, 0.95, 0.95),
    "black": (0.08, 0.08, 0.08),
}


def rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """RGBA of a palette colour; raise KeyError naming the known colours."""
    try:
        r, g, b = PALETTE[color]
    except KeyError:
        raise KeyError(f"unknown colour {color!r}; known: {', '.join(PALETTE)}") from None
    return (r, g, b, alpha)
