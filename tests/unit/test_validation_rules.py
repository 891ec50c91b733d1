"""The rules the Validate phase judges answers by: what a probe asks, what counts as a route
gone, and which log lines are requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from sunset.aws.execute_api import ProbeAnswer, Prober, invoke_url, probe_request
from sunset.manifest import Evidence, ShutdownValidation
from sunset.phases.validate import request_rule


@pytest.mark.parametrize(
    ("route_key", "expected"),
    [
        ("POST /v1/chat", ("POST", "/v1/chat")),
        ("GET /v1/items/{id}", ("GET", "/v1/items/sunset-probe")),
        ("ANY /{proxy+}", ("GET", "/sunset-probe")),
        ("$default", ("GET", "/")),
    ],
)
def test_a_probe_asks_for_a_path_the_route_serves(route_key: str, expected: Any) -> None:
    assert probe_request(route_key) == expected


def test_invoke_urls_carry_the_stage_except_default() -> None:
    assert invoke_url("a1", "eu-west-1", "$default", "/v1") == (
        "https://a1.execute-api.eu-west-1.amazonaws.com/v1"
    )
    assert invoke_url("a1", "eu-west-1", "prod", "/v1") == (
        "https://a1.execute-api.eu-west-1.amazonaws.com/prod/v1"
    )


MISSING = "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    ("api", "answer", "gone"),
    [
        ("http", ProbeAnswer(None, error="connection refused"), True),
        ("http", ProbeAnswer(404, '{"message":"Not Found"}'), True),
        # an HTTP API answers 403 only for a route that is there and refused the caller
        (
            "http",
            ProbeAnswer(403, '{"message":"Forbidden"}', error_type="ForbiddenException"),
            False,
        ),
        ("http", ProbeAnswer(401, '{"message":"Unauthorized"}'), False),
        ("http", ProbeAnswer(200, '{"answer":"hello"}'), False),
        ("http", ProbeAnswer(302, ""), False),
        ("rest", ProbeAnswer(404, '{"message":"shut down"}'), True),
        (
            "rest",
            ProbeAnswer(403, '{"message":"Missing Authentication Token"}', None, MISSING),
            True,
        ),
        ("rest", ProbeAnswer(403, '{"message":"Missing Authentication Token"}'), True),
        ("rest", ProbeAnswer(403, '{"message":"User: x is not authorized to perform: e"}'), False),
        (
            "rest",
            ProbeAnswer(403, '{"message":"Forbidden"}', error_type="ForbiddenException"),
            False,
        ),
        ("rest", ProbeAnswer(502, '{"message":"Internal server error"}'), False),
    ],
)
def test_only_not_found_the_missing_token_or_silence_show_a_route_gone(
    api: Any, answer: ProbeAnswer, gone: bool
) -> None:
    assert answer.shows_route_gone(api) is gone


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.seen.append(dict(self.headers.items()))
        self.send_response(302)
        self.send_header("Location", "https://elsewhere.example.com/")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_probe_is_signed_keeps_the_invoke_host_and_reports_a_redirect(local_server: str) -> None:
    # Given
    prober = Prober(Credentials("AKIDEXAMPLE", "secret"), "us-east-1", local_server)
    url = invoke_url("abc123", "us-east-1", "prod", "/v1/chat")
    # When
    answer = prober.send("POST", url)
    # Then the redirect is the answer, not followed
    assert answer.status == 302 and not answer.shows_route_gone("rest")
    headers = _Recorder.seen[-1]
    assert headers["Host"] == "abc123.execute-api.us-east-1.amazonaws.com"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/execute-api/aws4_request" in headers["Authorization"]


def test_no_answer_is_reported_not_raised() -> None:
    # Given a port nothing listens on
    with HTTPServer(("127.0.0.1", 0), _Recorder) as closed:
        port = closed.server_address[1]
    prober = Prober(None, "us-east-1", f"http://127.0.0.1:{port}", timeout_seconds=2)
    # When
    answer = prober.send("GET", invoke_url("abc123", "us-east-1", "$default", "/"))
    # Then
    assert answer.status is None and answer.error
    assert answer.shows_route_gone("http")


@pytest.mark.parametrize(
    ("group", "line", "is_request"),
    [
        ("/aws/sagemaker/Endpoints/llm", '"POST /invocations HTTP/1.1" 200', True),
        ("/aws/sagemaker/Endpoints/llm", '"GET /ping HTTP/1.1" 200', False),
        ("/aws/sagemaker/Endpoints/llm", "worker shutting down", False),
        ("/aws/lambda/router", "START RequestId: 1f Version: $LATEST", True),
        ("/aws/lambda/router", "END RequestId: 1f", False),
        ("/aws/apigateway/access", '{"status": "200", "routeKey": "POST /v1/chat"}', True),
        ("/aws/apigateway/access", '{"status": 404}', False),
        (
            "/aws/apigateway/access",
            '10.0.0.1 - - [25/Nov/2026] "POST /v1/chat HTTP/1.1" 200 12',
            True,
        ),
        (
            "/aws/apigateway/access",
            '10.0.0.1 - - [25/Nov/2026] "POST /v1/chat HTTP/1.1" 404 9',
            False,
        ),
        ("/chat/app", '{"level": "INFO", "msg": "shutting down"}', False),
        ("/chat/app", "served a completion", False),
    ],
)
def test_which_log_lines_are_requests(group: str, line: str, is_request: bool) -> None:
    _words, test = request_rule(group)
    assert test(line) is is_request


def test_each_check_gets_a_verdict_from_its_answers() -> None:
    # Given
    at = datetime(2026, 11, 25, 12, tzinfo=UTC)

    def answer(check: Any, passed: bool) -> Evidence:
        return Evidence(check=check, subject="s", asked="a", answer="x", passed=passed, at=at)

    validation = ShutdownValidation(
        checks=["endpoints", "routes", "probes", "traffic", "logs"],
        access_cut_at=at,
        compute_stopped_at=at,
        quiet_until=at,
        deadline=at,
        evidence=[answer("endpoints", True), answer("routes", False), answer("probes", True)],
        skipped={"probes": "capped", "traffic": "no quiet period"},
    )
    # Then before the checks ran, nothing is claimed
    assert set(validation.verdicts().values()) == {"not run"} and not validation.proven
    # and once they ran, each check is judged by its own answers
    validation.settled_at = at
    assert validation.verdicts() == {
        "endpoints": "passed",
        "routes": "FAILED",
        "probes": "partly checked",
        "traffic": "not checked",
        "logs": "not checked",
    }
    assert not validation.proven
