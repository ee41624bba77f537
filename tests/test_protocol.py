"""The native messaging frame codec and message schema (sans-I/O, property-based)."""

import io
import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.constants import MAX_INBOUND_FRAME, MAX_OUTBOUND_FRAME
from host.errors import FrameTooLarge, InternalError, InvalidJSON, InvalidRequest, ResponseTooLarge
from host.protocol import (
    FrameDecoder,
    encode_frame,
    encode_message,
    error_response,
    iter_frames,
    ok_response,
    parse_request,
    request_id_of,
)

payloads = st.lists(st.binary(max_size=2000), max_size=20)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points + [len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


@given(payloads)
def test_round_trip(frames):
    stream = b"".join(encode_frame(f) for f in frames)
    assert list(iter_frames(stream)) == frames


@given(payloads, st.lists(st.integers(min_value=0), max_size=30))
def test_split_reads_give_the_same_frames(frames, cuts):
    stream = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    decoded = []
    for piece in split(stream, cuts):
        decoded += decoder.feed(piece)
    assert decoded == frames
    assert decoder.at_boundary


@given(payloads)
def test_reading_what_the_decoder_wants_gives_the_same_frames_without_copies(frames):
    """The pull side of the codec (what the stdio reader does): fetch exactly `wanted`
    bytes each time; a whole frame comes back as the very buffer that was handed in."""
    stream = io.BytesIO(b"".join(encode_frame(f) for f in frames))
    decoder = FrameDecoder()
    decoded = []
    while piece := bytearray(stream.read(decoder.wanted)):
        got = decoder.feed(piece)
        assert all(frame is piece for frame in got if frame)  # no copy of a frame's bytes
        decoded += got
    assert decoded == frames
    assert decoder.at_boundary and decoder.wanted == 4


def test_wanted_is_the_rest_of_the_header_then_of_the_frame():
    decoder = FrameDecoder()
    assert decoder.wanted == 4
    assert decoder.feed(struct.pack("=I", 10)[:3]) == [] and decoder.wanted == 1
    assert decoder.feed(struct.pack("=I", 10)[3:]) == [] and decoder.wanted == 10
    assert decoder.feed(b"0123") == [] and decoder.wanted == 6
    assert decoder.feed(b"456789") == [b"0123456789"] and decoder.wanted == 4


def test_header_is_native_endian_length():
    assert encode_frame(b"{}") == struct.pack("=I", 2) + b"{}"


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_any_length_is_either_awaited_or_refused(length):
    decoder = FrameDecoder()
    header = struct.pack("=I", length)
    if length > MAX_INBOUND_FRAME:
        with pytest.raises(FrameTooLarge) as info:
            decoder.feed(header)
        assert info.value.code == "message_too_large"
    else:
        frames = decoder.feed(header)
        assert frames == ([b""] if length == 0 else [])
        assert decoder.at_boundary == (length == 0)


def test_largest_allowed_frame_decodes():
    payload = b"x" * MAX_INBOUND_FRAME
    assert FrameDecoder().feed(encode_frame(payload)) == [payload]


def test_stream_ending_mid_frame_is_reported():
    with pytest.raises(InvalidRequest):
        list(iter_frames(encode_frame(b"abcdef")[:-2]))


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_garbage_never_crashes_the_decoder(garbage):
    decoder = FrameDecoder(max_frame=1024)
    try:
        frames = decoder.feed(garbage)
    except FrameTooLarge:
        return
    for frame in frames:
        try:
            parse_request(frame)
        except (InvalidJSON, InvalidRequest):
            pass


@settings(max_examples=300)
@given(st.binary(max_size=256))
def test_parse_request_only_raises_protocol_errors(data):
    try:
        request = parse_request(data)
    except (InvalidJSON, InvalidRequest) as exc:
        assert exc.code in ("invalid_json", "invalid_request")
    else:
        assert isinstance(request.type, str)


@pytest.mark.parametrize(
    "text, code, request_id",
    [
        ("{", "invalid_json", None),
        (b"\xff\xfe", "invalid_json", None),
        ("[1, 2]", "invalid_request", None),
        ('"ping"', "invalid_request", None),
        ('{"type": "ping"}', "invalid_request", None),
        ('{"id": true, "type": "ping"}', "invalid_request", None),
        ('{"id": 1.5, "type": "ping"}', "invalid_request", None),
        ('{"id": {"a": 1}, "type": "ping"}', "invalid_request", None),
        ('{"id": 7}', "invalid_request", 7),
        ('{"id": "x", "type": 3}', "invalid_request", "x"),
        ('{"id": "x", "type": ""}', "invalid_request", "x"),
        # Valid JSON text that no answer could carry: a lone surrogate. In the id the id is
        # lost (null); elsewhere the id is kept.
        ('{"id": "\\ud800", "type": "ping"}', "invalid_request", None),
        ('{"id": "a\\udfffb", "type": "ping"}', "invalid_request", None),
        ('{"id": 5, "type": "ping", "model": "\\ud83d"}', "invalid_request", 5),
        ('{"id": 6, "type": "\\udc00"}', "invalid_request", 6),
        ('{"id": 7, "type": "ping", "x": [{"\\ud800": 1}]}', "invalid_request", 7),
        ('{"id": "\ud800", "type": "ping"}', "invalid_request", None),  # a str built in Python
        # Numbers a double cannot hold, and Python's non-JSON literals.
        ('{"id": 8, "type": "ping", "x": 1e999}', "invalid_request", None),
        ('{"id": 8, "type": "ping", "x": -1E400}', "invalid_request", None),
        ('{"id": 8, "type": "ping", "x": NaN}', "invalid_json", None),
        ('{"id": 8, "type": "ping", "x": Infinity}', "invalid_json", None),
        ('{"id": 8, "type": "ping", "x": -Infinity}', "invalid_json", None),
    ],
)
def test_malformed_requests(text, code, request_id):
    with pytest.raises((InvalidJSON, InvalidRequest)) as info:
        parse_request(text)
    assert info.value.code == code
    assert info.value.request_id == request_id


def test_a_lone_surrogate_and_a_huge_number_get_a_sentence_that_says_so():
    with pytest.raises(InvalidRequest, match="lone UTF-16 surrogate"):
        parse_request('{"id": "\\ud800", "type": "ping"}')
    with pytest.raises(InvalidRequest, match="1e999 is too large"):
        parse_request('{"id": 1, "type": "ping", "x": 1e999}')


def test_surrogate_pairs_and_escaped_backslashes_are_fine():
    request = parse_request('{"id": "\\ud83d\\ude00", "type": "ping", "path": "C:\\\\udir"}')
    assert (request.id, request.params) == ("\U0001F600", {"path": "C:\\udir"})


def test_request_id_of_is_the_id_an_answer_carries():
    assert request_id_of(b'{"id": 3, "type": "ping"}') == 3
    assert request_id_of(b'{"id": 3}') == 3
    assert request_id_of(b'{"id": "\\ud800", "type": "ping"}') is None
    assert request_id_of(b"[" * 100_000) is None


def test_deeply_nested_json_is_invalid_not_a_crash():
    with pytest.raises(InvalidJSON):
        parse_request("[" * 100_000 + "]" * 100_000)


def test_request_params_exclude_id_and_type():
    request = parse_request('{"id": "a1", "type": "classify_image", "image": "QQ==", "top_k": 3}')
    assert (request.id, request.type, request.params) == ("a1", "classify_image", {"image": "QQ==", "top_k": 3})


def test_outbound_limit_turns_into_an_error_for_the_same_id():
    big = ok_response(42, {"blob": "x" * MAX_OUTBOUND_FRAME})
    data = encode_message(big)
    assert len(data) <= MAX_OUTBOUND_FRAME
    message = json.loads(data)
    assert message == error_response(42, ResponseTooLarge())


def test_outbound_at_the_limit_passes():
    filler = MAX_OUTBOUND_FRAME - len(encode_message(ok_response(1, {"b": ""})))
    data = encode_message(ok_response(1, {"b": "y" * filler}))
    assert len(data) == MAX_OUTBOUND_FRAME
    assert json.loads(data)["ok"] is True


def test_frames_before_a_bad_length_are_delivered_first():
    decoder = FrameDecoder()
    stream = encode_frame(b'{"id":1}') + struct.pack("=I", MAX_INBOUND_FRAME + 1)
    assert decoder.feed(stream) == [b'{"id":1}']
    assert isinstance(decoder.error, FrameTooLarge)
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"more")


sendable_ids = st.one_of(st.none(), st.integers(), st.text(st.characters(exclude_categories=("Cs",)), max_size=256))


@settings(max_examples=300)
@given(
    st.one_of(sendable_ids, st.text(max_size=8), st.booleans(), st.floats()),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                 lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children,
                                                                                   max_size=3), max_leaves=8),
)
def test_encode_message_never_raises_and_always_sends_utf8_json(request_id, result):
    """Whatever a handler returns (NaN, lone surrogates in text or in the id), the answer is
    strict UTF-8 JSON: the result itself, or an internal_error for the id when that id can
    be sent (else for a null id)."""
    message = ok_response(request_id, {"value": result})
    answer = json.loads(str(encode_message(message), "utf-8", "strict"))
    try:
        expected = json.loads(json.dumps(message, ensure_ascii=False, allow_nan=False).encode())
    except ValueError:  # NaN or a lone surrogate somewhere
        sendable = sendable_id(request_id)
        expected = {"id": request_id if sendable else None, "ok": False,
                    "error": {"code": "internal_error", "message": InternalError.default_message}}
    assert answer == expected


def sendable_id(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and len(value) <= 256 and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def test_an_unsendable_answer_keeps_its_id_or_falls_back_to_null():
    assert json.loads(encode_message(ok_response(4, {"x": float("nan")}))) == error_response(4, InternalError())
    assert json.loads(encode_message(ok_response("\ud800", {}))) == error_response(None, InternalError())
    assert json.loads(encode_message(ok_response(4, {"x": "a\udc00"}))) == error_response(4, InternalError())
