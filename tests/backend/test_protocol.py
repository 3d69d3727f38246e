"""backend.protocol: round trips, clear rejections, and a fuzzed parser that only ever raises ProtocolError."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend import protocol
from backend.errors import DimGestureError
from backend.protocol import ProtocolError, decode, encode


def test_generate_request_round_trips_exactly():
    msg = {"id": "r1", "type": "generate", "audio": "/tmp/ä speech.wav", "seed": 7, "steps": 10,
           "sampler": "ddim", "style_audio": None, "fps": 30.0, "device": "cpu", "style_scale": 2.0}
    line = encode(msg, request=True)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line, request=True) == msg
    assert decode(line.decode("utf-8"), request=True) == msg


@pytest.mark.parametrize("event", [
    {"id": "a", "type": "hello", "protocol": 1, "device": "cpu", "model": {"parameters": 3}},
    {"id": "a", "type": "progress", "step": 3, "total": 10, "stage": "denoise"},
    {"id": "a", "type": "result", "path": "/tmp/x.npz", "frames": 20, "fps": 20.0},
    {"id": "a", "type": "result", "path": "/tmp/x.npz", "paths": ["/tmp/x.npz", "/tmp/y.npz"]},
    {"id": "a", "type": "error", "kind": "audio", "message": "no such file"},
    {"id": None, "type": "error", "kind": "protocol", "message": "bad line"},
])
def test_events_round_trip(event):
    assert decode(encode(event, request=False), request=False) == event


@pytest.mark.parametrize("line, needle", [
    (b"", "empty line"),
    (b"   \n", "empty line"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"id": "x", "type": "explode"}', "unknown request type 'explode'"),
    (b'{"type": "hello"}', "'id' must be a string"),
    (b'{"id": 5, "type": "hello"}', "'id' must be a string"),
    (b'{"id": "x", "type": "generate"}', "missing the field 'audio'"),
    (b'{"id": "x", "type": "generate", "audio": ""}', "non-empty file path"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "steps": "ten"}', "'steps' must be int"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "steps": true}', "'steps' must be int"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "steps": 0}', "between 1 and 10000"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "sampler": "euler"}', "unknown sampler 'euler'"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "device": "tpu"}', "unknown device 'tpu'"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "fps": NaN}', "NaN is not valid JSON"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "sead": 1}', "unknown field(s): sead"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "style_scale": "strong"}', "'style_scale' must be"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "seeds": 3}', "'seeds' must be list"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "seeds": []}', "must list 1 to 16 seeds"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "seeds": [1, "2"]}', "'seeds' must be integers"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "seeds": [1, true]}', "'seeds' must be integers"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "seeds": [4, 4]}', "repeats a seed"),
    (b'{"id": "x", "type": "generate", "audio": "a.wav", "seeds": [1], "seed": 1}', "either 'seed' or 'seeds'"),
])
def test_bad_requests_are_rejected_with_a_reason(line, needle):
    with pytest.raises(ProtocolError) as info:
        decode(line, request=True)
    assert needle in str(info.value)
    assert info.value.kind == "protocol" and isinstance(info.value, DimGestureError)


def test_a_result_lists_its_takes_first_path_first():
    with pytest.raises(ProtocolError, match="first one equal to 'path'"):
        decode(b'{"id": "a", "type": "result", "path": "/x.npz", "paths": ["/y.npz", "/x.npz"]}', request=False)


def test_progress_step_must_not_exceed_total():
    with pytest.raises(ProtocolError, match="step 11 of 10"):
        decode(b'{"id": "a", "type": "progress", "step": 11, "total": 10, "stage": "denoise"}', request=False)


def test_a_request_is_not_an_event():
    with pytest.raises(ProtocolError, match="unknown event type 'generate'"):
        decode(encode({"id": "a", "type": "generate", "audio": "x.wav"}, request=True), request=False)


def test_length_limit_applies_both_ways():
    huge = "x" * protocol.MAX_LINE_BYTES
    with pytest.raises(ProtocolError, match="too long"):
        encode({"id": "a", "type": "generate", "audio": huge}, request=True)
    with pytest.raises(ProtocolError, match="line too long"):
        decode(json.dumps({"id": "a", "type": "generate", "audio": huge}), request=True)


def test_encode_refuses_invalid_messages():
    with pytest.raises(ProtocolError, match="must be a finite number"):
        encode({"id": "a", "type": "result", "path": "p", "fps": float("inf")}, request=False)


def test_peek_id_recovers_the_id_of_an_invalid_request():
    assert protocol.peek_id('{"id": "r9", "type": "nope"}') == "r9"
    assert protocol.peek_id("garbage") is None
    assert protocol.peek_id('{"id": 3}') is None


def test_sampler_names_match_the_model_config():
    from backend.model.config import SAMPLERS

    assert tuple(protocol.SAMPLERS) == tuple(SAMPLERS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["id", "type", "audio", "seed", "steps", "sampler", "fps", "device",
                               "style_audio", "step", "total", "stage", "path", "kind", "message", "protocol"])
type_names = st.sampled_from(list(protocol.REQUEST_TYPES) + list(protocol.EVENT_TYPES) + ["", "x"])
messages = st.fixed_dictionaries({"type": type_names}, optional={"id": st.text(max_size=70) | st.integers()}).flatmap(
    lambda base: st.dictionaries(field_names, json_values, max_size=6).map(lambda extra: {**extra, **base})
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_only_raise_protocol_error(data):
    for request in (True, False):
        try:
            msg = decode(data, request=request)
        except ProtocolError:
            continue
        assert isinstance(msg, dict) and (isinstance(msg["id"], str) or msg["id"] is None)


@settings(max_examples=400, deadline=None)
@given(messages, st.booleans())
def test_fuzz_structured_messages_decode_iff_they_validate(msg, request):
    line = json.dumps(msg).encode()
    try:
        protocol.validate(json.loads(line), request=request)
        valid = True
    except ProtocolError:
        valid = False
    if valid:
        assert decode(line, request=request) == json.loads(line)
        assert decode(encode(json.loads(line), request=request), request=request) == json.loads(line)
    else:
        with pytest.raises(ProtocolError):
            decode(line, request=request)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(0, 2**40), st.integers(1, 10000), st.sampled_from(protocol.SAMPLERS))
def test_fuzz_valid_generate_requests_round_trip(audio, seed, steps, sampler):
    msg = {"id": "g", "type": "generate", "audio": audio or "a.wav", "seed": seed, "steps": steps, "sampler": sampler}
    assert decode(encode(msg, request=True), request=True) == msg
