"""A readers-writer lock: many concurrent readers or one writer."""

from __future__ import annotations

import threading
from contextlib import contextmanager


class RWLock:
    """Many concurrent readers (matches) or one writer (add/remove/set_bank/save)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0

    @contextmanager
    def read(self):
        with self._cond:
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self):
        with self._cond:
            self._cond.wait_for(lambda: self._readers == 0)
            yield
