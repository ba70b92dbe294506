"""Streaming responses over a sync generator that is closed as soon as the response ends.

Starlette's StreamingResponse drops the body iterator when the client goes away and never
closes it: a sync generator suspended mid-answer then keeps whatever it holds (the local
model's lock, an upstream stream) until garbage collection, which on an idle server may be
minutes away. The next question then waits for the model and fails. ``ClosingStreamingResponse``
closes the generator in its own ``finally``, whatever ended the response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

import anyio
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ClosingStreamingResponse(StreamingResponse):
    def __init__(self, gen: Generator[str, None, None], **kwargs: Any) -> None:
        self._gen = gen
        super().__init__(self._iterate(), **kwargs)

    async def _iterate(self) -> AsyncIterator[str]:
        async for item in iterate_in_threadpool(self._gen):
            yield item

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # runs its finally blocks (releasing the model) in a worker thread, even when cancelled
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._gen.close)
