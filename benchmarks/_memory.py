"""Peak memory of a block of work, for the benchmark scripts (Linux /proc only).

``RssAnon`` is the process's own memory (heap, arrays); pages of a memory-mapped movie are
file-backed (``RssFile``) and can be dropped by the kernel at any time, so they do not count
against the memory goals.
"""

from __future__ import annotations

import threading
import time

MB = 1024 * 1024


def status_bytes(field: str) -> int:
    """A ``/proc/self/status`` field (``RssAnon``, ``RssFile``, ``VmRSS``) in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class PeakMemory:
    """Sample RssAnon, RssFile and VmRSS in a thread while the block runs; peaks in bytes."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval

    def _sample(self):
        self.peak_anon = max(self.peak_anon, status_bytes("RssAnon"))
        self.peak_file = max(self.peak_file, status_bytes("RssFile"))
        self.peak_rss = max(self.peak_rss, status_bytes("VmRSS"))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __enter__(self):
        self.start_anon = status_bytes("RssAnon")
        self.peak_anon = self.peak_file = self.peak_rss = 0
        self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
