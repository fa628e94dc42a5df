"""Driving wrk: a Lua script per run that picks the workload's calls, counts and caps the answers.

wrk bounds a run in time (``-d``) only; the script adds the count bound: each thread stops after
its share of ``max_requests``. A stopped thread's end time is taken from the monotonic clock
(wrk itself always reports the full duration), so a capped run still gives a true rate. The
script's ``done`` prints one JSON line that ``wrk_load`` reads.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .load import REQUEST_TIMEOUT, Bounds, LoadResult
from .workloads import Workload

#: wrk's threads; the server under test shares the same two cores.
WRK_THREADS = 2

_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *spec);
]]
local clock_spec = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock_spec)
  return tonumber(clock_spec.tv_sec) * 1000000 + tonumber(clock_spec.tv_nsec) / 1000
end

local calls = {CALLS}
local expected = {EXPECTED}
local per_thread = {PER_THREAD}
local threads = {}
local counter = 0
local prepared = {}
local total_weight = 0

unexpected = 0
started_us = 0
stopped_us = 0

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(number)
  for _, call in ipairs(calls) do
    total_weight = total_weight + call.weight
    table.insert(prepared, {total_weight, wrk.format(call.method, call.target, call.headers, call.body)})
  end
  started_us = now_us()
end

function request()
  if #prepared == 1 then return prepared[1][2] end
  local draw = math.random() * total_weight
  for _, entry in ipairs(prepared) do
    if draw < entry[1] then return entry[2] end
  end
  return prepared[#prepared][2]
end

function response(status, headers, body)
  counter = counter + 1
  if not expected[status] then unexpected = unexpected + 1 end
  if counter >= per_thread then
    stopped_us = now_us()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad, first, last, capped = 0, nil, 0, true
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    local began, ended = thread:get("started_us"), thread:get("stopped_us")
    if first == nil or began < first then first = began end
    if ended == 0 then capped = false elseif ended > last then last = ended end
  end
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  if capped then seconds = (last - first) / 1e6 end
  io.write(string.format(
    '\n{"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "unexpected": %d, ' ..
    '"socket_errors": %d, "capped": %s}\n',
    summary.requests, seconds, latency:percentile(50), latency:percentile(99), bad,
    errors.connect + errors.read + errors.write + errors.timeout, tostring(capped)))
end
"""


def _lua_string(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return '"' + "".join(f"\\{byte:03d}" for byte in raw) + '"'


def lua_script(workload: Workload, headers: Mapping[str, str], per_thread: int) -> str:
    """The Lua script of one run (every string escaped byte by byte, so any body is safe)."""
    calls = []
    for call in workload.calls:
        call_headers = dict(headers)
        if call.body or call.method == "POST":
            call_headers["Content-Type"] = "application/json"
        header_table = ", ".join(
            f"[{_lua_string(name)}] = {_lua_string(value)}" for name, value in call_headers.items()
        )
        body = _lua_string(call.body) if call.body else "nil"
        calls.append(
            f"{{method = {_lua_string(call.method)}, target = {_lua_string(call.target)}, "
            f"headers = {{{header_table}}}, body = {body}, weight = {call.weight}}}"
        )
    expected = ", ".join(f"[{status}] = true" for status in workload.expected)
    return (
        _SCRIPT.replace("{CALLS}", "{" + ", ".join(calls) + "}")
        .replace("{EXPECTED}", "{" + expected + "}")
        .replace("{PER_THREAD}", str(per_thread))
    )


def wrk_load(
    host: str, port: int, workload: Workload, headers: Mapping[str, str], bounds: Bounds
) -> LoadResult:
    """One wrk run of ``workload`` within ``bounds``."""
    threads = max(1, min(WRK_THREADS, bounds.connections))
    per_thread = max(1, math.ceil(bounds.max_requests / threads))
    duration = max(1, math.ceil(bounds.seconds))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        script = Path(scratch) / "workload.lua"
        script.write_text(lua_script(workload, headers, per_thread), encoding="utf-8")
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{bounds.connections}",
            f"-d{duration}s",
            f"--timeout={int(REQUEST_TIMEOUT)}s",
            "-s",
            str(script),
            f"http://{host}:{port}",
        ]
        finished = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=duration + 3 * REQUEST_TIMEOUT
        )
    summary_lines = [line for line in finished.stdout.splitlines() if line.startswith('{"requests"')]
    if finished.returncode != 0 or not summary_lines:
        raise RuntimeError(
            f"wrk failed ({finished.returncode}): {finished.stderr.strip() or finished.stdout[-500:]}"
        )
    summary = json.loads(summary_lines[-1])
    return LoadResult(
        requests=summary["requests"],
        seconds=summary["seconds"],
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        unexpected=summary["unexpected"] + summary["socket_errors"],
        capped=summary["capped"],
        generator="wrk",
    )
