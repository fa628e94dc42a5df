"""CORS for browser dashboards: off by default, preflights answered for the configured origins only."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from listing import RESOURCE

from mockserver import create_app
from mockserver.serving import cli

DASHBOARD = "http://localhost:3000"
PREFLIGHT = {"Origin": DASHBOARD, "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "authorization"}


def build(app_config: dict[str, Any], origins: list[str]) -> FlaskClient:
    return create_app({"TESTING": True, **app_config, "DIAGS_CORS_ORIGINS": origins}).test_client()


def test_without_origins_there_is_no_cors(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.options(RESOURCE, headers=PREFLIGHT).status_code == 401
    answer = client.get(RESOURCE, headers={**auth, "Origin": DASHBOARD})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_an_allowed_origins_preflight_is_answered_without_a_token(app_config: dict[str, Any]) -> None:
    answer = build(app_config, [DASHBOARD]).options(RESOURCE, headers=PREFLIGHT)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "GET" in answer.headers["Access-Control-Allow-Methods"]
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"] == "authorization"
    assert int(answer.headers["Access-Control-Max-Age"]) > 0


def test_answers_to_an_allowed_origin_are_labelled_errors_included(
    app_config: dict[str, Any], auth: dict[str, str]
) -> None:
    client = build(app_config, ["http://other.example", DASHBOARD])
    for answer in (client.get(RESOURCE, headers={**auth, "Origin": DASHBOARD}),
                   client.get(RESOURCE, headers={"Origin": DASHBOARD})):
        assert answer.headers["Access-Control-Allow-Origin"] == DASHBOARD
        assert "Origin" in answer.headers["Vary"]
        assert "WWW-Authenticate" in answer.headers["Access-Control-Expose-Headers"]


def test_other_origins_get_no_cors_headers(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    client = build(app_config, [DASHBOARD])
    stranger = {"Origin": "http://evil.example"}
    assert client.options(RESOURCE, headers={**PREFLIGHT, **stranger}).status_code == 401
    assert "Access-Control-Allow-Origin" not in client.get(RESOURCE, headers={**auth, **stranger}).headers


def test_a_star_allows_any_origin(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    answer = build(app_config, ["*"]).get(RESOURCE, headers={**auth, "Origin": "http://any.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_origins_come_from_the_option_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def settings(*options: str) -> list[str]:
        args = cli.build_parser().parse_args(["serve", *options])
        origins: list[str] = cli.app_config(args)["DIAGS_CORS_ORIGINS"]
        return origins

    assert settings() == []
    assert settings("--cors-origin", DASHBOARD, "--cors-origin", "*") == [DASHBOARD, "*"]
    monkeypatch.setenv("DIAGS_CORS_ORIGINS", f"{DASHBOARD}, http://b.example")
    assert settings() == [DASHBOARD, "http://b.example"]
