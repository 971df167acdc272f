"""Admission to the expensive path (a shortlist): a bounded number at once, a bounded queue, a bounded wait.

The language model generates one answer at a time per process (`backend.service._llm_lock`); what runs
beside it (intent, retrieval, verification) overlaps with it, so a small number of shortlists are let in
at once and the rest wait here, in the event loop, without holding a worker thread. A request that would
wait too long, or find the queue full, gets `Busy` (a clear "please retry" with a delay) instead of an error.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from backend.settings import get_settings
from catalog.errors import ConciergeError



class Busy(ConciergeError):
    """Too many shortlists are being prepared; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Admission:
    """At most `limit` holders at once; at most `max_waiting` waiting, each for at most `max_wait_s`.

    Args:
        limit (`int`): holders at once.
        max_waiting (`int`): callers allowed to wait; one more is refused at once.
        max_wait_s (`float`): a caller that waits longer is refused.
    """

    def __init__(self, limit: int | None = None, max_waiting: int | None = None, max_wait_s: float | None = None):
        settings = get_settings()  # defaults: CONCIERGE_SHORTLISTS_AT_ONCE, _SHORTLIST_QUEUE, _SHORTLIST_WAIT_S
        self.limit = limit if limit is not None else settings.shortlists_at_once
        self.max_waiting = max_waiting if max_waiting is not None else settings.shortlist_queue
        self.max_wait_s = max_wait_s if max_wait_s is not None else settings.shortlist_wait_s
        self.waiting = 0
        self.running = 0
        self._slots = asyncio.Semaphore(self.limit)

    @asynccontextmanager
    async def slot(self):
        """Hold one slot for the body of the `async with`. Raises `Busy` instead of waiting past the bounds."""
        if self._slots.locked() and self.waiting >= self.max_waiting:
            raise Busy(f"Concierge is busy: {self.waiting} requests are already waiting; please retry in a "
                       f"minute", retry_after_s=30)
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.max_wait_s)
        except TimeoutError:
            raise Busy(f"Concierge is busy: no turn came within {self.max_wait_s:.0f} s; please retry in a "
                       f"minute", retry_after_s=60) from None
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()
