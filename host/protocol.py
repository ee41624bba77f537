"""Sans-I/O core of the native messaging protocol: frames and messages.

A frame is a 4-byte length in native byte order followed by that many bytes of UTF-8
JSON. `FrameDecoder` is the one place that reads headers and enforces the size limit: fed
bytes as they arrive, in pieces of any size, it yields complete frames, and `wanted` says
how many bytes complete the next step, so a reader can fetch exactly those (one `readinto`
per frame, no re-copying). `encode_frame` does the reverse. The message helpers below
check the request schema and build responses and events; `encode_message` never fails.
No function here does I/O (beyond logging a response it had to replace).
"""

from __future__ import annotations

import json
import logging
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

from .constants import MAX_INBOUND_FRAME, MAX_OUTBOUND_FRAME
from .errors import (
    FrameTooLarge,
    InternalError,
    InvalidJSON,
    InvalidRequest,
    ProtocolError,
    ResponseTooLarge,
    TabSenseError,
)

log = logging.getLogger(__name__)

HEADER = struct.Struct("=I")  # native byte order, no padding: what Chrome uses
MAX_ID_LENGTH = 256


# --- Frames --------------------------------------------------------------------------


def encode_frame(payload: bytes) -> bytes:
    """Prefix `payload` with its length."""
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental frame decoder.

    `feed()` accepts any slice of the byte stream and returns the frames it completed.
    A length above `max_frame` cannot be skipped safely (a stray write to the pipe looks
    exactly like that), so it raises `FrameTooLarge` and the transport closes cleanly.
    """

    def __init__(self, max_frame: int = MAX_INBOUND_FRAME):
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._expected: int | None = None
        self.error: FrameTooLarge | None = None

    @property
    def wanted(self) -> int:
        """Bytes that complete the header or the frame being read: what a reader that
        reads exact sizes should ask for next."""
        if self._expected is None:
            return HEADER.size - len(self._buffer)
        return self._expected - len(self._buffer)

    def feed(self, data: bytes | bytearray) -> list[bytes | bytearray]:
        """Frames completed by `data`. A bad length raises `FrameTooLarge`, after the
        frames that came before it have been returned (then on every later call).

        A piece that is exactly the frame being awaited (what a reader following `wanted`
        hands in) is returned as it is, without a copy: it then belongs to the decoder."""
        if self.error is not None:
            raise self.error
        if not self._buffer:  # the reader that follows `wanted`: no buffering, no copies
            if self._expected is None and len(data) == HEADER.size:
                length = self._length(data)
                if length:
                    self._expected = length
                    return []
                return [b""]
            if self._expected is not None and len(data) == self._expected:
                self._expected = None
                return [data]
        self._buffer += data
        frames = []
        while True:
            if self._expected is None:
                if len(self._buffer) < HEADER.size:
                    break
                try:
                    self._expected = self._length(self._buffer)
                except FrameTooLarge:
                    if frames:
                        return frames
                    raise
                del self._buffer[: HEADER.size]
            if len(self._buffer) < self._expected:
                break
            frames.append(bytes(self._buffer[: self._expected]))
            del self._buffer[: self._expected]
            self._expected = None
        return frames

    def _length(self, header) -> int:
        """The length a header announces; above the limit, `FrameTooLarge` (kept in `error`)."""
        (length,) = HEADER.unpack_from(header)
        if length > self.max_frame:
            self.error = FrameTooLarge(
                f"A message of {length:,} bytes is larger than the host accepts ({self.max_frame:,} bytes)."
            )
            self._buffer.clear()
            raise self.error
        return length

    @property
    def pending(self) -> int:
        """Bytes received that are not yet part of a complete frame."""
        return len(self._buffer) + (HEADER.size if self._expected is not None else 0)

    @property
    def at_boundary(self) -> bool:
        """True when the stream ended cleanly between frames."""
        return self._expected is None and not self._buffer


# --- Messages ------------------------------------------------------------------------


@dataclass
class Request:
    id: Any
    type: str
    params: dict = field(default_factory=dict)


LONE_SURROGATE = (
    "The request holds a lone UTF-16 surrogate escape (like \\ud800), which is not valid Unicode; "
    "escape characters outside the BMP as surrogate pairs."
)


class _NumberOutOfRange(ValueError):
    pass


def _valid_id(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NumberOutOfRange(text)
    return value


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity, -Infinity: Python-only literals


def _encodable(text: str) -> bool:
    """False when `text` holds a lone surrogate, which no UTF-8 answer can carry."""
    if text.isascii():  # O(1) in CPython
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _holds_lone_surrogate(value) -> bool:
    stack = [value]  # iterative: a deeply nested request must not recurse here
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_request(payload: bytes | bytearray | memoryview | str) -> Request:
    """Turn one frame into a `Request`, or raise a `ProtocolError` carrying the id if known.

    Frames are UTF-8 only (json.loads would also guess UTF-16/32 from raw bytes). Every
    string of an accepted request can be sent back (no lone surrogates) and every number
    is finite, so no handler and no answer meets either."""
    try:
        text = payload if isinstance(payload, str) else str(payload, "utf-8")
        message = json.loads(text, parse_float=_finite_float, parse_constant=_not_json)
    except _NumberOutOfRange as exc:
        raise InvalidRequest(f"The number {str(exc)[:32]} is too large; numbers must fit a 64-bit float.") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidJSON() from exc
    if not isinstance(message, dict):
        raise InvalidRequest("A request must be a JSON object with an id and a type.")
    request_id = message.get("id")
    if not _valid_id(request_id):
        raise InvalidRequest(
            "A request needs an `id` that is a string (at most 256 characters) or an integer."
        )
    # Strict UTF-8 cannot carry a surrogate, so only a \u escape (or a str built in
    # Python) can bring one in.
    if "\\u" in text or (isinstance(payload, str) and not text.isascii()):
        if isinstance(request_id, str) and not _encodable(request_id):
            raise InvalidRequest(LONE_SURROGATE)
        if _holds_lone_surrogate(message):
            raise InvalidRequest(LONE_SURROGATE, request_id)
    message_type = message.get("type")
    if not isinstance(message_type, str) or not message_type:
        raise InvalidRequest("A request needs a `type` naming the method.", request_id)
    params = {k: v for k, v in message.items() if k not in ("id", "type")}
    return Request(request_id, message_type, params)


def request_id_of(payload: bytes | bytearray | memoryview | str):
    """The id an answer to `payload` carries, for a message that will not be processed."""
    try:
        return parse_request(payload).id
    except ProtocolError as exc:
        return exc.request_id


def ok_response(request_id, result: dict) -> dict:
    return {"id": request_id, "ok": True, "result": result}


def error_response(request_id, error: TabSenseError) -> dict:
    return {"id": request_id, "ok": False, "error": error.to_dict()}


def event(name: str, **fields) -> dict:
    return {"type": "event", "event": name, **fields}


def encode_message(message: dict, max_size: int = MAX_OUTBOUND_FRAME) -> bytes:
    """Serialise an outbound message, never exceeding `max_size` bytes; never raises.

    An oversized response becomes a `response_too_large` error for the same id, so the
    peer always gets an answer and the stream stays intact. A message that cannot be
    serialised (a bug: NaN, a lone surrogate, a non-JSON type) is logged and becomes an
    `internal_error` for its id, or for a null id when the id itself cannot be sent.
    """
    try:
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except Exception as exc:  # UnicodeEncodeError, ValueError (NaN), TypeError, RecursionError
        log.error("an outbound message cannot be serialised; answering internal_error", exc_info=exc)
        return _error_for(message, InternalError())
    if len(data) <= max_size:
        return data
    return _error_for(message, ResponseTooLarge())


def _error_for(message, error: TabSenseError) -> bytes:
    """`error` as the answer to `message`: its id if that can be sent, else null."""
    request_id = message.get("id") if isinstance(message, dict) else None
    if _valid_id(request_id) and (not isinstance(request_id, str) or _encodable(request_id)):
        try:
            return json.dumps(error_response(request_id, error), ensure_ascii=False, separators=(",", ":")).encode()
        except ValueError:  # an int beyond Python's digit limit for str()
            pass
    return json.dumps(error_response(None, error), separators=(",", ":")).encode()


def iter_frames(stream: bytes, max_frame: int = MAX_INBOUND_FRAME) -> Iterator[bytes]:
    """Decode a complete byte string of frames (handy for tests and tools)."""
    decoder = FrameDecoder(max_frame)
    yield from decoder.feed(stream)
    if not decoder.at_boundary:
        raise InvalidRequest("The stream ended in the middle of a message.")
