"""Native messaging over stdin/stdout, as Chrome starts the host.

One reader thread reads each frame with a single `readinto` of its announced length
(portable to pipes, files and Windows consoles; the protocol's `FrameDecoder` reads the
header and says how many bytes to fetch) and hands it to the dispatcher: `ping`
is answered right there, a classification goes to a worker thread, which writes its
answer to stdout itself. That is one thread hand-off per request; an event loop in between
would make it four (reader -> loop -> worker -> loop -> writer), each a wake-up that a busy
machine can delay by milliseconds.

Frames never interleave: every write of a whole frame holds one lock. The reader thread
never writes to stdout (its answers go through a small writer thread), so a browser that
is slow to read our answers can never stop us from reading its requests. A message whose
handling fails in any way is logged and dropped; the reader goes on with the next one. At
end of input the host answers what is in flight, then exits 0.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from concurrent.futures import wait
from typing import BinaryIO

from ..capabilities import Session
from ..constants import MAX_INBOUND_FRAME
from ..dispatcher import Dispatcher
from ..errors import FrameTooLarge
from ..protocol import FrameDecoder, encode_frame, encode_message, error_response

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 16
PIPE_SIZE = 1 << 20  # /proc/sys/fs/pipe-max-size, the most an unprivileged process may ask
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032  # Linux fcntl commands (fcntl exposes them from 3.10 on Linux)
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
    """Puts whole frames on `out`, one at a time (a lock), so frames never interleave.

    `send()` writes on the calling thread (a worker: no hand-off), except on the thread
    named by `queue_from` (the reader), whose frames a writer thread puts out instead, so
    that thread never blocks on a full pipe.
    """

    def __init__(self, out: BinaryIO, queue_from: threading.Thread | None = None):
        self._out = out
        self._lock = threading.Lock()
        self.queue_from = queue_from
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tabsense-writer", daemon=True)
        self.broken = threading.Event()
        self._thread.start()

    def send(self, payload: bytes) -> None:
        if self.queue_from is not None and threading.current_thread() is self.queue_from:
            self._queue.put(payload)
        else:
            self._write(payload)

    def _write(self, payload: bytes) -> None:
        frame = encode_frame(payload)
        with self._lock:
            if self.broken.is_set():
                return
            try:
                self._out.write(frame)
                self._out.flush()
            except (BrokenPipeError, OSError, ValueError):
                log.warning("stdout closed; the browser went away")
                self.broken.set()

    def _run(self) -> None:
        while (payload := self._queue.get()) is not _EOF:
            self._write(payload)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(_EOF)
        self._thread.join(timeout)


def _read_exactly(readinto, view: memoryview) -> int:
    """Fill `view` from the stream; the number of bytes read (short only at end of input)."""
    done = 0
    while done < len(view):
        count = readinto(view[done:])
        if not count:
            break
        done += count
    return done


def iter_frames_from(source: BinaryIO, max_frame: int = MAX_INBOUND_FRAME):
    """Frames from a byte stream until it ends; raises `FrameTooLarge` on a bad length.

    The `FrameDecoder` interprets the stream; this only fetches its bytes. With `readinto`,
    each read asks for exactly what the decoder wants next: the header, then the whole frame
    into a fresh buffer that becomes the frame (no chunking, no re-copying). Streams without
    `readinto` are fed in chunks.
    """
    decoder = FrameDecoder(max_frame)
    readinto = getattr(source, "readinto", None)
    if readinto is None:
        read = getattr(source, "read1", source.read)
        while chunk := read(READ_CHUNK):
            yield from decoder.feed(chunk)
            if decoder.error is not None:
                raise decoder.error
    else:
        while True:
            buffer = bytearray(decoder.wanted)
            got = _read_exactly(readinto, memoryview(buffer))
            if got < len(buffer):
                decoder.feed(memoryview(buffer)[:got])  # completes nothing; counted in `pending`
                break
            yield from decoder.feed(buffer)
    if not decoder.at_boundary:
        log.warning("input ended inside a message (%d bytes pending)", decoder.pending)


def serve_thread(source: BinaryIO, out: BinaryIO, dispatcher: Dispatcher) -> int:
    """Read and dispatch frames on the calling thread until end of input; exit code."""
    writer = FrameWriter(out, queue_from=threading.current_thread())
    # One browser port = one session; host events (voice commands) share the writer.
    session = Session(emit=lambda message: writer.send(encode_message(message)))
    in_flight: set = set()
    fatal: FrameTooLarge | None = None
    try:
        for frame in iter_frames_from(source):
            try:
                future = dispatcher.submit(frame, session, writer.send)
            except Exception:  # a bug: one message must never stop the host serving the others
                log.exception("a message of %d bytes was dropped", len(frame))
                continue
            if future is not None:
                in_flight.add(future)
                future.add_done_callback(in_flight.discard)
    except FrameTooLarge as exc:
        fatal = exc
    except (OSError, ValueError) as exc:
        log.warning("reading stdin failed: %s", exc)
    pending = in_flight.copy()  # one C call: atomic while workers discard theirs
    if pending:
        wait(pending, timeout=DRAIN_TIMEOUT_S)
    if fatal is not None:
        # The stream cannot be resynchronised: answer what came before, say why, close.
        log.error("closing: %s", fatal.message)
        writer.send(encode_message(error_response(None, fatal)))
    writer.close()
    return 0


def widen_pipe(fd: int, size: int = PIPE_SIZE) -> int | None:
    """Linux: grow the pipe on `fd` to `size` bytes; its new size, or None (not a pipe, or
    not Linux). With the default 64 KiB, the browser's write of a 133 KB picture request
    fills the pipe twice and must wait for our reader to drain it; with 1 MiB it is written
    and read in one go (fewer wake-ups; through a Python client the round trip did not
    change measurably, so this is cheap insurance rather than a measured gain)."""
    try:
        import fcntl
        import stat

        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        current = fcntl.fcntl(fd, F_GETPIPE_SZ)
        if current >= size:
            return current
        return fcntl.fcntl(fd, F_SETPIPE_SZ, size)
    except (ImportError, OSError, ValueError):
        return None  # a lower limit (/proc/sys/fs/pipe-max-size) or another platform: keep the default


def run(dispatcher: Dispatcher, out: BinaryIO) -> int:
    """Serve stdin until it ends, writing frames to `out`: the handle `claim_stdout()`
    returned, claimed before any thread started."""
    size = widen_pipe(sys.stdin.fileno())
    if size:
        log.debug("stdin pipe: %d bytes", size)
    try:
        return serve_thread(sys.stdin.buffer, out, dispatcher)
    except KeyboardInterrupt:
        return 0
    finally:
        dispatcher.close()
