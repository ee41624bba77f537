"""Sans-I/O core of the native messaging protocol: frames and messages.

A frame is a 4-byte length in native byte order followed by that many bytes of UTF-8
JSON. `FrameDecoder` is fed bytes as they arrive, in pieces of any size, and yields
complete frames; `encode_frame` does the reverse. The message helpers below check the
request schema and build responses and events. No function here does I/O.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

from .constants import MAX_INBOUND_FRAME, MAX_OUTBOUND_FRAME
from .errors import FrameTooLarge, InvalidJSON, InvalidRequest, ResponseTooLarge, TabSenseError

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

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by `data`. A bad length raises `FrameTooLarge`, after the
        frames that came before it have been returned (then on every later call)."""
        if self.error is not None:
            raise self.error
        self._buffer += data
        frames = []
        while True:
            if self._expected is None:
                if len(self._buffer) < HEADER.size:
                    break
                (length,) = HEADER.unpack_from(self._buffer)
                if length > self.max_frame:
                    self.error = FrameTooLarge(
                        f"A message of {length:,} bytes is larger than the host accepts "
                        f"({self.max_frame:,} bytes)."
                    )
                    self._buffer.clear()
                    if frames:
                        return frames
                    raise self.error
                del self._buffer[: HEADER.size]
                self._expected = length
            if len(self._buffer) < self._expected:
                break
            frames.append(bytes(self._buffer[: self._expected]))
            del self._buffer[: self._expected]
            self._expected = None
        return frames

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


def _valid_id(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH


def parse_request(payload: bytes | bytearray | memoryview | str) -> Request:
    """Turn one frame into a `Request`, or raise a `ProtocolError` carrying the id if known.

    Frames are UTF-8 only (json.loads would also guess UTF-16/32 from raw bytes)."""
    try:
        if not isinstance(payload, str):
            payload = str(payload, "utf-8")
        message = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidJSON() from exc
    if not isinstance(message, dict):
        raise InvalidRequest("A request must be a JSON object with an id and a type.")
    request_id = message.get("id")
    if not _valid_id(request_id):
        raise InvalidRequest(
            "A request needs an `id` that is a string (at most 256 characters) or an integer."
        )
    message_type = message.get("type")
    if not isinstance(message_type, str) or not message_type:
        raise InvalidRequest("A request needs a `type` naming the method.", request_id)
    params = {k: v for k, v in message.items() if k not in ("id", "type")}
    return Request(request_id, message_type, params)


def ok_response(request_id, result: dict) -> dict:
    return {"id": request_id, "ok": True, "result": result}


def error_response(request_id, error: TabSenseError) -> dict:
    return {"id": request_id, "ok": False, "error": error.to_dict()}


def event(name: str, **fields) -> dict:
    return {"type": "event", "event": name, **fields}


def encode_message(message: dict, max_size: int = MAX_OUTBOUND_FRAME) -> bytes:
    """Serialise an outbound message, never exceeding `max_size` bytes.

    An oversized response becomes a `response_too_large` error for the same id, so the
    peer always gets an answer and the stream stays intact.
    """
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    if len(data) <= max_size:
        return data
    replacement = error_response(message.get("id"), ResponseTooLarge())
    return json.dumps(replacement, separators=(",", ":")).encode()


def iter_frames(stream: bytes, max_frame: int = MAX_INBOUND_FRAME) -> Iterator[bytes]:
    """Decode a complete byte string of frames (handy for tests and tools)."""
    decoder = FrameDecoder(max_frame)
    yield from decoder.feed(stream)
    if not decoder.at_boundary:
        raise InvalidRequest("The stream ended in the middle of a message.")
