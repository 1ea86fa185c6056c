"""Progress lines of the kube targets (``[kind] install ok 212.4s``), written to the terminal as they happen.

The CLI collects pytest's stderr in a buffer (to turn a usage error into one line), so a line written to
``sys.stderr`` during the run would appear only after it ended, or never. These lines go to the process's
original stderr instead (``sys.__stderr__``), which that capture does not touch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

Echo = Callable[[str], None]


def terminal(line: str) -> None:
    """Write one progress line to the real terminal now."""
    stream = sys.__stderr__ or sys.stderr
    stream.write(line + "\n")
    stream.flush()
