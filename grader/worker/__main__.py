"""Entry point of a cold worker: ``python -I -u -c <bootstrap> CONFIG_JSON``.

The grader starts it through :mod:`grader.sandbox` (directly, or inside
bubblewrap); the config names the channel's file descriptor, the student's
folder, the allowed packages, the limits, the uid to become and the Landlock
view. Confinement is applied here, before any student code is imported.
"""
from __future__ import annotations

import json
import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    config = json.loads(argv[1])

    from grader.worker.confine import confine
    from grader.worker.server import run_worker

    confine(config)
    run_worker(config, int(config["fd"]))


if __name__ == "__main__":
    main()
