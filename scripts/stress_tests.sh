#!/usr/bin/env bash
# The whole test suite several times in a row on a loaded machine: flaky tests (threads that outlive
# their test, timing assumptions) show up here rather than on a user's or a CI machine.
#
#   scripts/stress_tests.sh [pytest options...]      (or: make test-stress)
#
# RUNS (default 3) runs of TESTS (default: tests, the whole suite), one after the other, each in a
# fresh pytest process, while HOGS (default 1) processes burn CPU beside them. Every run is done even after a failure, so one loop
# shows every flake; the exit code is 1 if any run failed. The hogs are ended when the script ends,
# however it ends (success, failure, Ctrl+C, kill); so is a suite run still going.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
TESTS="${TESTS:-tests}"
HOGS="${HOGS:-1}"
PY=.venv/bin/python
PYTEST_WITH_SIGINT="import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); sys.exit(pytest.main())"
hogs=()
suite=""

stop_all() {
    if [ -n "$suite" ]; then  # SIGINT first: pytest runs its teardown, which stops the backends it started
        kill -INT "$suite" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$suite" 2>/dev/null || break; sleep 0.1; done
    fi
    for pid in $suite "${hogs[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    suite="" hogs=()
}
trap stop_all EXIT
trap 'echo "stress: interrupted" >&2; exit 130' INT TERM HUP

for _ in $(seq "$HOGS"); do
    "$PY" -c "while True: pass" &
    hogs+=("$!")
done
echo "stress: $RUNS runs of $TESTS beside $HOGS CPU hog(s) (pids ${hogs[*]})"

failed=()
for run in $(seq "$RUNS"); do
    started=$SECONDS
    echo "stress: run $run of $RUNS"
    # in the background + wait, so that a signal to this script is acted on at once (the trap ends the run too)
    # (a background job of a script starts with SIGINT ignored: give pytest its KeyboardInterrupt back)
    "$PY" -c "$PYTEST_WITH_SIGINT" -c tests/pytest.ini --rootdir=tests $TESTS "$@" &
    suite=$!
    wait "$suite"
    code=$?
    suite=""
    echo "stress: run $run of $RUNS exited with $code after $((SECONDS - started)) s"
    [ "$code" -eq 0 ] || failed+=("$run")
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "stress: FAILED in run(s) ${failed[*]} of $RUNS" >&2
    exit 1
fi
echo "stress: all $RUNS runs passed"
