"""`python -m host [ORIGIN]`: the native messaging host, as the browser starts it.

Chrome passes the caller's origin (chrome-extension://ID/) as the first argument, and on
Windows `--parent-window=N` as well. stdout carries protocol frames only.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .native import run_native

    args = sys.argv[1:] if argv is None else argv
    origin = next((a for a in args if a.startswith("chrome-extension://")), None)
    return run_native(origin)


if __name__ == "__main__":
    sys.exit(main())
