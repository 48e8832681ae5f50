"""What this machine offers the library: memory available now (no TensorFlow).

One place for the checks that refuse a run too large for memory (the optimizer's schedule,
``pyramid``, and ``one_pass``'s arbitrary networks both ask here), so tests can fake one machine.

Example:
    >>> from tf_style import system
    >>> system.available_memory() is None or system.available_memory() > 0
    True
"""

from __future__ import annotations

from typing import Optional

__all__ = ["available_memory"]


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``); None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
