"""How far an index build has come, for the person waiting on it (#23): a bar with chunks/s and the
time left on a terminal (tqdm), else a line every ``PROGRESS_EVERY_S`` seconds (a log, a pipe).

Progress is counted in bytes of the files being read (known before the first chunk), so the share
done and the time left mean something from the start; a file's share is where its last embedded
chunk ends. Quiet for builds that take less than one interval.
"""

from __future__ import annotations

import time
from typing import TextIO

PROGRESS_EVERY_S = 10.0


class BuildProgress:
    """``advance`` after each embedded batch; ``close`` when the build is written."""

    def __init__(self, total_bytes: int, log: TextIO, every: float = PROGRESS_EVERY_S) -> None:
        self.total, self.log, self.every = max(total_bytes, 1), log, every
        self.started = self.last = time.monotonic()
        self.done_files = 0  # bytes of the files finished
        self.current = 0.0  # bytes of the file being embedded, so far
        self.chunks = 0
        self.bar = None
        if _is_terminal(log):
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="B", unit_scale=True, desc="indexing", file=log, leave=False)

    def advance(self, chunks: int, file_share: float, file_bytes: int) -> None:
        """``chunks`` more embedded; the current file (``file_bytes`` long) is ``file_share`` (0-1) done."""
        self.chunks += chunks
        self.current = min(max(file_share, 0.0), 1.0) * file_bytes
        now = time.monotonic()
        if self.bar is not None:
            self.bar.n = int(self.done)
            self.bar.set_postfix_str(f"{self.rate(now):.0f} chunks/s", refresh=False)
            self.bar.refresh()
        elif now - self.last >= self.every:
            print(self.line(now), file=self.log, flush=True)
            self.last = now

    def file_done(self, file_bytes: int) -> None:
        self.done_files += file_bytes
        self.current = 0.0

    @property
    def done(self) -> float:
        return min(self.done_files + self.current, self.total)

    def rate(self, now: float) -> float:
        return self.chunks / max(now - self.started, 1e-9)

    def line(self, now: float) -> str:
        """``indexing: 40% of 5.2 MB, 1,234 chunks at 85/s, about 1 min left``."""
        share = self.done / self.total
        elapsed = now - self.started
        left = elapsed * (1 - share) / share if share > 0 else None
        eta = "" if left is None else f", about {_duration(left)} left"
        return (
            f"indexing: {share:.0%} of {_megabytes(self.total)}, {self.chunks:,} chunks at {self.rate(now):.0f}/s{eta}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(log: TextIO) -> bool:
    try:
        return log.isatty()
    except (AttributeError, ValueError):
        return False


def _megabytes(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
