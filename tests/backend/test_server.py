"""backend.server as the add-on runs it: a real subprocess speaking JSON lines, with a tiny real checkpoint."""

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from backend import protocol
from backend.motion.motion import Motion

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEECH = REPO_ROOT / "assets" / "demo_speech.wav"


class ServerProcess:
    """``python -m backend.server`` started the way the add-on's client starts it (no shell, cwd = root).

    A context manager: leaving the block ends the process (killing it if it has not exited) and joins
    the threads that read its output, so nothing outlives the test that started it. The timeouts only
    keep a broken server from hanging the suite.
    """

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "backend.server", "--device", "cpu", *args], cwd=REPO_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.events: queue.Queue = queue.Queue()
        self.raw_lines: list[bytes] = []
        self.stderr_lines: list[bytes] = []
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self.stderr_lines.extend, args=(self.proc.stderr,), daemon=True)]
        for thread in self._readers:
            thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.raw_lines.append(line)
            self.events.put(protocol.decode(line, request=False))  # every stdout line must be a valid event

    def send(self, msg: dict | bytes) -> None:
        self.proc.stdin.write(msg if isinstance(msg, bytes) else protocol.encode(msg, request=True))
        self.proc.stdin.flush()

    def next(self, timeout: float = 300.0) -> dict:
        return self.events.get(timeout=timeout)

    def until_final(self, ident: str, timeout: float = 300.0) -> tuple[list[dict], dict]:
        progress = []
        while True:
            event = self.next(timeout)
            assert event["id"] == ident, event
            if event["type"] == "progress":
                progress.append(event)
            else:
                return progress, event

    def close(self, timeout: float = 120.0) -> tuple[int, str]:
        """End of input, then the exit code and the log of a server that exited by itself."""
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        return code, self._join()

    def _join(self) -> str:
        for thread in self._readers:
            thread.join()
        return b"".join(self.stderr_lines).decode()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._join()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from backend.model.config import preset, scheduler_preset
    from backend.pipeline import GesturePipeline

    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    GesturePipeline.from_config(preset("tiny"), seed=3, scheduler=scheduler_preset("tiny")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(checkpoint):
    with ServerProcess("--checkpoint", str(checkpoint)) as srv:
        yield srv
        assert srv.close()[0] == 0


def test_hello_reports_protocol_device_and_model(server):
    server.send({"id": "h1", "type": "hello"})
    hello = server.next()
    assert hello["type"] == "hello" and hello["id"] == "h1"
    assert hello["protocol"] == protocol.PROTOCOL_VERSION and hello["device"] == "cpu"
    model = hello["model"]
    assert model["joints"] == 75 and model["fps"] == 20.0 and model["sampler"] == "ddim" and model["frontend"] == "mel"
    assert 10_000 < model["parameters"] < 1_000_000
    assert "model_error" not in hello


def test_generate_streams_progress_then_exactly_one_result(server):
    server.send({"id": "g1", "type": "generate", "audio": str(SPEECH), "steps": 3, "seed": 5})
    progress, final = server.until_final("g1")
    assert final["type"] == "result", final
    assert [p["step"] for p in progress] == [1, 2, 3] and {p["total"] for p in progress} == {3}
    motion = Motion.load_npz(final["path"])
    # 16.5 s of speech at the model's 20 fps
    assert motion.fps == 20.0 and final["frames"] == motion.num_frames == 330
    assert motion.rotations.shape == (330, 75, 4)
    # nothing more for g1: the next event answers the next request
    server.send({"id": "h2", "type": "hello"})
    assert server.next()["id"] == "h2"

    server.send({"id": "g2", "type": "generate", "audio": str(SPEECH), "steps": 3, "seed": 5, "fps": 30.0})
    _, again = server.until_final("g2")
    resampled = Motion.load_npz(again["path"])
    assert resampled.fps == 30.0 and resampled.num_frames == 1 + (330 - 1) * 30 // 20
    np.testing.assert_allclose(resampled.rotations[::3], motion.rotations[::2], atol=1e-6)  # same seed → same motion


def test_takes_are_generated_in_one_request_one_result_per_seed(server):
    server.send({"id": "t1", "type": "generate", "audio": str(SPEECH), "steps": 2, "seeds": [5, 9]})
    progress, final = server.until_final("t1")
    assert final["type"] == "result", final
    assert [p["step"] for p in progress] == [1, 2, 3, 4] and {p["total"] for p in progress} == {4}
    assert progress[0]["stage"].startswith("take 1/2") and progress[-1]["stage"].startswith("take 2/2")
    assert len(final["paths"]) == 2 and final["paths"][0] == final["path"]
    first, second = (Motion.load_npz(p) for p in final["paths"])
    assert np.abs(first.rotations - second.rotations).max() > 1e-3  # distinct takes
    server.send({"id": "t2", "type": "generate", "audio": str(SPEECH), "steps": 2, "seed": 9})
    _, single = server.until_final("t2")
    assert "paths" not in single  # an older client's request gets the answer it knows
    np.testing.assert_allclose(Motion.load_npz(single["path"]).rotations, second.rotations, atol=1e-6)


def test_cancel_stops_a_long_generation_before_its_end(server):
    """Cancel ends a 1000-step job early with a ``cancelled`` error, and the server stays usable. That
    the sampler checks the cancel flag at every step is tested in test_denoising.py."""
    server.send({"id": "c1", "type": "generate", "audio": str(SPEECH), "steps": 1000, "sampler": "ddpm"})
    progress = [server.next()]
    while progress[-1]["type"] == "progress" and progress[-1]["step"] < 2:
        progress.append(server.next())
    assert progress[-1]["type"] == "progress" and progress[-1]["total"] == 1000
    server.send({"id": "c2", "type": "generate", "audio": str(SPEECH)})  # one job at a time
    busy = server.next()
    while busy["id"] == "c1":
        progress.append(busy)
        busy = server.next()
    assert busy == {"id": "c2", "type": "error", "kind": "busy", "message": busy["message"]} and "'c1'" in busy["message"]
    server.send({"id": "c1", "type": "cancel"})
    after, final = server.until_final("c1")
    assert final["type"] == "error" and final["kind"] == "cancelled"
    steps = [p["step"] for p in progress + after if p["stage"] == "denoising"]
    assert steps[0] >= 1 and steps == sorted(steps) and steps[-1] < 1000  # it was denoising, and stopped before the end
    server.send({"id": "c3", "type": "hello"})
    assert server.next()["id"] == "c3"


def test_bad_requests_get_clear_errors_and_the_server_survives(server, tmp_path):
    server.send(b"this is not json\n")
    err = server.next()
    assert err["id"] is None and err["kind"] == "protocol" and "not valid JSON" in err["message"]
    server.send(b'{"id": "x1", "type": "teleport"}\n')
    err = server.next()
    assert err["id"] == "x1" and err["kind"] == "protocol" and "teleport" in err["message"]
    missing = tmp_path / "nope.wav"
    server.send({"id": "x2", "type": "generate", "audio": str(missing)})
    _, err = server.until_final("x2")
    assert err["kind"] == "audio" and str(missing) in err["message"]
    server.send(b'{"id": "x3", "type": "generate", "audio": "' + b"a" * protocol.MAX_LINE_BYTES + b'"}\n')
    err = server.next()
    assert err["kind"] == "protocol" and "longer than" in err["message"]
    server.send({"id": "x4", "type": "hello"})
    assert server.next()["type"] == "hello"


def test_end_of_input_exits_cleanly_and_removes_results(checkpoint):
    with ServerProcess("--checkpoint", str(checkpoint)) as srv:
        srv.send({"id": "g", "type": "generate", "audio": str(SPEECH), "steps": 2})
        _, final = srv.until_final("g")
        result = Path(final["path"])
        assert result.is_file()
        code, stderr = srv.close()
    assert code == 0
    assert not result.parent.exists()
    assert "ready" in stderr and "exiting" in stderr  # logs go to stderr ...
    assert all(json.loads(line)["type"] in protocol.EVENT_TYPES for line in srv.raw_lines)  # ... stdout is protocol only


def test_shutdown_request_ends_the_process_and_missing_checkpoint_is_explained(tmp_path):
    with ServerProcess("--checkpoint", str(tmp_path / "no-such-checkpoint")) as srv:
        srv.send({"id": "h", "type": "hello"})
        hello = srv.next()
        assert "model" not in hello and "no-such-checkpoint" in hello["model_error"]
        srv.send({"id": "g", "type": "generate", "audio": str(SPEECH)})
        _, err = srv.until_final("g")
        assert err["kind"] == "checkpoint" and "checkpoint folder not found" in err["message"]
        srv.send({"id": "s", "type": "shutdown"})
        assert srv.proc.wait(timeout=120) == 0


def test_serve_subcommand_is_the_same_server():
    proc = subprocess.run([sys.executable, "-m", "backend", "serve", "--help"], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0 and "--checkpoint" in proc.stdout and "--device" in proc.stdout
