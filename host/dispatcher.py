"""Routes each request to its capability and always produces exactly one response.

Two entry points with the same guarantees (one encoded response per inbound frame, never
an exception):

- `await Dispatcher.handle(payload)` for asyncio transports (WebSocket): returns the
  response; blocking work runs on a thread pool, so requests finish in any order and are
  matched by `id`.
- `Dispatcher.submit(payload, session, reply)` for thread-based transports (native
  messaging): the request is parsed and routed on the caller's thread; a quick handler
  (`ping`) answers there, a blocking one runs on a worker thread, which encodes its answer
  and calls `reply` itself. No event loop in between: one thread hand-off per request.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from .capabilities import Capabilities, Capability, Session
from .constants import MAX_OUTBOUND_FRAME
from .errors import InternalError, ProtocolError, TabSenseError, UnknownType
from .protocol import encode_message, error_response, ok_response, parse_request

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, capabilities: Capabilities, workers: int = 2, max_outbound: int = MAX_OUTBOUND_FRAME):
        self.capabilities = capabilities
        self.max_outbound = max_outbound
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tabsense-work")
        self._ordered = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabsense-stream")
        self.default_session = Session()

    # --- routing and answers, shared by both entry points ------------------------------

    def _route(self, payload: bytes | str, session: Session | None) -> tuple:
        """(request id, capability, handler args); raises a TabSenseError for a bad request."""
        request = parse_request(payload)
        capability = self.capabilities.get(request.type)
        if capability is None:
            known = ", ".join(sorted(self.capabilities.table))
            raise UnknownType(f"The host does not know the message type {request.type[:64]!r}; it knows: {known}.",
                              request.id)
        args = (request.params, session or self.default_session) if capability.needs_session else (request.params,)
        return request.id, capability, args

    def _executor_for(self, capability: Capability) -> ThreadPoolExecutor:
        return self._ordered if capability.ordered else self._executor

    @staticmethod
    def _failure(request_id, exc: BaseException) -> dict:
        """The error response for an exception raised while answering `request_id`."""
        if isinstance(exc, ProtocolError):
            return error_response(exc.request_id if request_id is None else request_id, exc)
        if isinstance(exc, TabSenseError):
            log.info("request %r failed: %s %s", request_id, exc.code, exc.message)
            return error_response(request_id, exc)
        # A bug: answer, log the traceback to stderr/log, keep serving.
        log.error("request %r crashed", request_id, exc_info=exc)
        return error_response(request_id, InternalError())

    def _encode(self, response: dict) -> bytes:
        return encode_message(response, self.max_outbound)  # never raises

    def _answer(self, request_id, capability: Capability, args: tuple) -> bytes:
        """Run a handler and encode its response, whatever happens (worker threads)."""
        try:
            response = ok_response(request_id, capability.handler(*args))
        except Exception as exc:
            response = self._failure(request_id, exc)
        return self._encode(response)

    # --- asyncio entry point -----------------------------------------------------------

    async def handle(self, payload: bytes | str, session: Session | None = None) -> bytes:
        """Answer one inbound frame; never raises. `session` holds per-connection state."""
        request_id = None
        try:
            request_id, capability, args = self._route(payload, session)
            if capability.blocking:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor_for(capability), capability.handler, *args)
            else:
                result = capability.handler(*args)
            response = ok_response(request_id, result)
        except Exception as exc:
            response = self._failure(request_id, exc)
        return self._encode(response)

    # --- thread entry point ------------------------------------------------------------

    def submit(self, payload: bytes | str, session: Session | None, reply: Callable[[bytes], None]) -> Future | None:
        """Answer one inbound frame by calling `reply(encoded response)` exactly once.

        Returns the worker's future when the request went to a worker thread (`reply` is
        then called on that thread), else None (`reply` was called before returning).
        Never raises, except what `reply` itself raises.
        """
        request_id = None
        try:
            request_id, capability, args = self._route(payload, session)
        except Exception as exc:
            reply(self._encode(self._failure(request_id, exc)))
            return None
        if not capability.blocking:
            reply(self._answer(request_id, capability, args))
            return None
        try:
            return self._executor_for(capability).submit(self._run, reply, request_id, capability, args)
        except RuntimeError as exc:  # shutting down
            reply(self._encode(self._failure(request_id, exc)))
            return None

    def _run(self, reply: Callable[[bytes], None], request_id, capability: Capability, args: tuple) -> None:
        try:
            reply(self._answer(request_id, capability, args))
        except Exception:  # nobody awaits this future: say so rather than lose it silently
            log.exception("the answer to request %r was dropped", request_id)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._ordered.shutdown(wait=False, cancel_futures=True)
