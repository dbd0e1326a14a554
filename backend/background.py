"""Background loops that survive failures and still stop when they are cancelled.

Every long-lived loop (outbox delivery, department polling, adapter and catalog refresh,
health flushing) runs passes that may fail; a failed pass is logged and the loop goes on.
On Python 3.11 that pattern can eat the loop's own cancellation, and then stopping the
server or a worker hangs for ever:

- redis-py (8.1) and asyncpg wait under timeouts of their own; a cancellation that lands
  as such a timeout fires comes out as ``TimeoutError`` (an ``Exception``), or not at all
  (redis/redis-py#2551);
- ``asyncio.wait_for`` returns normally when its future finishes in the same loop turn as
  the cancellation.

So a pass ends by asking the task itself: ``Task.cancelling()`` stays above zero once
``cancel()`` was called, whatever became of the ``CancelledError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def stop_requested() -> bool:
    """Whether this task was cancelled, even if the CancelledError never arrived."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def stop_if_requested() -> None:
    if stop_requested():
        raise asyncio.CancelledError


@contextmanager
def one_pass(log: Any, failure: str, *, warning: bool = False) -> Iterator[None]:
    """One pass of a background loop: a failure is logged as ``failure`` and the loop goes
    on; a cancellation, even one a library swallowed or turned into an error, stops it."""
    try:
        yield
    except Exception:
        stop_if_requested()
        if warning:
            log.warning(failure)
        else:
            log.exception(failure)
    stop_if_requested()
