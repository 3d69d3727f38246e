"""Act from a helper thread when a condition holds, for the length of one ``with`` block only.

Tests that must do something while the code under test blocks (cancel a running job, kill its
backend) need a second thread. A thread left running after its test can act on the *next* test
(a killer that waited for "any job" once ended another test's backend), so the thread here is
stopped and joined when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator


class Watcher:
    """What the helper thread did: ``acted`` is set once ``act`` has run; ``value`` is what the condition returned."""

    def __init__(self) -> None:
        self.acted = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


@contextmanager
def watching(condition: Callable[[], Any], act: Callable[[Any], None], poll: float = 0.005) -> Iterator[Watcher]:
    """Call ``act(value)`` once, as soon as ``value = condition()`` is truthy, while the block runs.

    The thread ends with the block (it is told to stop and joined), so it can never outlive its test;
    an exception inside ``condition`` or ``act`` is re-raised at the end of the block.
    """
    watcher = Watcher()
    stop = threading.Event()

    def watch() -> None:
        try:
            while not stop.is_set():
                value = condition()
                if value:
                    watcher.value = value
                    act(value)
                    watcher.acted.set()
                    return
                stop.wait(poll)
        except BaseException as err:  # handed to the test's thread below
            watcher.error = err

    thread = threading.Thread(target=watch, name="test-watcher", daemon=True)
    thread.start()
    try:
        yield watcher
    finally:
        stop.set()
        thread.join()
    if watcher.error is not None:
        raise watcher.error
