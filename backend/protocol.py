"""The JSON-lines protocol between the Blender add-on and ``backend.server``.

Standard library only: both sides import this one module, so a message that one side
encodes is exactly what the other side validates. One JSON object per line, UTF-8.

Requests (add-on → backend) carry a string ``id``:
  ``hello``     → answered by one ``hello`` event (protocol version, device, model summary)
  ``generate``  → ``progress`` events, then exactly one ``result`` or ``error``
  ``cancel``    → stops the running request with the same ``id`` (its answer: ``error``, kind ``cancelled``)
  ``shutdown``  → the backend finishes and exits (so does end of input)
Events (backend → add-on): ``hello``, ``progress``, ``result`` (an ``.npz`` path), ``error``.

Takes: a ``generate`` request may carry ``seeds`` (a list) instead of ``seed``; the one
``result`` then lists one ``.npz`` per seed in ``paths`` (``path`` is the first), so an older
add-on that sends ``seed`` and reads ``path`` sees no change.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import DimGestureError

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 1 << 20  # a line is a small control message; arrays travel in .npz files
MAX_ID_LENGTH = 64
SAMPLERS = ("ddpm", "ddim", "dpmsolver++")  # the names of backend.model.config.SAMPLERS (a test checks)
DEVICES = ("auto", "cpu", "cuda")
MAX_TAKES = 16  # seeds in one generate request

# the backend's temporary result folders: + the owning process id, so a later backend can tell
# leftovers of killed ones, and the add-on can tell a result it may delete once keyed
RESULTS_PREFIX = "dimgesture-results-"

_NUMBER = (int, float)

# type -> {field: (allowed python types, required?)}; "id" and "type" are checked for every message.
_REQUEST_FIELDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "hello": {},
    "generate": {
        "audio": ((str,), True),
        "seed": ((int,), False),
        "seeds": ((list,), False),
        "steps": ((int,), False),
        "sampler": ((str,), False),
        "style_audio": ((str,), False),
        "fps": (_NUMBER, False),
        "device": ((str,), False),
        "guidance_scale": (_NUMBER, False),
        "style_scale": (_NUMBER, False),
    },
    "cancel": {},
    "shutdown": {},
}
_EVENT_FIELDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "hello": {
        "protocol": ((int,), True),
        "device": ((str,), True),
        "model": ((dict,), False),
        "model_error": ((str,), False),
        "versions": ((dict,), False),
    },
    "progress": {"step": ((int,), True), "total": ((int,), True), "stage": ((str,), True)},
    "result": {"path": ((str,), True), "paths": ((list,), False), "frames": ((int,), False), "fps": (_NUMBER, False)},
    "error": {"kind": ((str,), True), "message": ((str,), True)},
}

REQUEST_TYPES = tuple(_REQUEST_FIELDS)
EVENT_TYPES = tuple(_EVENT_FIELDS)


class ProtocolError(DimGestureError):
    """A line on the backend pipe is not a valid protocol message (the message says why)."""

    kind = "protocol"


def _check_fields(msg: dict, spec: dict[str, tuple[tuple[type, ...], bool]], what: str) -> None:
    for name, (types, required) in spec.items():
        if name not in msg or msg[name] is None:
            if required:
                raise ProtocolError(f"{what} is missing the field {name!r}")
            continue
        value = msg[name]
        # bool is an int subclass in Python, but never a valid number here.
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(t.__name__ for t in types)
            raise ProtocolError(f"{what}: field {name!r} must be {expected}, got {type(value).__name__} {value!r:.80}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"{what}: field {name!r} must be a finite number, got {value!r}")
    unknown = sorted(set(msg) - set(spec) - {"id", "type"})
    if unknown:
        raise ProtocolError(f"{what} has unknown field(s): {', '.join(unknown)}")


def _check_generate(msg: dict) -> None:
    if not msg["audio"]:
        raise ProtocolError("generate request: 'audio' must be a non-empty file path")
    if msg.get("steps") is not None and not 1 <= msg["steps"] <= 10000:
        raise ProtocolError(f"generate request: 'steps' must be between 1 and 10000, got {msg['steps']}")
    if msg.get("sampler") is not None and msg["sampler"] not in SAMPLERS:
        raise ProtocolError(f"generate request: unknown sampler {msg['sampler']!r} (known: {', '.join(SAMPLERS)})")
    if msg.get("device") is not None and msg["device"] not in DEVICES:
        raise ProtocolError(f"generate request: unknown device {msg['device']!r} (known: {', '.join(DEVICES)})")
    if msg.get("fps") is not None and not 0 < msg["fps"] <= 1000:
        raise ProtocolError(f"generate request: 'fps' must be in (0, 1000], got {msg['fps']}")
    if msg.get("seed") is not None and not 0 <= msg["seed"] < 2**63:
        raise ProtocolError(f"generate request: 'seed' must be in [0, 2**63), got {msg['seed']}")
    seeds = msg.get("seeds")
    if seeds is not None:
        if msg.get("seed") is not None:
            raise ProtocolError("generate request: give either 'seed' or 'seeds', not both")
        if not 1 <= len(seeds) <= MAX_TAKES:
            raise ProtocolError(f"generate request: 'seeds' must list 1 to {MAX_TAKES} seeds, got {len(seeds)}")
        if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seeds):
            raise ProtocolError(f"generate request: 'seeds' must be integers in [0, 2**63), got {seeds!r:.80}")
        if len(set(seeds)) != len(seeds):
            raise ProtocolError(f"generate request: 'seeds' repeats a seed ({seeds!r:.80}): each take needs its own")


def _check_result(msg: dict) -> None:
    paths = msg.get("paths")
    if paths is not None and (not paths or not all(isinstance(p, str) and p for p in paths) or paths[0] != msg["path"]):
        raise ProtocolError("result event: 'paths' must be non-empty file paths, the first one equal to 'path'")


def _check_progress(msg: dict) -> None:
    if not 0 <= msg["step"] <= msg["total"]:
        raise ProtocolError(f"progress event: need 0 <= step <= total, got step {msg['step']} of {msg['total']}")


def validate(msg: Any, *, request: bool) -> dict:
    """Return ``msg`` if it is a valid request (``request=True``) or event, else raise ProtocolError."""
    what = "request" if request else "event"
    if not isinstance(msg, dict):
        raise ProtocolError(f"a {what} must be a JSON object, got {type(msg).__name__}")
    kind = msg.get("type")
    table = _REQUEST_FIELDS if request else _EVENT_FIELDS
    if kind not in table:
        raise ProtocolError(f"unknown {what} type {kind!r} (known: {', '.join(table)})")
    ident = msg.get("id")
    # An error event may answer a line whose id could not be read: its id is null.
    if not (ident is None and not request and kind == "error"):
        if not isinstance(ident, str) or not 0 < len(ident) <= MAX_ID_LENGTH:
            raise ProtocolError(f"{kind} {what}: 'id' must be a string of 1 to {MAX_ID_LENGTH} characters, got {ident!r:.80}")
    _check_fields(msg, table[kind], f"{kind} {what}")
    if request and kind == "generate":
        _check_generate(msg)
    if not request and kind == "progress":
        _check_progress(msg)
    if not request and kind == "result":
        _check_result(msg)
    return msg


def encode(msg: dict, *, request: bool) -> bytes:
    """Validate ``msg`` and return it as one UTF-8 JSON line, newline included."""
    validate(msg, request=request)
    line = json.dumps(msg, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"message too long: {len(line)} bytes (the limit is {MAX_LINE_BYTES})")
    return line


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not valid JSON")


def decode(line: bytes | str, *, request: bool) -> dict:
    """Parse and validate one line; raise ProtocolError saying what is wrong with it."""
    if isinstance(line, str):
        line = line.encode("utf-8", errors="surrogatepass")
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line too long: {len(line)} bytes (the limit is {MAX_LINE_BYTES})")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"line is not UTF-8 text ({err.reason} at byte {err.start})") from None
    text = text.strip()
    if not text:
        raise ProtocolError("empty line")
    try:
        msg = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ProtocolError(f"line is not valid JSON ({err.msg} at column {err.colno}): {text[:80]!r}") from None
    except RecursionError:
        raise ProtocolError("line is nested too deeply to be a protocol message") from None
    return validate(msg, request=request)


def peek_id(line: bytes | str) -> str | None:
    """Best-effort id of a line that failed to decode, so the error answer can name its request."""
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError, TypeError):
        return None
    ident = msg.get("id") if isinstance(msg, dict) else None
    return ident if isinstance(ident, str) and 0 < len(ident) <= MAX_ID_LENGTH else None
