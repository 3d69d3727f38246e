#!/usr/bin/env bash
# The whole test suite several times in a row on a loaded machine: flaky tests (threads that outlive
# their test, timing assumptions) show up here rather than on a user's or a CI machine.
#
#   scripts/stress_tests.sh [pytest args...]      (or: make test-stress)
#
# RUNS (default 3) suite runs, one after the other, each from a fresh pytest process, while HOGS
# (default 1) processes burn CPU beside them. Every run is done even after a failure, so one loop
# shows every flake; the exit code is 1 if any run failed. The hogs are ended when the script ends,
# however it ends (success, failure, Ctrl+C, kill).
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
HOGS="${HOGS:-1}"
PY=.venv/bin/python
hogs=()

stop_hogs() {
    for pid in "${hogs[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    hogs=()
}
trap stop_hogs EXIT
trap 'echo "stress: interrupted" >&2; exit 130' INT TERM HUP

for _ in $(seq "$HOGS"); do
    "$PY" -c "while True: pass" &
    hogs+=("$!")
done
echo "stress: $RUNS runs of the whole suite beside $HOGS CPU hog(s) (pids ${hogs[*]})"

failed=()
for run in $(seq "$RUNS"); do
    started=$SECONDS
    echo "stress: run $run of $RUNS"
    "$PY" -m pytest -c tests/pytest.ini --rootdir=tests tests "$@"
    code=$?
    echo "stress: run $run of $RUNS exited with $code after $((SECONDS - started)) s"
    [ "$code" -eq 0 ] || failed+=("$run")
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "stress: FAILED in run(s) ${failed[*]} of $RUNS" >&2
    exit 1
fi
echo "stress: all $RUNS runs passed"
