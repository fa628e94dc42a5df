#!/usr/bin/env bash
# Schemathesis as a peer check of our OpenAPI documents, of the mock, and of the contract document itself.
#
# Four runs, each with every phase (examples, coverage, fuzzing, stateful), positive and negative data and every
# check:
#   1. the mock's document (openapi.json) against the mock (strict mode: every response is also checked against
#      schemas/ inside it), with scripts/schemathesis.toml;
#   2. the contract's document (contract.openapi.json, as the mock serves it) against the mock;
#   3. the contract's document, bundled to a file, against the independent reference server of
#      tests/contract_servers/, as a peer tool would run it against staging;
#   4. the mock's document again, on its admin API only (tag "admin", at /__admin/ beside the API), last,
#      since its resets and faults would sabotage the runs before it.
# Runs 2 and 3 use scripts/contract.schemathesis.toml. Each server is started on a free loopback port and stopped
# at the end. The exit status is the first failing run's (all runs are made). Settings (environment):
#   MAX_EXAMPLES   test cases per operation and phase (default 100)
#   SEED           Schemathesis' random seed (default 42: a run is repeatable)
#   VENV           the virtualenv holding the mock and Schemathesis (default .venv)
#   REPORT_DIR     if set, JUnit and NDJSON reports are written there (one folder per run)
#   TIME_LIMIT     seconds after which a run is stopped and fails (default 900)
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
work=$(mktemp -d)
pids=()
stop_servers() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap stop_servers EXIT

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 answers HTTP at all (a 401 counts: the reference server wants a token everywhere).
wait_ready() {
    local url=$1 pid=$2 name=$3 try
    for ((try = 0; try < READY_TRIES; try++)); do
        if "$python" -c '
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
' "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "conformance: $name exited before it was ready" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "conformance: $name did not answer $url" >&2
    return 1
}

# run_schemathesis NAME CONFIG DOCUMENT BASE_URL [more schemathesis options]
status=0
run_schemathesis() {
    local name=$1 config=$2 document=$3 url=$4
    shift 4
    local reports=()
    if [[ -n "${REPORT_DIR:-}" ]]; then
        reports=(--report junit,ndjson --report-dir "$REPORT_DIR/$name")
    fi
    echo "== conformance: $name" >&2
    timeout "$TIME_LIMIT" "$VENV/bin/schemathesis" --config-file "$config" run "$document" \
        --url "$url" \
        --header "Authorization: Bearer ${BEARER:-$TOKEN}" \
        --phases examples,coverage,fuzzing,stateful \
        --mode all \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --generation-database none \
        --request-timeout 10 \
        --workers 1 \
        --no-color \
        "${reports[@]}" "$@" || { local code=$?; echo "== conformance: $name failed ($code)" >&2; ((status)) || status=$code; }
}

mock_port=$(free_port)
mock="http://127.0.0.1:$mock_port/api/v1"
"$python" -m mockserver serve --host 127.0.0.1 --port "$mock_port" --token "$TOKEN" --admin-token "$ADMIN_TOKEN" \
    --strict --no-access-log &
pids+=($!)
wait_ready "$mock/openapi.json" "${pids[-1]}" "the mock"

reference_port=$(free_port)
reference="http://127.0.0.1:$reference_port/api/v1"
"$python" -m tests.contract_servers.reference --port "$reference_port" --token "$TOKEN" &
pids+=($!)
wait_ready "$reference/" "${pids[-1]}" "the reference server"
"$python" -m schemas contract.openapi.json >"$work/contract.openapi.json"

# The admin control plane (tag "admin", at /__admin/, not under the API) resets the inventory and injects
# faults on purpose: fuzzing it would sabotage the run. The API's two operations are what is checked.
run_schemathesis mock-document scripts/schemathesis.toml "$mock/openapi.json" "$mock" --exclude-tag admin
# Other methods on the route are the mock's business (405 with Allow), not the contract's: see the config file.
run_schemathesis contract-document-on-the-mock scripts/contract.schemathesis.toml "$mock/contract.openapi.json" "$mock" \
    --exclude-checks unsupported_method
run_schemathesis contract-document-on-the-reference-server scripts/contract.schemathesis.toml \
    "$work/contract.openapi.json" "$reference" --exclude-checks unsupported_method
# The admin API, with its own token: faults never touch it.
BEARER=$ADMIN_TOKEN run_schemathesis admin-api scripts/schemathesis.toml "$mock/openapi.json" "http://127.0.0.1:$mock_port" \
    --include-tag admin
exit "$status"
