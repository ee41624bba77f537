"""Native messaging over stdin/stdout, as Chrome starts the host.

Reading happens on a thread (portable to pipes, files and Windows consoles), frames are
dispatched concurrently on an asyncio loop, and one writer thread puts whole frames on
stdout in completion order. At end of input the host answers what is in flight, then
exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sys
import threading
from typing import BinaryIO

from ..capabilities import Session
from ..dispatcher import Dispatcher
from ..errors import FrameTooLarge
from ..protocol import FrameDecoder, encode_frame, encode_message, error_response

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 16
DRAIN_TIMEOUT_S = 30.0
_EOF = object()


def claim_stdout() -> BinaryIO:
    """Return a private handle on the real stdout and point fd 1 at stderr.

    Only protocol frames may reach the browser: after this, a stray print() or a native
    library writing to fd 1 lands in stderr instead of corrupting the stream.
    """
    if sys.platform == "win32":
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
        msvcrt.setmode(sys.stdout.fileno(), os.O_BINARY)
    sys.stdout.flush()
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(frames_fd, "wb", buffering=0)


class FrameWriter:
    """Writes whole frames from a single thread, so frames never interleave."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tabsense-writer", daemon=True)
        self.broken = threading.Event()
        self._thread.start()

    def send(self, payload: bytes) -> None:
        self._queue.put(encode_frame(payload))

    def _run(self) -> None:
        while (frame := self._queue.get()) is not _EOF:
            if self.broken.is_set():
                continue
            try:
                self._out.write(frame)
                self._out.flush()
            except (BrokenPipeError, OSError, ValueError):
                log.warning("stdout closed; the browser went away")
                self.broken.set()

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(_EOF)
        self._thread.join(timeout)


def _read_frames(source: BinaryIO, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue) -> None:
    """Reader thread: bytes -> frames -> the loop's inbox; ends with _EOF or an error."""
    decoder = FrameDecoder()
    read = getattr(source, "read1", source.read)
    try:
        while chunk := read(READ_CHUNK):
            for frame in decoder.feed(chunk):
                loop.call_soon_threadsafe(inbox.put_nowait, frame)
            if decoder.error is not None:
                raise decoder.error
        if not decoder.at_boundary:
            log.warning("input ended inside a message (%d bytes pending)", decoder.pending)
    except FrameTooLarge as exc:
        loop.call_soon_threadsafe(inbox.put_nowait, exc)
    except (OSError, ValueError) as exc:
        log.warning("reading stdin failed: %s", exc)
    loop.call_soon_threadsafe(inbox.put_nowait, _EOF)


async def serve(source: BinaryIO, out: BinaryIO, dispatcher: Dispatcher) -> int:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue = asyncio.Queue()
    writer = FrameWriter(out)
    reader = threading.Thread(target=_read_frames, args=(source, loop, inbox), name="tabsense-reader", daemon=True)
    reader.start()
    in_flight: set[asyncio.Task] = set()
    # One browser port = one session; host events (voice commands) share the writer.
    session = Session(emit=lambda message: writer.send(encode_message(message)))

    async def answer(frame: bytes) -> None:
        writer.send(await dispatcher.handle(frame, session))

    fatal: FrameTooLarge | None = None
    while True:
        item = await inbox.get()
        if item is _EOF:
            break
        if isinstance(item, FrameTooLarge):
            fatal = item
            break
        task = asyncio.create_task(answer(item))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    if in_flight:
        await asyncio.wait(in_flight, timeout=DRAIN_TIMEOUT_S)
    if fatal is not None:
        # The stream cannot be resynchronised: answer what came before, say why, close.
        log.error("closing: %s", fatal.message)
        writer.send(encode_message(error_response(None, fatal)))
    writer.close()
    return 0


def run(dispatcher: Dispatcher) -> int:
    out = claim_stdout()
    try:
        return asyncio.run(serve(sys.stdin.buffer, out, dispatcher))
    except KeyboardInterrupt:
        return 0
    finally:
        dispatcher.close()
