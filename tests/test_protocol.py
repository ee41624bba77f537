"""The native messaging frame codec and message schema (sans-I/O, property-based)."""

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.constants import MAX_INBOUND_FRAME, MAX_OUTBOUND_FRAME
from host.errors import FrameTooLarge, InvalidJSON, InvalidRequest, ResponseTooLarge
from host.protocol import (
    FrameDecoder,
    encode_frame,
    encode_message,
    error_response,
    iter_frames,
    ok_response,
    parse_request,
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
    ],
)
def test_malformed_requests(text, code, request_id):
    with pytest.raises((InvalidJSON, InvalidRequest)) as info:
        parse_request(text)
    assert info.value.code == code
    assert info.value.request_id == request_id


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
