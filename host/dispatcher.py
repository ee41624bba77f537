"""Routes each request to its capability and always produces exactly one response.

Transports call `Dispatcher.handle(payload)` for every inbound frame, concurrently; it
returns the encoded response. Blocking work runs on a thread pool, so requests finish
in any order and are matched by `id`.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from .capabilities import Capabilities, Session
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

    async def handle(self, payload: bytes | str, session: Session | None = None) -> bytes:
        """Answer one inbound frame; never raises. `session` holds per-connection state."""
        request_id = None
        try:
            request = parse_request(payload)
            request_id = request.id
            capability = self.capabilities.get(request.type)
            if capability is None:
                known = ", ".join(sorted(self.capabilities.table))
                raise UnknownType(f"The host does not know the message type {request.type[:64]!r}; it knows: {known}.")
            args = (request.params, session or self.default_session) if capability.needs_session else (request.params,)
            if capability.blocking:
                loop = asyncio.get_running_loop()
                executor = self._ordered if capability.ordered else self._executor
                result = await loop.run_in_executor(executor, capability.handler, *args)
            else:
                result = capability.handler(*args)
            response = ok_response(request_id, result)
        except ProtocolError as exc:
            response = error_response(exc.request_id if request_id is None else request_id, exc)
        except TabSenseError as exc:
            log.info("request %r failed: %s %s", request_id, exc.code, exc.message)
            response = error_response(request_id, exc)
        except Exception:  # a bug: answer, log the traceback to stderr/log, keep serving
            log.exception("request %r crashed", request_id)
            response = error_response(request_id, InternalError())
        try:
            return encode_message(response, self.max_outbound)
        except (TypeError, ValueError):
            log.exception("response to %r is not serialisable", request_id)
            return encode_message(error_response(request_id, InternalError()), self.max_outbound)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._ordered.shutdown(wait=False, cancel_futures=True)
