"""One slot per concurrently running sandbox: a private folder and, as root, a uid of its own.

Slots are claimed with ``flock`` on a lock file, so two pool processes (or two
grader runs) never share one. A dedicated uid makes ``RLIMIT_NPROC`` a
per-sandbox limit and lets :func:`kill_all_processes_of` end everything a
submission started, whatever session or process group it escaped to.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIRST_UID = 61000
MAX_SLOTS = 512
LOCK_DIR = Path(tempfile.gettempdir()) / "nlm-grader-slots"


@dataclass
class Slot:
    index: int
    uid: int | None
    folder: Path
    _lock_fd: int

    def release(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            os.close(self._lock_fd)
        except OSError:
            pass


def claim_slot() -> Slot:
    """Claim the first free slot; its folder is fresh, traversable, and empty."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    if os.stat(LOCK_DIR).st_uid == os.geteuid():
        LOCK_DIR.chmod(0o1777)  # shared, sticky: root and other users each keep their own lock files
    is_root = os.geteuid() == 0
    # Root's slots come with a uid each; another user's slots are named after that user.
    tag = "" if is_root else f"u{os.geteuid()}-"
    for index in range(MAX_SLOTS):
        fd = os.open(LOCK_DIR / f"slot-{tag}{index}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        uid = FIRST_UID + index if is_root else None
        if uid is not None:
            kill_all_processes_of(uid)  # leftovers of a grader that was killed
        folder = Path(tempfile.gettempdir()) / f"nlm-grader-slot-{tag}{index}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o711)
        folder.chmod(0o711)
        return Slot(index, uid, folder, fd)
    raise RuntimeError(f"all {MAX_SLOTS} sandbox slots are in use")


def kill_all_processes_of(uid: int) -> None:
    """SIGKILL every process running as ``uid``, whatever session or group it escaped to.

    A forked helper becomes ``uid`` and signals -1 until ``/proc`` shows no live
    process of it (see :func:`grader.worker.zygote.kill_every_process_of`). A
    fork, not a new interpreter: the uid may not be able to read the Python
    installation (a pyenv under a 0700 ``/root``).
    """
    from grader.worker.zygote import kill_every_process_of

    kill_every_process_of(uid)


def hand_over(folder: Path, uid: int | None) -> None:
    """Give the sandbox's uid ownership of ``folder`` (its writable scratch)."""
    if uid is None:
        return
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, uid)
