"""API Gateway invoke URLs, and the HTTP probe the Validate phase sends to them.

A probe asks what a client would find: does anything still answer on this route? It carries no
body and no token, so a route that is still there answers with its authorizer's refusal or with
the model's answer, and a route that is gone answers 404 (HTTP APIs) or 403 "Missing
Authentication Token" (REST APIs). Probes are signed with SigV4 because an unsigned request to a
REST method that is still there but IAM-protected gets that same 403 as a missing one; signed,
it gets "... is not authorized to perform: execute-api:Invoke", which tells them apart.

`endpoint` replaces https://{api}.execute-api.{region}.amazonaws.com with another base URL and
keeps the real host in the Host header, as AWS_ENDPOINT_URL does for boto3. The sandbox points
it at its local stand-in (sunset.local.invoke_urls); on AWS it is unset.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

PROBE_VALUE = "sunset-probe"
_BODY_EXCERPT = 300
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def invoke_host(api_id: str, region: str) -> str:
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
    """What came back: a status and the start of the body, or no answer at all."""

    status: int | None
    body: str = ""
    error: str | None = None

    def shows_route_gone(self) -> bool:
        """404 or no answer: gone. 403 too (what REST APIs answer for a path they do not know),
        unless it says the signed probe is not authorized: then an IAM-protected route is there
        and refused it. Anything else (an answer, a redirect, 401, 5xx) is a route still there."""
        if self.status is None or self.status == 404:
            return True
        return self.status == 403 and "not authorized to perform" not in self.body

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return f"HTTP {self.status} {self.body}".strip()


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
        timeout_seconds: float = 5.0,
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
                return ProbeAnswer(response.status, _excerpt(response.read(_BODY_EXCERPT)))
        except urllib.error.HTTPError as exc:
            with exc:
                return ProbeAnswer(exc.code, _excerpt(exc.read(_BODY_EXCERPT)))
        except OSError as exc:  # URLError, timeouts and refused connections alike
            reason = getattr(exc, "reason", exc)
            return ProbeAnswer(None, error=str(reason) or type(exc).__name__)


def _excerpt(body: bytes) -> str:
    return " ".join(body.decode("utf-8", errors="replace").split())
