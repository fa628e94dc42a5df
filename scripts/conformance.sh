#!/usr/bin/env bash
# Schemathesis against the mock, as a peer check of our OpenAPI document and of the mock.
#
# Starts the mock (strict mode: every response is also checked against schemas/ inside it) on a free
# loopback port, runs `schemathesis run` on the document the mock serves with every phase (examples,
# coverage, fuzzing, stateful), positive and negative data and every check, first on the API's two
# operations, then on the admin API, then stops the mock. It fails if either run fails. Settings (environment):
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
ADMIN_TOKEN=conformance-admin-token
READY_TRIES=150 # x 0.2 s

python="$VENV/bin/python"
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port/api/v1"

"$python" -m mockserver serve --host 127.0.0.1 --port "$port" --token "$TOKEN" --admin-token "$ADMIN_TOKEN" \
    --strict --no-access-log &
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

run_schemathesis() { # REPORT_SUBDIR, then schemathesis options
    local reports=() subdir=$1
    shift
    if [[ -n "${REPORT_DIR:-}" ]]; then
        reports=(--report junit,ndjson --report-dir "$REPORT_DIR/$subdir")
    fi
    timeout "$TIME_LIMIT" "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/openapi.json" \
        --phases examples,coverage,fuzzing,stateful \
        --mode all \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --generation-database none \
        --request-timeout 10 \
        --workers 1 \
        --no-color \
        "${reports[@]}" "$@"
}

# The API first, without the admin API (tag "admin"): its faults and resets would sabotage the run.
status=0
run_schemathesis api --url "$base" --exclude-tag admin --header "Authorization: Bearer $TOKEN" || status=$?
# Then the admin API (at /__admin/, beside the API), on the same mock: faults never touch it.
run_schemathesis admin --url "http://127.0.0.1:$port" --include-tag admin \
    --header "Authorization: Bearer $ADMIN_TOKEN" || status=$?
exit "$status"
