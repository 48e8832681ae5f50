"""A dependency-free progress bar for long runs (stderr, one updating line)."""

from __future__ import annotations

import sys
import time
from typing import Mapping, Optional, TextIO


def format_terms(terms: Mapping[str, float]) -> str:
    """``{"total": 1.5, "style": 0.25}`` -> ``"total 1.5 style 0.25"`` (4 significant digits)."""
    return " ".join(f"{k} {v:.4g}" for k, v in terms.items())


class ProgressBar:
    """``[#####.....] 50/100 3.2 it/s ETA 15s total 1.2e+03 ...`` on one line.

    Redraws at most every ``interval`` seconds; on a non-terminal stream it prints a
    plain line every ``interval`` seconds instead, so logs stay readable.
    """

    def __init__(self, total: int, *, label: str = "", stream: Optional[TextIO] = None,
                 interval: float = 0.5, width: int = 24) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.width = width
        self.start = time.perf_counter()
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if not self._tty:  # logs: a line every few seconds, not a flood
            self.interval = max(interval, 5.0)
        self._drawn = False

    def update(self, done: int, terms: Optional[Mapping[str, float]] = None, *, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.interval and done < self.total:
            return
        self._last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        filled = int(self.width * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        eta_s = f"{eta:.0f}s" if eta == eta else "?"
        line = f"{self.label}[{bar}] {done}/{self.total} {rate:.2f} it/s ETA {eta_s}"
        if terms:
            line += " " + format_terms(terms)
        if self._tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self._tty:
            self.stream.write("\n")
            self.stream.flush()
