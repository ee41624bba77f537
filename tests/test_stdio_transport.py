"""The native messaging transport in-process: exact-length frame reads, the one-hop
dispatch (`Dispatcher.submit`), whole frames only on the output, every request answered."""

from __future__ import annotations

import base64
import io
import json
import struct
import sys
import threading
from pathlib import Path

import pytest

from support import sample
from host.capabilities import Capability
from host.dispatcher import Dispatcher
from host.errors import FrameTooLarge
from host.protocol import FrameDecoder, encode_frame
from host.transports import stdio

PHOTO_B64 = base64.b64encode(sample("tench").read_bytes()).decode()


def frames_of(*messages) -> bytes:
    return b"".join(encode_frame(m if isinstance(m, bytes) else json.dumps(m).encode()) for m in messages)


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, like a pipe under load."""

    def __init__(self, data: bytes, step: int):
        self._data = memoryview(data)
        self._step = step

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self._step, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


class NoReadinto:
    def __init__(self, data: bytes):
        self._io = io.BytesIO(data)

    def read(self, size=-1):
        return self._io.read(size)


@pytest.mark.parametrize("make", [io.BytesIO, lambda d: Trickle(d, 7), lambda d: Trickle(d, 70_000), NoReadinto],
                         ids=["bytesio", "trickle-7", "trickle-70k", "no-readinto"])
def test_frames_are_read_whole_whatever_the_stream_hands_out(make):
    big = {"id": 2, "type": "classify_image", "image": "A" * 200_000}
    stream = make(frames_of({"id": 1, "type": "ping"}, big, b""))
    frames = [bytes(f) for f in stdio.iter_frames_from(stream)]
    assert [json.loads(f) if f else None for f in frames] == [{"id": 1, "type": "ping"}, big, None]


def test_a_length_over_the_limit_raises_after_the_frames_before_it():
    stream = io.BytesIO(frames_of({"id": 1}) + struct.pack("=I", 1001) + b"{}")
    reader = stdio.iter_frames_from(stream, max_frame=1000)
    assert json.loads(next(reader)) == {"id": 1}
    with pytest.raises(FrameTooLarge):
        next(reader)


@pytest.mark.parametrize("tail", [b"\x05\x00", struct.pack("=I", 50) + b'{"id": 1'])
def test_input_ending_inside_a_frame_ends_the_stream(tail):
    assert [json.loads(f) for f in stdio.iter_frames_from(io.BytesIO(frames_of({"id": 1}) + tail))] == [{"id": 1}]


class Sink(io.RawIOBase):
    """stdout: records writes; checks that no two writes ever overlap."""

    def __init__(self):
        self.data = bytearray()
        self._busy = threading.Lock()

    def writable(self):
        return True

    def write(self, chunk):
        assert self._busy.acquire(blocking=False), "two frames written at once"
        try:
            self.data += chunk
            return len(chunk)
        finally:
            self._busy.release()


def answers(sink: Sink) -> list[dict]:
    decoder = FrameDecoder()
    frames = [json.loads(f) for f in decoder.feed(bytes(sink.data))]
    assert decoder.at_boundary, "stdout holds bytes that are not whole frames"
    return frames


def serve(capabilities, stream) -> tuple[int, list[dict]]:
    """Run the real stdio loop over `stream` to its end: (exit code, the answers written)."""
    sink = Sink()
    dispatcher = Dispatcher(capabilities)
    try:
        code = stdio.serve_thread(stream, sink, dispatcher)
    finally:
        dispatcher.close()
    return code, answers(sink)


def test_serve_answers_every_request_once_and_only_with_frames(capabilities):
    stream = io.BytesIO(frames_of(
        {"id": 1, "type": "ping"},
        *({"id": f"c{i}", "type": "classify_image", "image": PHOTO_B64, "top_k": 1} for i in range(4)),
        b"not json", {"id": 7, "type": "nope"}, {"id": 8, "type": "classify_image", "image": "@@"},
        {"id": 9, "type": "ping"},
    ))
    code, got = serve(capabilities, stream)
    assert code == 0
    by_id = {a["id"]: a for a in got}
    assert len(got) == 9 and set(by_id) == {1, "c0", "c1", "c2", "c3", None, 7, 8, 9}
    assert all(by_id[f"c{i}"]["result"]["labels"][0]["label"] == "tench" for i in range(4))
    assert by_id[None]["error"]["code"] == "invalid_json"
    assert by_id[7]["error"]["code"] == "unknown_type"
    assert by_id[8]["error"]["code"] == "bad_base64"
    assert by_id[1]["ok"] and by_id[9]["ok"]


def test_serve_answers_what_came_before_a_bad_length_then_says_why(capabilities):
    stream = io.BytesIO(frames_of({"id": 1, "type": "ping"},
                                  {"id": 2, "type": "classify_image", "image": PHOTO_B64})
                        + struct.pack("=I", 64 * 1024 * 1024 + 1) + b"{}")
    _, got = serve(capabilities, stream)
    assert {a["id"] for a in got[:2]} == {1, 2} and all(a["ok"] for a in got[:2])
    assert got[-1]["id"] is None and got[-1]["error"]["code"] == "message_too_large"


def test_submit_runs_quick_handlers_inline_and_blocking_ones_on_a_worker(capabilities):
    dispatcher = Dispatcher(capabilities)
    seen = []

    def slow(params):
        seen.append(threading.current_thread().name)
        return {"done": True}

    capabilities.table["slow"] = Capability("slow", slow, blocking=True)
    replies = []
    try:
        assert dispatcher.submit(json.dumps({"id": 1, "type": "ping"}).encode(), None, replies.append) is None
        assert json.loads(replies[0])["ok"]
        future = dispatcher.submit(json.dumps({"id": 2, "type": "slow"}).encode(), None, replies.append)
        future.result(5)
        assert json.loads(replies[1]) == {"id": 2, "ok": True, "result": {"done": True}}
        assert seen[0].startswith("tabsense-work")
        assert dispatcher.submit(b"[]", None, replies.append) is None
        assert json.loads(replies[2])["error"]["code"] == "invalid_request"
    finally:
        capabilities.table.pop("slow", None)
        dispatcher.close()


def test_submit_answers_a_crash_and_a_request_after_close(capabilities):
    dispatcher = Dispatcher(capabilities)

    def crash(params):
        raise RuntimeError("boom")

    capabilities.table["crash"] = Capability("crash", crash, blocking=True)
    replies = []
    try:
        dispatcher.submit(json.dumps({"id": "x", "type": "crash"}).encode(), None, replies.append).result(5)
        assert json.loads(replies[0])["error"]["code"] == "internal_error"
        dispatcher.close()
        assert dispatcher.submit(json.dumps({"id": "y", "type": "crash"}).encode(), None, replies.append) is None
        assert json.loads(replies[1]) == {"id": "y", "ok": False, "error": {
            "code": "internal_error", "message": "Something went wrong inside TabSense; see the host log for details."}}
    finally:
        capabilities.table.pop("crash", None)


def test_frames_from_the_reader_thread_go_through_the_writer_thread():
    sink = Sink()
    writer = stdio.FrameWriter(sink, queue_from=threading.current_thread())
    writer.send(b'{"id":1}')  # queued: the reader never blocks on stdout
    done = threading.Thread(target=writer.send, args=(b'{"id":2}',))
    done.start()
    done.join(5)
    writer.close()
    assert sorted(a["id"] for a in answers(sink)) == [1, 2]


def test_widen_pipe_grows_a_pipe_and_ignores_other_files(tmp_path):
    import os

    read_fd, write_fd = os.pipe()
    try:
        size = stdio.widen_pipe(read_fd)
        if not sys.platform.startswith("linux"):
            assert size is None
        else:
            import fcntl

            if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < stdio.PIPE_SIZE:
                pytest.skip("this system caps pipes below 1 MiB (/proc/sys/fs/pipe-max-size)")
            # Linux pipes start at 64 KiB; the pipe itself must now say 1 MiB.
            assert size == stdio.PIPE_SIZE > 65536
            assert fcntl.fcntl(read_fd, stdio.F_GETPIPE_SZ) == stdio.PIPE_SIZE
    finally:
        os.close(read_fd)
        os.close(write_fd)
    with open(tmp_path / "f", "wb") as handle:
        assert stdio.widen_pipe(handle.fileno()) is None


LONE_SURROGATE_ERROR = {
    "code": "invalid_request",
    "message": "The request holds a lone UTF-16 surrogate escape (like \\ud800), which is not valid Unicode; "
               "escape characters outside the BMP as surrogate pairs.",
}


def test_a_lone_surrogate_is_answered_and_the_host_keeps_serving(capabilities):
    """`{"id": "\\ud800", ...}` is valid JSON text, but no UTF-8 answer can carry that id:
    it is refused with a null id, and the requests after it are still answered."""
    stream = io.BytesIO(frames_of(b'{"id": "\\ud800", "type": "ping"}',
                                  b'{"id": 5, "type": "classify_image", "model": "\\udfff"}',
                                  {"id": 6, "type": "ping"}))
    code, got = serve(capabilities, stream)
    assert code == 0
    assert got[:2] == [{"id": None, "ok": False, "error": LONE_SURROGATE_ERROR},
                       {"id": 5, "ok": False, "error": LONE_SURROGATE_ERROR}]
    assert got[2]["id"] == 6 and got[2]["ok"] and len(got) == 3


class FailsOnce(Dispatcher):
    """A dispatcher with a bug that raises on one message."""

    def submit(self, payload, session, reply):
        if b"boom" in payload:
            raise RuntimeError("a bug")
        return super().submit(payload, session, reply)


def test_a_message_whose_handling_raises_is_logged_and_dropped_and_serving_goes_on(capabilities, caplog):
    stream = io.BytesIO(frames_of({"id": 1, "type": "ping"}, {"id": 2, "type": "boom"}, {"id": 3, "type": "ping"}))
    sink = Sink()
    dispatcher = FailsOnce(capabilities)
    try:
        assert stdio.serve_thread(stream, sink, dispatcher) == 0
    finally:
        dispatcher.close()
    assert [(a["id"], a["ok"]) for a in answers(sink)] == [(1, True), (3, True)]
    dropped = [r for r in caplog.records if "was dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelname == "ERROR" and dropped[0].exc_info[0] is RuntimeError


def test_frames_are_read_into_their_own_buffer_without_copies():
    """One `readinto` per frame: the frame the reader yields is the buffer it read into."""
    filled = []

    class Recording(io.BytesIO):
        def readinto(self, buffer):
            filled.append(buffer.obj)
            return super().readinto(buffer)

    frames = list(stdio.iter_frames_from(Recording(frames_of({"id": 1}, {"id": 2, "x": "y" * 100_000}))))
    assert [json.loads(f)["id"] for f in frames] == [1, 2]
    assert all(any(f is buffer for buffer in filled) for f in frames)
