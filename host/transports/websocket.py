"""WebSocket transport: the same messages as native messaging, on 127.0.0.1 only.

A connection must come from an allow-listed Origin (the extension) and present the
per-install token as `?token=...`; anything else is refused during the handshake.
Text and binary frames both carry one UTF-8 JSON request; answers are text frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from .. import auth
from ..constants import MAX_INBOUND_FRAME
from ..capabilities import Session
from ..dispatcher import Dispatcher
from ..errors import RateLimited
from ..protocol import encode_message, error_response, request_id_of

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_CONNECTIONS = 16
MAX_IN_FLIGHT_PER_CONNECTION = 8
# Token bucket per connection: a flooding client gets `rate_limited` answers, not the CPU.
RATE_PER_SECOND = 100.0
RATE_BURST = 200.0


class RateLimiter:
    def __init__(self, rate: float = RATE_PER_SECOND, burst: float = RATE_BURST, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.updated = burst, clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class WebSocketServer:
    def __init__(
        self,
        dispatcher: Dispatcher,
        token: str,
        origins: list[str],
        port: int,
        max_connections: int = MAX_CONNECTIONS,
    ):
        self.dispatcher = dispatcher
        self.token = token
        self.origins = origins
        self.port = port
        self.max_connections = max_connections
        self._connections = 0
        self.addresses: list[tuple[str, int]] = []

    def check_request(self, connection: ServerConnection, request: Request):
        """Handshake gate: token and connection count (websockets checks the Origin)."""
        query = parse_qs(urlsplit(request.path).query)
        given = (query.get("token") or [None])[0]
        if not auth.matches(self.token, given):
            log.warning("refused a connection without the right token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Missing or wrong TabSense token.\n")
        if self._connections >= self.max_connections:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections.\n")
        return None

    async def handle_connection(self, connection: ServerConnection) -> None:
        self._connections += 1
        slots = asyncio.Semaphore(MAX_IN_FLIGHT_PER_CONNECTION)
        tasks: set[asyncio.Task] = set()
        loop = asyncio.get_running_loop()

        async def send_event(message: dict) -> None:
            try:
                await connection.send(encode_message(message).decode("utf-8"))
            except ConnectionClosed:
                pass

        def start_send(message: dict) -> None:
            task = loop.create_task(send_event(message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def emit(message: dict) -> None:
            loop.call_soon_threadsafe(start_send, message)

        session = Session(emit)

        async def answer(message) -> None:
            try:
                response = await self.dispatcher.handle(message, session)
                await connection.send(response.decode("utf-8"))
            except ConnectionClosed:
                pass
            except Exception:  # a bug: drop this one answer, keep the connection serving
                log.exception("the answer to a message of %d characters was dropped", len(message))
            finally:
                slots.release()

        async def refuse(message) -> None:
            try:
                await connection.send(encode_message(error_response(request_id_of(message), RateLimited())).decode())
            except ConnectionClosed:
                raise
            except Exception:
                log.exception("a rate-limited message of %d characters was dropped", len(message))

        limiter = RateLimiter()
        try:
            async for message in connection:
                if not limiter.allow():
                    await refuse(message)
                    continue
                await slots.acquire()  # back-pressure: stop reading while the slots are full
                task = asyncio.create_task(answer(message))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            self._connections -= 1
            if tasks:
                await asyncio.wait(tasks, timeout=30)

    async def serve_forever(self, on_ready=None) -> None:
        async with serve(
            self.handle_connection,
            LOOPBACK,
            self.port,
            origins=self.origins,
            process_request=self.check_request,
            max_size=MAX_INBOUND_FRAME,
            max_queue=4,
            compression=None,  # base64 images barely compress; deflate would only cost CPU
        ) as server:
            self.addresses = [sock.getsockname()[:2] for sock in server.sockets]
            if self.addresses:
                self.port = self.addresses[0][1]
            log.info("listening on ws://%s:%d (origins: %s)", LOOPBACK, self.port, ", ".join(self.origins))
            if on_ready is not None:
                on_ready()
            await server.serve_forever()
