"""Named crash points, for the crash-recovery tests.

``ETL_FAILPOINTS="github.page.upserted:3"`` makes the process SIGKILL itself the 3rd time it
reaches ``reach("github.page.upserted")`` (``:1`` when the count is left out). Unset, ``reach``
is a dictionary lookup. Written here rather than taken from a library: none offers a real
SIGKILL of the own process at a named line, which is what the tests must survive.
"""

from __future__ import annotations

import os
import signal
import threading

_armed: dict[str, int] = {}
for _item in filter(None, os.environ.get("ETL_FAILPOINTS", "").split(",")):
    _name, _, _count = _item.strip().partition(":")
    _armed[_name] = int(_count or 1)
_lock = threading.Lock()


def reach(name: str) -> None:
    """Die here (SIGKILL, no cleanup, no commit) if the failpoint ``name`` is armed and due."""
    if name not in _armed:
        return
    with _lock:
        _armed[name] -= 1
        due = _armed[name] == 0
    if due:
        os.kill(os.getpid(), signal.SIGKILL)
