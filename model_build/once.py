"""One object of the process, made on first use (thread-safe): the models serving loads lazily."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class MadeOnce(Generic[T]):
    """``get()`` returns the one object ``make()`` made, calling it once, on the first call, even
    when threads ask at the same time; ``reset()`` forgets it (tests)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        made = self._made
        if made is None:
            with self._lock:
                made = self._made
                if made is None:
                    made = self._made = self._make()
        return made

    def reset(self) -> None:
        with self._lock:
            self._made = None
