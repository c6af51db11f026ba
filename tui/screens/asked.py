"""A question the rotation run waits on, answered on the screen by a key press."""

from __future__ import annotations

import asyncio


class Asked:
    """One open question at a time: `wait()` is the run's side, `answer()` the screen's."""

    def __init__(self) -> None:
        self._future: asyncio.Future[bool] | None = None

    @property
    def open(self) -> bool:
        """The run is waiting for this answer now."""
        return self._future is not None and not self._future.done()

    async def wait(self) -> bool:
        self._future = asyncio.get_running_loop().create_future()
        try:
            return await self._future
        finally:
            self._future = None

    def answer(self, value: bool) -> bool:
        """Answer the open question; False when none is open (the answer is dropped)."""
        if not self.open:
            return False
        assert self._future is not None
        self._future.set_result(value)
        return True
