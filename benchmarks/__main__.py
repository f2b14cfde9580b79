"""Dispatch ``python -m benchmarks NAME [args]`` to ``benchmarks/NAME.py:main``."""

from __future__ import annotations

import importlib
import sys

NAMES = ("hash", "index", "detect", "load", "isolation")


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark by name; prints usage and returns 2 for an unknown name."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in NAMES:
        print(f"usage: python -m benchmarks {{{'|'.join(NAMES)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{args[0]}_bench")
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
