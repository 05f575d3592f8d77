"""Read a child's stdout/stderr with a cap, so a flood cannot exhaust the grader.

The first ``cap`` bytes are kept; the rest is read and counted, then dropped.
Readers are daemon threads so a grandchild that keeps the pipe open cannot
block the grader: :meth:`CappedReader.result` waits only briefly.
"""
from __future__ import annotations

import threading
from typing import BinaryIO


class CappedReader:
    """Drain one pipe in a background thread, keeping at most ``cap`` bytes."""

    def __init__(self, stream: BinaryIO, cap: int) -> None:
        self.stream = stream
        self.cap = cap
        self.kept = bytearray()
        self.dropped = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while True:
                chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
                if not chunk:
                    break
                with self._lock:
                    room = self.cap - len(self.kept)
                    if room > 0:
                        self.kept += chunk[:room]
                    self.dropped += max(0, len(chunk) - max(room, 0))
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.stream.close()
            except OSError:
                pass

    def result(self, wait: float = 0.5) -> tuple[str, int]:
        """The kept text (UTF-8, invalid bytes replaced) and the number of bytes dropped."""
        self._thread.join(wait)
        with self._lock:
            return bytes(self.kept).decode("utf-8", errors="replace"), self.dropped
