import subprocess
import sys

from backend.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_console_script_help_runs_in_a_fresh_process():
    proc = subprocess.run([sys.executable, "-m", "backend", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "generate" in proc.stdout and "train" in proc.stdout


def test_unknown_subcommand_fails():
    proc = subprocess.run([sys.executable, "-m", "backend", "no-such-command"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "invalid choice" in proc.stderr
