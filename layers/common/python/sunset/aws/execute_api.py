"""API Gateway invoke URLs, and the HTTP probe the Validate phase sends to them.

A probe asks what a client would find: does anything still answer on this route? It carries no
body and no token. A route that is gone answers 404 on an HTTP API, and 403 with the error type
MissingAuthenticationTokenException on a REST API (or 404 from Sunset's tombstone). A route that
is still there answers with the model's answer, its authorizer's refusal (401, or 403 with
another error type), a throttle or a 5xx: all of those mean alive. Probes are signed with SigV4
because an unsigned request to a REST method that is still there but IAM-protected gets the same
MissingAuthenticationToken 403 as a missing one; signed, it gets AccessDenied ("... is not
authorized to perform: execute-api:Invoke"), which tells them apart.

`endpoint` replaces https://{api}.execute-api.{region}.amazonaws.com with another base URL and
keeps the real host in the Host header, as AWS_ENDPOINT_URL does for boto3. The sandbox points
it at its local stand-in (sunset.local.invoke_urls); on AWS it is unset.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

PROBE_VALUE = "sunset-probe"
# API Gateway ends every integration after at most 30 s (29 s on REST APIs) and answers 504, so a
# route that is still there always answers within this; silence means nothing is there.
PROBE_TIMEOUT_SECONDS = 35.0
MISSING_TOKEN = "MissingAuthenticationTokenException"
ApiKind = Literal["http", "rest"]
_BODY_EXCERPT = 300
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def invoke_host(api_id: str, region: str) -> str:
    """The host clients call an API on (every stage shares it)."""
    return f"{api_id}.execute-api.{region}.amazonaws.com"


def invoke_url(api_id: str, region: str, stage: str, path: str) -> str:
    """The URL a client calls for `path` on `stage` ($default has no stage prefix)."""
    prefix = "" if stage == "$default" else f"/{stage}"
    return f"https://{invoke_host(api_id, region)}{prefix}{path}"


def probe_request(route_key: str) -> tuple[str, str]:
    """The method and path that reach a route: 'POST /v1/chat/{id}' -> POST /v1/chat/sunset-probe.
    A route that takes any method is probed with GET; the $default route with GET /."""
    if route_key == "$default":
        return "GET", "/"
    verb, _, path = route_key.partition(" ")
    return ("GET" if verb == "ANY" else verb), _PATH_PARAMETER.sub(PROBE_VALUE, path or "/")


@dataclass(frozen=True)
class ProbeAnswer:
    """What came back: a status, API Gateway's error type and the start of the body, or no
    answer at all."""

    status: int | None
    body: str = ""
    error: str | None = None
    error_type: str | None = None

    def shows_route_gone(self, api: ApiKind) -> bool:
        """No answer, or the answer API Gateway gives for a route that is not there."""
        if self.status is None or self.status == 404:
            return True
        if api == "http" or self.status != 403:
            return False
        if self.error_type:
            return self.error_type.startswith(MISSING_TOKEN)
        return "Missing Authentication Token" in self.body

    def describe(self) -> str:
        """The answer in one line, as the report shows it."""
        if self.status is None:
            return f"no answer ({self.error})"
        kind = f" [{self.error_type.split(':')[0]}]" if self.error_type else ""
        return f"HTTP {self.status}{kind} {self.body}".strip()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer: report it instead of following it somewhere else.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Prober:
    """Sends signed, body-less requests to invoke URLs and reports what answered."""

    def __init__(
        self,
        credentials: Any,
        region: str,
        endpoint: str | None = None,
        timeout_seconds: float = PROBE_TIMEOUT_SECONDS,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._timeout = timeout_seconds
        handlers: list[Any] = [_NoRedirects()]
        if self._endpoint:
            # A local stand-in must never be reached through the machine's HTTP proxy.
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def _signed_headers(self, method: str, url: str) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, headers={"User-Agent": "sunset-probe"})
        if self._credentials is not None:
            frozen = self._credentials.get_frozen_credentials()
            SigV4Auth(frozen, "execute-api", self._region).add_auth(request)
        return {name: str(value) for name, value in request.headers.items()}

    def send(self, method: str, url: str) -> ProbeAnswer:
        """One request to `url`; any failure to get an answer is reported, never raised."""
        headers = self._signed_headers(method, url)
        target = url
        if self._endpoint:
            parts = urlsplit(url)
            target = self._endpoint + parts.path + (f"?{parts.query}" if parts.query else "")
            headers["Host"] = parts.netloc
        request = urllib.request.Request(target, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _answer(response.status, response.headers, response.read(_BODY_EXCERPT))
        except urllib.error.HTTPError as exc:
            with exc:
                return _answer(exc.code, exc.headers, exc.read(_BODY_EXCERPT))
        except OSError as exc:  # URLError, timeouts and refused connections alike
            reason = getattr(exc, "reason", exc)
            return ProbeAnswer(None, error=str(reason) or type(exc).__name__)
        except http.client.HTTPException as exc:  # a connection cut mid-answer
            return ProbeAnswer(None, error=f"{type(exc).__name__}: {exc}")


def _answer(status: int, headers: Any, body: bytes) -> ProbeAnswer:
    error_type = headers.get("x-amzn-ErrorType") if headers is not None else None
    return ProbeAnswer(status, _excerpt(body), error_type=error_type)


def _excerpt(body: bytes) -> str:
    return " ".join(body.decode("utf-8", errors="replace").split())
