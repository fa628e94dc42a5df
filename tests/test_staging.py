"""Staging realities: the suite passes a correct server behind a rate limit, behind a flaky gateway and
over TLS, still catches breaks behind the gateway, paces itself with --max-rps, honours proxies, and
says what its retries cost (terminal summary and JUnit properties)."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import live
import pytest
import trustme
from contract_servers import gateway
from suite_process import Finished, run_suite
from test_contract_suite import EXPECTED

TOKEN = "staging-token-3e7"
#: Far below what the suite sends unhindered, so the bucket runs dry many times a run.
RATE, BURST = 8, 8
FLAKY_SHARE = 0.1
#: Breaks that must still be caught through the gateway: a write lost, a status, a count, an auth
#: check, and a 500 (never retried) on a POST.
BREAKS_BEHIND_THE_GATEWAY = ("lost-write", "unknown-device-200", "wrong-count", "no-auth",
                             "500-on-bad-json")


def _run(server: gateway.GatedRunning, folder: Path, name: str, *options: str) -> tuple[Finished, str]:
    junit = folder / f"{name}.xml"
    done = run_suite(server.base_url, "--junitxml", str(junit), *options, token=TOKEN)
    return done, junit.read_text(encoding="utf-8") if junit.exists() else ""


@pytest.fixture(scope="module")
def gated_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Finished, str, dict]]]:
    """The whole suite behind each gateway (and paced), a few at a time; with what each gate refused."""
    folder = tmp_path_factory.mktemp("staging")
    servers = {
        "rate-limited": gateway.start(TOKEN, rate_limit=gateway.RateLimit(RATE, BURST, http_date=True)),
        "flaky": gateway.start(TOKEN, flaky=gateway.Flaky(FLAKY_SHARE)),
        "paced": gateway.start(TOKEN, rate_limit=gateway.RateLimit(RATE, BURST)),
        "paced, 2 workers": gateway.start(TOKEN, rate_limit=gateway.RateLimit(RATE, BURST)),
        **{name: gateway.start(TOKEN, [name], rate_limit=gateway.RateLimit(RATE, BURST),
                               flaky=gateway.Flaky(FLAKY_SHARE)) for name in BREAKS_BEHIND_THE_GATEWAY},
    }
    # The correct server's runs go to the end; a break's run stops at the first failure.
    paced = ("--max-rps", str(RATE * 0.75))
    options = {"rate-limited": (), "flaky": (), "paced": paced, "paced, 2 workers": ("-n", "2", *paced)}
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = {name: pool.submit(_run, server, folder, name, *options.get(name, ("-x",)))
                       for name, server in servers.items()}
            results = {name: future.result() for name, future in futures.items()}
    finally:
        for server in servers.values():
            server.stop()
    yield {name: (*results[name], dict(server.gate.refused)) for name, server in servers.items()}


@pytest.mark.parametrize("name, status", [("rate-limited", 429), ("flaky", 503)])
def test_the_suite_passes_a_correct_server_behind_a_gateway(gated_runs: dict, name: str,
                                                            status: int) -> None:
    done, junit, refused = gated_runs[name]
    assert done.returncode == 0, done.output[-4000:]
    assert refused.get(status, 0) >= 3, f"the gateway hardly refused anything: {refused}"
    line = re.search(rf"diags-kit requests: (\d+) retried after {status}; total wait (\d+) s", done.output)
    assert line is not None, done.output[-2000:]
    assert int(line.group(1)) == refused[status]  # every refusal retried, and counted
    assert f'name="diags_kit_retried_after_{status}" value="{refused[status]}"' in junit
    assert 'name="diags_kit_retry_wait_seconds"' in junit


@pytest.mark.parametrize("name", ["paced", "paced, 2 workers"])
def test_max_rps_keeps_the_suite_under_the_limit(gated_runs: dict, name: str) -> None:
    done, junit, refused = gated_runs[name]
    assert done.returncode == 0, done.output[-4000:]
    assert refused.get(429, 0) == 0, refused
    assert "paced by --max-rps" in done.output
    assert 'name="diags_kit_retries" value="0"' in junit


@pytest.mark.parametrize("break_name", BREAKS_BEHIND_THE_GATEWAY)
def test_breaks_are_caught_behind_the_gateway(gated_runs: dict, break_name: str) -> None:
    done, _, _ = gated_runs[break_name]
    claims, _ = EXPECTED[break_name]
    assert done.returncode == 1, done.output[-4000:]
    named = set(re.findall(r"contract violated: (\w+)", done.output))
    assert named & claims, f"expected one of {sorted(claims)}, got {sorted(named)}:\n{done.output[-4000:]}"
    assert "was still rate-limited" not in done.output and "was still unavailable" not in done.output


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def https_server(certificate_authority: trustme.CA) -> Iterator[gateway.GatedRunning]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    server = gateway.start(TOKEN, tls=context)
    yield server
    server.stop()


def test_the_suite_passes_a_correct_server_over_tls(https_server: gateway.GatedRunning,
                                                    certificate_authority: trustme.CA,
                                                    tmp_path: Path) -> None:
    bundle = tmp_path / "company-ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    done = run_suite(https_server.base_url, "--ca-bundle", str(bundle), token=TOKEN)
    assert https_server.base_url.startswith("https://")
    assert done.returncode == 0, done.output[-4000:]
    assert "passed" in done.output and "failed" not in done.output.splitlines()[-1]


def test_requests_ca_bundle_is_honoured(https_server: gateway.GatedRunning,
                                        certificate_authority: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "company-ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    done = run_suite(https_server.base_url, "-k", "test_unknown_device_is_404", token=TOKEN,
                     env={"REQUESTS_CA_BUNDLE": str(bundle)})
    assert done.returncode == 0, done.output[-3000:]


def test_an_untrusted_certificate_is_one_line(https_server: gateway.GatedRunning) -> None:
    done = run_suite(https_server.base_url, token=TOKEN)
    assert done.returncode == 4, done.output[-3000:]
    assert len(done.lines) == 1 and "TLS" in done.lines[0] and "--ca-bundle" in done.lines[0], done.output


def test_insecure_checks_nothing_and_says_so(https_server: gateway.GatedRunning) -> None:
    done = run_suite(https_server.base_url, "--insecure", "-k", "test_unknown_device_is_404", token=TOKEN)
    assert done.returncode == 0, done.output[-3000:]
    assert "WARNING: --insecure: TLS certificates are NOT checked" in done.output
    assert "WARNING: --insecure: no TLS certificate was checked in this run" in done.output
    assert "InsecureRequestWarning" not in done.output


def _proxy_env(proxy: str, no_proxy: str) -> dict[str, str]:
    """Both spellings: the lower-case one, if the machine has it, would win."""
    return {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": no_proxy, "no_proxy": no_proxy}


def test_the_proxy_of_the_environment_is_used_unless_no_proxy_says_otherwise() -> None:
    server = gateway.start(TOKEN)
    dead_proxy = f"http://127.0.0.1:{live.free_port()}"
    try:
        through_proxy = run_suite(server.base_url, "-k", "test_unknown_device_is_404", token=TOKEN,
                                  env=_proxy_env(dead_proxy, ""))
        bypassed = run_suite(server.base_url, "-k", "test_unknown_device_is_404", token=TOKEN,
                             env=_proxy_env(dead_proxy, "127.0.0.1"))
    finally:
        server.stop()
    assert through_proxy.returncode == 4 and len(through_proxy.lines) == 1, through_proxy.output[-3000:]
    assert "proxy" in through_proxy.lines[0]
    assert bypassed.returncode == 0, bypassed.output[-3000:]


def test_requests_go_through_the_proxy() -> None:
    # The reference server answers a proxy's absolute-URI requests too: it stands in as the proxy for a
    # host that no resolver knows, so every answer the suite gets came through HTTP_PROXY.
    proxy = gateway.start(TOKEN)
    try:
        done = run_suite("http://diags.staging.invalid/api/v1", "-k", "test_unknown_device_is_404",
                         token=TOKEN, env=_proxy_env(f"http://127.0.0.1:{proxy.server.server_port}", ""))
    finally:
        proxy.stop()
    assert done.returncode == 0, done.output[-3000:]
    assert proxy.gate.passed >= 2  # the pre-flight check and the test
