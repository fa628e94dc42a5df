#!/usr/bin/env bash
# Schemathesis against the mock, as a peer check of our OpenAPI document and of the mock.
#
# Starts the mock (strict mode: every response is also checked against schemas/ inside it) on a free
# loopback port, runs `schemathesis run` on the document the mock serves with every phase (examples,
# coverage, fuzzing, stateful), positive and negative data and every check, then stops the mock.
# The exit status is Schemathesis'. Settings (environment):
#   MAX_EXAMPLES   test cases per operation and phase (default 100)
#   SEED           Schemathesis' random seed (default 42: a run is repeatable)
#   VENV           the virtualenv holding the mock and Schemathesis (default .venv)
#   REPORT_DIR     if set, JUnit and NDJSON reports are written there
#   TIME_LIMIT     seconds after which the run is stopped and fails (default 900)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
SEED=${SEED:-42}
TIME_LIMIT=${TIME_LIMIT:-900}
TOKEN=conformance-token
READY_TRIES=150 # x 0.2 s

python="$VENV/bin/python"
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port/api/v1"

"$python" -m mockserver serve --host 127.0.0.1 --port "$port" --token "$TOKEN" --strict --no-access-log &
mock_pid=$!
stop_mock() {
    kill "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
}
trap stop_mock EXIT

for ((try = 0; try < READY_TRIES; try++)); do
    if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$base/openapi.json" \
        2>/dev/null; then
        break
    fi
    if ! kill -0 "$mock_pid" 2>/dev/null; then
        echo "conformance: the mock exited before it was ready" >&2
        exit 1
    fi
    sleep 0.2
done
if ((try == READY_TRIES)); then
    echo "conformance: the mock did not answer $base/openapi.json" >&2
    exit 1
fi

reports=()
if [[ -n "${REPORT_DIR:-}" ]]; then
    reports=(--report junit,ndjson --report-dir "$REPORT_DIR")
fi

# The admin control plane (tag "admin", at /__admin/, not under the API) resets the inventory and injects
# faults on purpose: fuzzing it would sabotage the run. The API's two operations are what is checked.
status=0
timeout "$TIME_LIMIT" "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/openapi.json" \
    --url "$base" \
    --exclude-tag admin \
    --header "Authorization: Bearer $TOKEN" \
    --phases examples,coverage,fuzzing,stateful \
    --mode all \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --generation-database none \
    --request-timeout 10 \
    --workers 1 \
    --no-color \
    "${reports[@]}" || status=$?
exit "$status"
