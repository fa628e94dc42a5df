"""Fuzzing the app with hypothesis: raw request pieces and bodies never give a 5xx or an exception.

Each property runs a bounded number of examples against one app, so the module stays a few seconds.
A request is built as a WSGI server would hand it over (``environ`` from raw bytes), or through the
test client for bodies; every answer must be below 500, an error must be a JSON body, and nothing
may be logged at ERROR (the app logs every crash it turns into a 500).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listing import RESOURCE
from werkzeug.test import run_wsgi_app

import fixtures
from mockserver import create_app

TOKEN = "fuzz-token"
AUTHORIZATION = f"Bearer {TOKEN}"
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- Strategies -------------------------------------------------------------------------------------------

latin1_text = st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
#: What a header value can hold once a server has parsed it: any byte but the line ends.
header_text = st.binary(max_size=200).map(
    lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "device-12345", "health_check", "critical", "a@b.co"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
diagnostics = st.fixed_dictionaries(
    {
        "device_id": st.sampled_from([fixtures.DOCUMENTED_DEVICE_ID, "device-nope", ""]) | json_values,
        "diagnostic_type": st.sampled_from(["health_check", "maintenance", "issue_report", ""]) | json_values,
    },
    optional={
        "status": json_values,
        "details": json_values,
        "issues": st.lists(
            st.fixed_dictionaries(
                {
                    "severity": st.sampled_from(["low", "high", "bad"]),
                    "message": json_values,
                    "code": json_values,
                }
            ),
            max_size=3,
        )
        | json_values,
        "priority": st.sampled_from(["low", "medium", "high", "critical", "urgent"]) | json_values,
        "reported_by": st.sampled_from(["tech@company.com", "not-an-email"]) | json_values,
        "notes": json_values,
        "id": json_values,
        "data": json_values,
    },
)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/vnd.api+json",
            "*/*",
        ]
    )
    | header_text
)
methods = st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", "TRACE"]) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10
)
paths = st.sampled_from(
    [RESOURCE, RESOURCE.rstrip("/"), "/api/v1/", "/api/v1/docs/", "/", "/__admin/state"]
) | (
    st.tuples(st.sampled_from(["", RESOURCE, "/api/v1/"]), st.binary(max_size=60)).map(
        lambda pair: pair[0] + pair[1].decode("latin-1")
    )
)
queries = (
    st.lists(
        st.tuples(st.sampled_from(["id", "limit", "offset", "update_status", "x"]), latin1_text), max_size=5
    ).map(lambda pairs: "&".join(f"{key}={value}" for key, value in pairs))
    | latin1_text
)
header_names = st.sampled_from(
    [
        "Authorization",
        "Content-Type",
        "Content-Length",
        "Accept",
        "Host",
        "Transfer-Encoding",
        "X-Forwarded-For",
        "Cookie",
        "Range",
    ]
) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
authorizations = st.sampled_from([AUTHORIZATION, f"bearer {TOKEN}", "Bearer", "", "Basic eA=="]) | latin1_text


# --- The app, and what every answer must be ---------------------------------------------------------------


class ErrorRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def app() -> Flask:
    # TESTING: an exception that escaped the app's handlers would reach the test rather than become a page.
    return create_app({"TESTING": True, "DIAGS_TOKENS": [TOKEN]})


@pytest.fixture(scope="module")
def errors() -> Iterator[ErrorRecorder]:
    recorder = ErrorRecorder()
    logger = logging.getLogger("mockserver")
    logger.addHandler(recorder)
    yield recorder
    logger.removeHandler(recorder)


def assert_sound(status: int, headers: Any, body: bytes, method: str, recorder: ErrorRecorder) -> None:
    assert status < 500, body[:300]
    assert not recorder.messages, recorder.messages
    if status >= 400 and method != "HEAD":
        assert headers.get("Content-Type") == "application/json", (status, headers)
        document = json.loads(body)
        assert isinstance(document, dict) and isinstance(document["detail"], str) and document["detail"]


# --- Properties -------------------------------------------------------------------------------------------


@FUZZ
@given(body=st.binary(max_size=3000), content_type=content_types)
def test_any_body_bytes(app: Flask, errors: ErrorRecorder, body: bytes, content_type: str) -> None:
    response = app.test_client().post(
        RESOURCE, data=body, headers={"Authorization": AUTHORIZATION, "Content-Type": content_type}
    )
    assert response.status_code in {201, 400, 404, 413, 422}
    assert_sound(response.status_code, response.headers, response.get_data(), "POST", errors)


@FUZZ
@given(document=diagnostics | json_values, wrapped=st.sampled_from(["no", "json", "form"]))
def test_any_json_document(app: Flask, errors: ErrorRecorder, document: Any, wrapped: str) -> None:
    text = json.dumps(document)
    client = app.test_client()
    headers = {"Authorization": AUTHORIZATION}
    if wrapped == "form":
        response = client.post(RESOURCE, data={"data": text}, headers=headers)
    else:
        body = json.dumps({"data": text}) if wrapped == "json" else text
        response = client.post(RESOURCE, data=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code in {201, 400, 404, 422}
    assert_sound(response.status_code, response.headers, response.get_data(), "POST", errors)
    if response.status_code == 201:
        created = response.get_json()
        assert created["device_id"] == fixtures.DOCUMENTED_DEVICE_ID


@FUZZ
@given(
    method=methods,
    path=paths,
    query=queries,
    authorization=authorizations,
    headers=st.dictionaries(header_names, latin1_text, max_size=6),
    body=st.binary(max_size=500),
    chunked=st.booleans(),
)
def test_any_raw_request(
    app: Flask,
    errors: ErrorRecorder,
    method: str,
    path: str,
    query: str,
    authorization: str,
    headers: dict[str, str],
    body: bytes,
    chunked: bool,
) -> None:
    # The environ as a WSGI server builds it from the bytes on the wire: latin-1 strings throughout.
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if chunked:
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    answer, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    assert_sound(int(status.split()[0]), response_headers, b"".join(answer), method, errors)
