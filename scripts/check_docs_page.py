"""Render the mock's documentation page in headless Chromium and check that the API shows in it.

Starts the mock on a free loopback port, loads ``{base}/docs`` (with the list operation expanded
by Swagger UI's deep link) in Debian's ``chromium`` (``apt-get install -y chromium``), saves a
screenshot, and checks the rendered DOM: both operations, the documented parameters, and no
Swagger UI error box. Exit status 0 means the page rendered; the screenshot is worth a look.

    python scripts/check_docs_page.py [--out DIR] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

READY_TIMEOUT_SECONDS = 30.0
CHROMIUM_TIMEOUT_SECONDS = 120.0
#: Time Swagger UI gets to fetch the document and render, in the browser's virtual clock.
RENDER_BUDGET_MS = 15000
DEEP_LINK = "#/diagnostics/listDiagnostics"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Everything but loopback fails to resolve: the page must not need the network.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--window-size=1280,1800",
)
#: What the rendered page must contain: the operations, the expanded one's parameters, the title.
EXPECTED_IN_DOM = (
    "operations-diagnostics-listDiagnostics",
    "operations-diagnostics-createDiagnostic",
    "/inventory_device_diags/",
    "Inventory Device Diags",
    "update_status",
    "limit",
    "offset",
    "Authorize",
)
#: What Swagger UI shows when it cannot read or render the document.
FORBIDDEN_IN_DOM = ("Unable to render this definition", "Failed to load API definition", "errors-wrapper")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the mock exited with status {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the mock did not answer {url} within {READY_TIMEOUT_SECONDS:.0f}s")


@contextmanager
def running_mock() -> Iterator[str]:
    """The base URL of a mock serving on a free loopback port, stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "mockserver", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until_ready(f"{base}/openapi.json", server)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def chromium(binary: str, profile: Path, *arguments: str) -> str:
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--virtual-time-budget={RENDER_BUDGET_MS}", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_SECONDS,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def check_dom(dom: str) -> list[str]:
    """What is wrong with the rendered page; empty when it shows the API."""
    problems = [f"missing from the page: {text!r}" for text in EXPECTED_IN_DOM if text not in dom]
    problems += [f"Swagger UI reports an error: {text!r}" for text in FORBIDDEN_IN_DOM if text in dom]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        help="folder for the screenshot and the DOM (default: a new temporary folder)")
    parser.add_argument("--chromium", default=shutil.which("chromium"),
                        help="the browser (default: chromium on PATH)")
    args = parser.parse_args()
    if not args.chromium:
        print("chromium not found: on Debian, apt-get install -y chromium", file=sys.stderr)
        return 2
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="docs-page-"))
    out.mkdir(parents=True, exist_ok=True)
    screenshot, dom_file = out / "docs.png", out / "docs.html"
    with running_mock() as base, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile_root:
        url = f"{base}/docs{DEEP_LINK}"
        chromium(args.chromium, Path(profile_root) / "shot", f"--screenshot={screenshot}", url)
        dom = chromium(args.chromium, Path(profile_root) / "dom", "--dump-dom", url)
    dom_file.write_text(dom, encoding="utf-8")
    problems = check_dom(dom)
    print(f"rendered {url}\n  screenshot: {screenshot}\n  DOM: {dom_file} ({len(dom)} characters)")
    for problem in problems:
        print(f"  FAIL: {problem}", file=sys.stderr)
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        print("  FAIL: no screenshot was written", file=sys.stderr)
        return 1
    if problems:
        return 1
    print("  OK: both operations and their parameters are on the page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
