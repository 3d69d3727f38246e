"""Issue 8 §3: a backend that dies, hangs, cannot start or writes garbage is reported in plain words
within seconds, and the next request starts a fresh process.

These drive the add-on's process client (``dimgesture_addon/client.py``, pure Python) against the
real ``backend.server`` and against a misbehaving stand-in (``reliability_helpers.FAKE_SERVER``).
The operator-level consequences (scene untouched, next Generate works) are in test_addon_faults.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reliability_helpers import REPO_ROOT, fake_backend_root, load_client, wait_for

FAKE_PYTHON = sys.executable


@pytest.fixture
def client():
    module = load_client()
    yield module
    module.shutdown_backend()


@pytest.fixture
def fake(client, tmp_path):
    """``fake(mode)`` → a BackendConfig that starts the stand-in server in that mode."""
    root = str(fake_backend_root(tmp_path / "fake"))

    def config(mode: str, **env: str):
        return client.BackendConfig(python=FAKE_PYTHON, root=root, device="cpu",
                                    env=(("DIMGESTURE_FAKE", mode), *env.items()))

    return config


def final_error(client, backend, seconds: float = 120.0) -> dict:
    """Send a generate request and return its final event; a refusal to send counts. ``seconds`` only
    keeps a broken client from hanging the suite: the faults here end a request by themselves."""
    try:
        request = backend.send("generate", audio="/nonexistent/speech.wav")
        return client.wait_final(request, seconds)
    except client.BackendError as err:
        return {"type": "error", "kind": err.kind, "message": str(err)}


def test_wrong_python_path_is_refused_at_once(client, tmp_path, monkeypatch):
    """Refused before any process is started (so at once, however busy the machine is)."""
    def no_process(*args, **kwargs):
        raise AssertionError("no process may be started for a Python that does not exist")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    python = str(tmp_path / "no-venv" / "bin" / "python")
    with pytest.raises(client.BackendError) as err:
        client.get_backend(client.BackendConfig(python=python, root=str(REPO_ROOT)))
    assert err.value.kind == "setup" and python in str(err.value) and "does not exist" in str(err.value)


def test_python_that_is_not_python_is_reported(client, tmp_path):
    python = tmp_path / "python"
    python.write_text("not a program")
    python.chmod(0o644)  # exists, but cannot be executed
    with pytest.raises(client.BackendError) as err:
        client.get_backend(client.BackendConfig(python=str(python), root=str(REPO_ROOT)))
    assert err.value.kind == "setup" and "Could not start the backend" in str(err.value)


def _has_torch(python: str) -> bool:
    return subprocess.run([python, "-c", "import torch"], capture_output=True, timeout=60).returncode == 0


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(not os.path.isfile(SYSTEM_PYTHON) or _has_torch(SYSTEM_PYTHON),
                    reason="needs a Python without PyTorch at /usr/bin/python3")
@pytest.mark.parametrize("kind", ["hello", "generate"])
def test_python_without_torch_is_reported_in_plain_words(client, kind):
    backend = client.get_backend(client.BackendConfig(python=SYSTEM_PYTHON, root=str(REPO_ROOT), device="cpu"))
    try:
        request = backend.send(kind, **({"audio": "/x.wav"} if kind == "generate" else {}))
        final = client.wait_final(request, 120)
    except client.BackendError as err:
        final = {"type": "error", "kind": err.kind, "message": str(err)}
    assert final["type"] == "error" and "No module named 'torch'" in final["message"]


def test_backend_exiting_at_start_is_explained(client, fake):
    backend = client.get_backend(fake("exit_at_start"))
    final = final_error(client, backend)
    assert final["kind"] == "backend_crashed"
    assert "stopped unexpectedly (exit code 3)" in final["message"] and "libcudart.so.12" in final["message"]


def test_backend_killed_mid_generation_is_reported_and_replaced(client, fake):
    config = fake("die")
    backend = client.get_backend(config)
    final = final_error(client, backend)
    assert final["kind"] == "backend_crashed" and "killed by signal 9" in final["message"]
    fresh = client.get_backend(config)
    assert fresh is not backend and fresh.pid != backend.pid and fresh.alive


def test_hanging_backend_times_out_and_is_stopped(client, fake):
    config = fake("hang")
    backend = client.get_backend(config)
    with pytest.raises(client.BackendError) as err:
        backend.hello(timeout=1.0)
    assert err.value.kind == "timeout" and "did not answer within 1 s" in str(err.value)
    request = backend.send("generate", audio="/x.wav")
    with pytest.raises(client.BackendError, match="did not finish within 1 s"):
        client.wait_final(request, 1.0)
    client.shutdown_backend()  # what the operator does with a backend that timed out
    assert not backend.alive
    fresh = client.get_backend(config)
    assert fresh.pid != backend.pid and fresh.alive
    fresh.stop(timeout=0.2)


def test_backend_gone_silent_mid_job_is_reported_as_stalled(client, fake):
    backend = client.get_backend(fake("stall"))
    request = backend.send("generate", audio="/x.wav")
    with pytest.raises(client.BackendError) as err:  # 120 s: only a guard; the stall path ends it after 1 s of silence
        client.wait_final(request, 120, backend=backend, stall=1.0)
    assert err.value.kind == "stalled" and "stopped responding (no word from it for 1 s)" in str(err.value)
    assert not backend.alive


def test_client_asks_for_a_heartbeat_well_inside_the_stall_limit(client):
    command = client.BackendConfig(python="python", root=".").command()
    beat = float(command[command.index("--heartbeat") + 1])
    assert 0 < beat * 5 <= client.STALL_SECONDS


@pytest.mark.parametrize("heartbeat", [0.0, 0.1])
def test_server_heartbeat_repeats_progress_while_a_job_runs(monkeypatch, heartbeat):
    """While a job is busy (here: a model load held until the test has seen what it needs, then failing),
    the server repeats its latest progress every ``--heartbeat`` seconds, only when asked to, and never
    after the job's answer."""
    from backend import protocol
    from backend.errors import CheckpointError
    from backend.server import Server

    release = threading.Event()

    def held_load(self, device=None):
        release.wait(120)
        raise CheckpointError("no model here")

    def events() -> list[dict]:
        return [protocol.decode(line, request=False) for line in out.getvalue().splitlines()]

    monkeypatch.setattr(Server, "pipeline", held_load)
    out = io.BytesIO()
    server = Server(out, checkpoint=None, device="cpu", heartbeat=heartbeat)
    beaters: list[threading.Thread] = []
    try:
        server.start_generate({"id": "g", "type": "generate", "audio": "/x.wav"})
        beaters = [t for t in threading.enumerate() if t.name == "heartbeat-g"]
        if heartbeat:  # four beats, however long the machine takes to produce them
            assert len(beaters) == 1 and wait_for(lambda: len(events()) >= 4, 120)
        else:
            assert beaters == [] and events() == []
    finally:
        release.set()
        server._job.thread.join(120)
        for thread in beaters:
            thread.join(120)
        server.close()
    assert not server._job.thread.is_alive() and not any(t.is_alive() for t in beaters)
    final = {"id": "g", "type": "error", "kind": "checkpoint", "message": "no model here"}
    beat = {"id": "g", "type": "progress", "step": 0, "total": 1, "stage": "preparing"}
    assert events() == [beat] * (len(events()) - 1) + [final]  # the answer is the last line, beats only before it
    assert len(events()) >= (5 if heartbeat else 1)


@pytest.mark.parametrize("mode, words", [
    ("garbage", "not UTF-8"),
    ("bad_json", "missing the field 'path'"),
    ("oversized", "line too long"),
    ("oversized_line", "line too long"),
])
def test_garbage_on_stdout_is_reported_and_the_backend_replaced(client, fake, mode, words):
    config = fake(mode)
    backend = client.get_backend(config)
    final = final_error(client, backend)
    assert final["type"] == "error" and final["kind"] == "protocol"
    assert final["message"].startswith("The backend sent output that is not a DiM-Gesture message") and words in final["message"]
    assert wait_for(lambda: not backend.alive, 60)  # a backend whose output cannot be trusted is stopped...
    assert client.get_backend(config).pid != backend.pid  # ...and the next request gets a fresh one


# --- fuzzing: whatever the backend writes, each request ends exactly once, quickly --------------------
_valid_events = st.sampled_from([
    b'{"id":"r1","type":"progress","step":1,"total":2,"stage":"denoising"}\n',
    b'{"id":"r1","type":"result","path":"/tmp/x.npz"}\n',
    b'{"id":"r1","type":"error","kind":"audio","message":"bad"}\n',
    b'{"id":null,"type":"error","kind":"protocol","message":"?"}\n',
    b'{"id":"r9","type":"result","path":"/tmp/y.npz"}\n',
])
_junk = st.one_of(st.binary(max_size=200).map(lambda b: b + b"\n"), st.text(max_size=80).map(lambda t: t.encode() + b"\n"),
                  st.builds(lambda d: json.dumps(d).encode() + b"\n",
                            st.dictionaries(st.sampled_from(["id", "type", "path", "step", "total", "x"]),
                                            st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=4)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(_valid_events, _junk), max_size=6))
@example(lines=[b'{"id":null,"type":"error","kind":"protocol","message":"?"}\n',  # found by the stress loop (issue 11)
                b'{"id":"r1","type":"result","path":"/tmp/x.npz"}\n'])
def test_fuzz_client_line_handling(client, fake, tmp_path, monkeypatch, lines):
    """Random backend output: the request gets exactly one final event within seconds, no reader
    thread dies with an exception, and a final event that came before any junk is the one kept."""
    crashes = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))
    replay = tmp_path / "replay.bin"
    replay.write_bytes(b"".join(lines))
    backend = client.BackendProcess(fake("replay", DIMGESTURE_REPLAY=str(replay)))
    try:
        request = backend.send("generate", audio="/x.wav")
        final = client.wait_final(request, 10)
    finally:
        backend.stop(timeout=1)
    assert not crashes
    assert final["type"] in ("result", "error") and final["id"] in ("r1", None)
    first_final = _first_final_for_r1(lines)
    if first_final is not None:
        assert final == first_final
    else:
        assert final["type"] == "error" and final["kind"] in ("protocol", "backend_crashed")
    assert request.events.empty()  # nothing after the final event


def _first_final_for_r1(lines: list[bytes]) -> dict | None:
    from backend import protocol

    for line in lines:
        try:
            event = protocol.decode(line, request=False)
        except protocol.ProtocolError:
            return None  # junk first: the client gives up on this backend
        if event["type"] in ("result", "error") and event["id"] in ("r1", None):  # an id-less final ends every request
            return event
    return None


# --- the server side: whatever arrives on stdin, every stdout line is a valid event ------------------
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode),
                                st.just(b'{"id":"a","type":"cancel"}'), st.just(b'{"id":"b","type":"frobnicate"}'),
                                st.just(b'{"id": 7, "type": "generate", "audio": "x"}')), max_size=8))
def test_fuzz_server_answers_every_bad_line_with_a_valid_event(lines):
    from backend import protocol
    from backend.server import Server

    out = io.BytesIO()
    stdin = io.BytesIO(b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines))
    Server(out, checkpoint=None, device="cpu").serve(stdin)
    events = [protocol.decode(line, request=False) for line in out.getvalue().splitlines()]
    assert all(e["type"] == "error" and e["kind"] == "protocol" for e in events)
    bad = 0
    for line in lines:
        text = line.replace(b"\n", b" ")
        if not text.strip():
            continue
        try:
            protocol.decode(text, request=True)
        except protocol.ProtocolError:
            bad += 1
    assert len(events) == bad
