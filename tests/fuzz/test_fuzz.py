"""Fuzzing the host's input surfaces: frame codec, dispatcher, image decoder, audio decoder.

Every input must be answered (a value or a TabSenseError), never crash or hang. CI runs a
short pass; the documented long run uses 100,000 inputs per target:

    TABSENSE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest tests/fuzz -q -p no:cacheprovider --timeout=0 --durations=0
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from support import sample
from host.audio import decode_audio
from host.errors import FrameTooLarge, TabSenseError
from host.protocol import FrameDecoder
from host.vision import decode_image

EXAMPLES = int(os.environ.get("TABSENSE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # an input that takes longer counts as a hang
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    derandomize=False,
    database=None,
)


def _seed_images() -> list[bytes]:
    photo = Image.open(sample("tench")).convert("RGB").resize((64, 48))
    seeds = []
    for fmt, kwargs in [("JPEG", {}), ("PNG", {}), ("GIF", {}), ("BMP", {}), ("WEBP", {}), ("TIFF", {}),
                        ("JPEG", {"progressive": True}), ("ICO", {})]:
        buffer = io.BytesIO()
        photo.save(buffer, fmt, **kwargs)
        seeds.append(buffer.getvalue())
    return seeds


SEED_IMAGES = _seed_images()


@st.composite
def mutated(draw, seeds: list[bytes]):
    """A real file with random bit flips, byte overwrites, truncation or insertions."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "header"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:  # corrupt a size field near the start, where headers live
            at = min(at, 32)
            data[at : at + 4] = struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
    return bytes(data)


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=20), st.integers(1, 2**20))
def test_frame_decoder(pieces, limit):
    decoder = FrameDecoder(max_frame=limit)
    try:
        for piece in pieces:
            for frame in decoder.feed(piece):
                assert len(frame) <= limit
    except FrameTooLarge:
        pass


@FUZZ
@given(st.one_of(mutated(SEED_IMAGES), st.binary(max_size=256)))
def test_image_decoder(data):
    try:
        image = decode_image(data, (64, 64))
    except TabSenseError as exc:
        assert exc.code in {"not_an_image", "image_truncated", "image_too_large", "unsupported_image"}
    else:
        assert image.mode == "RGB" and image.width >= 1 and image.height >= 1


def _seed_wavs() -> list[bytes]:
    import wave

    seeds = []
    tone = (0.3 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    for width in (1, 2, 4):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as w:
            w.setnchannels(1 + (width == 4))
            w.setsampwidth(width)
            w.setframerate(16000)
            scale = {1: 127, 2: 32767, 4: 2**31 - 1}[width]
            values = np.repeat(tone, 1 + (width == 4)) * scale
            dtype = {1: np.int8, 2: "<i2", 4: "<i4"}[width]
            data = values.astype(dtype)
            w.writeframes((data.astype(np.int16) + 128).astype(np.uint8).tobytes() if width == 1 else data.tobytes())
        seeds.append(buffer.getvalue())
    return seeds


SEED_WAVS = _seed_wavs()


@FUZZ
@given(st.one_of(mutated(SEED_WAVS), st.binary(max_size=512)), st.one_of(st.none(), st.integers(-10, 400_000)))
def test_audio_decoder(data, rate):
    try:
        audio, actual_rate = decode_audio(data, rate)
    except TabSenseError as exc:
        assert exc.code in {"bad_audio", "unsupported_audio", "audio_too_long"}
    else:
        assert audio.dtype == np.float32 and np.all(np.isfinite(audio)) and np.abs(audio).max(initial=0) <= 1
        assert 8000 <= actual_rate <= 192000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def requests(draw):
    message = draw(st.dictionaries(st.sampled_from(["id", "type", "image", "top_k", "model", "audio",
                                                    "sample_rate", "stream", "extra"]), json_values, max_size=6))
    if draw(st.booleans()):
        message["type"] = draw(st.sampled_from(["ping", "classify_image", "recognize_speech", "audio_chunk",
                                                "stop_stream", "nope"]))
    if draw(st.booleans()):
        message["id"] = draw(st.one_of(st.integers(), st.text(max_size=10)))
    if message.get("type") == "classify_image" and draw(st.booleans()):
        message["image"] = base64.b64encode(draw(mutated(SEED_IMAGES))).decode()
    encoded = json.dumps(message).encode()
    if draw(st.integers(0, 9)) == 0:  # sometimes not even JSON
        encoded = draw(st.binary(max_size=64))
    return encoded


@FUZZ
@given(requests())
def test_dispatcher(dispatcher, payload):
    answer = json.loads(asyncio.run(dispatcher.handle(payload)))
    assert set(answer) == {"id", "ok", "result"} or set(answer) == {"id", "ok", "error"}
    if not answer["ok"]:
        assert answer["error"]["code"] != "internal_error", answer
        assert answer["error"]["message"]


@FUZZ
@given(st.lists(requests(), max_size=6), st.binary(max_size=12))
def test_native_stream(dispatcher, payloads, tail):
    """Whole native-messaging streams through the real transport loop (`stdio.serve_thread`):
    every complete frame is answered once, a bad length gets one closing error, and stdout
    holds nothing but whole frames."""
    from host.protocol import encode_frame
    from host.transports import stdio

    stream = b"".join(encode_frame(p) for p in payloads) + tail
    decoder = FrameDecoder()
    try:
        expected, closing = len(decoder.feed(stream)), decoder.error is not None
    except FrameTooLarge:
        expected, closing = 0, True
    out = io.BytesIO()
    assert stdio.serve_thread(io.BytesIO(stream), out, dispatcher) == 0
    check = FrameDecoder()
    answers = [json.loads(f) for f in check.feed(out.getvalue())]
    assert check.at_boundary, "stdout holds bytes that are not whole frames"
    assert len(answers) == expected + closing
    if closing:
        assert answers[-1]["error"]["code"] == "message_too_large"
    for answer in answers:
        assert answer.get("ok") or answer["error"]["code"] != "internal_error", answer
