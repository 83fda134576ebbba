"""Print the sandbox's timings and active confinement layers: `python -m planner.sandbox`."""

from __future__ import annotations

import json
import sys

from planner.sandbox.timing import measure


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    timings = measure(repeats)
    print(json.dumps(timings.to_dict(), indent=2))
    ms = {k: f"{v * 1e3:.3f} ms" for k, v in timings.to_dict().items() if k != "layers"}
    for key, value in ms.items():
        print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
