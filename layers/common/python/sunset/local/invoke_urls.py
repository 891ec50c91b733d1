"""A local stand-in for API Gateway invoke URLs, answering from moto's route tables.

Validation proves a route is gone by calling its invoke URL and expecting 403, 404 or no answer.
moto has no server behind `https://{api}.execute-api.{region}.amazonaws.com`, and a probe that
never leaves the process would prove nothing, so while the sandbox runs this module serves those
URLs on a real socket (127.0.0.1, a free port). Probes send their requests to `base_url` (the
sandbox puts it in SUNSET_EXECUTE_API_ENDPOINT) with the real invoke host in the Host header, and
get what API Gateway would answer, read from moto's state at that moment:

- HTTP APIs: a stage with auto-deploy serves the API's current routes; a pinned stage serves the
  routes of its deployment (recorded by http_deployments.py), so a route deleted from the API but
  not redeployed to the pinned stage still answers;
- REST APIs: a stage serves the deployment it points at, never the live resource tree, because on
  AWS a change takes effect only once redeployed. moto does not snapshot the API at
  CreateDeployment, so while the stand-in is installed every new deployment records its methods.

Nothing real runs behind a route: a reachable one answers 401/403 as its authorization would, a
MOCK integration answers its integration response, anything else a canned model answer.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from sunset.local.http_deployments import current_routes, deployment_routes

ENDPOINT_VARIABLE = "SUNSET_EXECUTE_API_ENDPOINT"
MODEL_ANSWER = "sandbox model answer"

_HOST = re.compile(
    r"^(?P<api_id>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?::\d+)?$"
)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    error_type: str | None = None  # API Gateway's x-amzn-ErrorType header


def _message(status: int, message: str, error_type: str | None = None) -> Answer:
    return Answer(status, json.dumps({"message": message}), error_type)


_FORBIDDEN = _message(403, "Forbidden", "ForbiddenException")
_NOT_FOUND = _message(404, "Not Found", "NotFoundException")
_UNAUTHORIZED = _message(401, "Unauthorized", "UnauthorizedException")
# What a REST API answers for a path or method its deployment does not have (and for an
# unsigned request to an AWS_IAM method): the error type is what tells it apart.
_NO_TOKEN = _message(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
_INTERNAL = _message(500, "Internal server error", "InternalServerErrorException")


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return [unquote(part) for part in stripped.split("/")] if stripped else []


def _specificity(template: str, path: str) -> tuple[int, int, int] | None:
    """How closely a route's path template matches `path` (higher wins), None if not at all.

    `{name}` takes one segment, `{name+}` the rest (one segment at least); as on API Gateway a
    route without a greedy variable beats one with, then literal segments beat variables.
    """
    wanted, got = _segments(template), _segments(path)
    literal = single = 0
    for i, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            if i != len(wanted) - 1 or len(got) <= i:
                return None
            return (0, literal, single)
        if i >= len(got):
            return None
        if part.startswith("{") and part.endswith("}"):
            single += 1
        elif part != got[i]:
            return None
        else:
            literal += 1
    if len(wanted) != len(got):
        return None
    return (1, literal, single)


def _best(
    candidates: list[tuple[str, str, Any]], verb: str, path: str
) -> tuple[str, str, Any] | None:
    """The (verb, path template, payload) that serves `verb path`, None if none does."""
    ranked: list[tuple[tuple[int, int, int], int, tuple[str, str, Any]]] = []
    for candidate in candidates:
        wanted_verb, template, _ = candidate
        if wanted_verb not in (verb, "ANY"):
            continue
        score = _specificity(template, path)
        if score is not None:
            ranked.append((score, int(wanted_verb == verb), candidate))
    if not ranked:
        return None
    return max(ranked, key=lambda ranked_one: (ranked_one[0], ranked_one[1]))[2]


def _rest_path(resources: Mapping[str, Any], resource: Any) -> str | None:
    parts: list[str] = []
    current = resource
    for _ in range(len(resources) + 1):
        if current.parent_id is None:
            return "/" + "/".join(reversed(parts))
        parts.append(current.path_part)
        current = resources.get(current.parent_id)
        if current is None:
            # moto's DeleteResource leaves the children behind, parentless (AWS deletes them):
            # they are unreachable, so they are not part of what a deployment serves.
            return None
    return None


def rest_methods(api: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """What a REST API serves now: path -> verb -> authorization, integration type, and for
    MOCK integrations their responses. Deep copies: later changes to the API do not reach it."""
    resources = dict(api.resources)
    served: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in resources.values():
        path = _rest_path(resources, resource)
        if path is None or not resource.resource_methods:
            continue
        for verb, method in dict(resource.resource_methods).items():
            integration = method.method_integration
            kind = integration.integration_type if integration is not None else None
            responses = []
            if kind == "MOCK":
                for response in (integration.integration_responses or {}).values():
                    responses.append(
                        {
                            "statusCode": str(response.status_code),
                            "selectionPattern": response.selection_pattern,
                            "responseTemplates": response.response_templates,
                        }
                    )
            served.setdefault(path, {})[verb] = {
                "authorizationType": method.authorization_type or "NONE",
                "integrationType": kind,
                "integrationResponses": responses,
            }
    return copy.deepcopy(served)


def _mock_answer(responses: list[dict[str, Any]]) -> Answer:
    # The default integration response is the one without a selection pattern.
    chosen = next((r for r in responses if not r.get("selectionPattern")), None)
    if chosen is None and len(responses) == 1:
        chosen = responses[0]
    if chosen is None:
        # A MOCK without a usable integration response fails on AWS the same way.
        return _INTERNAL
    body = (chosen.get("responseTemplates") or {}).get("application/json") or ""
    return Answer(int(chosen["statusCode"]), body)


class _Server(ThreadingHTTPServer):
    # A probe left hanging must not keep the test process alive.
    daemon_threads = True

    def __init__(self, stand_in: InvokeUrls) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stand_in = stand_in


class _Handler(BaseHTTPRequestHandler):
    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        server = self.server
        assert isinstance(server, _Server)
        try:
            answer = server.stand_in.answer(self.command, self.path, dict(self.headers.items()))
        except Exception:
            # moto's state is read from this thread while the test thread changes it; an error
            # here must reach the log and the probe (as API Gateway's 500), not kill the server.
            _log.exception("sandbox invoke URL stand-in failed on %s %s", self.command, self.path)
            answer = _INTERNAL
        body = answer.body.encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if answer.error_type:
            self.send_header("x-amzn-ErrorType", answer.error_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _reply

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes every request to stderr, which would drown test output.
        pass


class InvokeUrls:
    """The stand-in for `https://{api_id}.execute-api.{region}.amazonaws.com`, at `base_url`."""

    def __init__(self) -> None:
        self.base_url: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._originals: list[tuple[type, str, Any]] = []

    # ---------------------------------------------------------------- lifecycle
    def install(self) -> None:
        from moto.apigateway.models import APIGatewayBackend

        # moto's Deployment holds only an id, a stage name and a description; its own answer to
        # the real invoke URL (a `responses` callback it registers at CreateDeployment, reached
        # only through the `requests` library) walks the live resource tree. Hence the snapshot.
        create: Any = APIGatewayBackend.create_deployment

        def create_deployment(backend: Any, function_id: str, *args: Any, **kwargs: Any) -> Any:
            deployment = create(backend, function_id, *args, **kwargs)
            deployment.sandbox_methods = rest_methods(backend.get_rest_api(function_id))
            return deployment

        self._patch(APIGatewayBackend, "create_deployment", create_deployment)

        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        # A short poll: shutdown() waits for serve_forever to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-invoke-urls",
            daemon=True,
        )
        self._thread.start()

    def _patch(self, owner: type, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def uninstall(self) -> None:
        if self._server is not None:
            # shutdown() waits for serve_forever to notice, so only when it is running.
            if self._thread is not None and self._thread.is_alive():
                self._server.shutdown()
                self._thread.join()
            self._server.server_close()
        self._server = None
        self._thread = None
        self.base_url = None
        while self._originals:
            owner, name, original = self._originals.pop()
            setattr(owner, name, original)

    # ---------------------------------------------------------------- answers
    def answer(self, verb: str, target: str, headers: Mapping[str, str]) -> Answer:
        """What API Gateway would answer to `verb target` with these headers."""
        from moto.apigateway.models import apigateway_backends
        from moto.apigatewayv2.models import apigatewayv2_backends

        headers = {name.lower(): value for name, value in headers.items()}
        found = _HOST.match((headers.get("host") or "").strip().lower())
        if found is None:
            return _FORBIDDEN
        api_id, region = found["api_id"], found["region"]
        path = urlsplit(target).path or "/"
        authorization = (headers.get("authorization") or "").strip()
        # The host names no account: API ids are unique across accounts, so look in each one
        # moto holds (a run's target is another account than the sandbox's own).
        for account in list(apigatewayv2_backends):
            try:
                http_apis = apigatewayv2_backends[account][region].apis
                rest_apis = apigateway_backends[account][region].apis
            except KeyError:  # not a region moto knows
                return _FORBIDDEN
            http_api = http_apis.get(api_id)
            if http_api is not None and http_api.protocol_type == "HTTP":
                return self._http_api(http_api, region, verb, path, authorization)
            rest_api = rest_apis.get(api_id)
            if rest_api is not None:
                return self._rest_api(rest_api, account, region, verb, path, authorization)
        # WebSocket APIs too: they are not reached over plain HTTP requests.
        return _FORBIDDEN

    def _not_authorized(
        self, account: str, region: str, api_id: str, stage: str, verb: str, path: str
    ) -> Answer:
        # The probe signs as a role that may not invoke anything: a signed request proves the
        # route exists, never runs it.
        return _message(
            403,
            f"User: arn:aws:sts::{account}:assumed-role/sandbox/probe is not authorized "
            f"to perform: execute-api:Invoke on resource: "
            f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{verb}{path}",
            "AccessDeniedException",
        )

    def _http_api(self, api: Any, region: str, verb: str, path: str, authorization: str) -> Answer:
        stages = dict(api.stages)
        segments = _segments(path)
        if segments and segments[0] != "$default" and segments[0] in stages:
            stage_name = segments[0]
            inner = "/" + "/".join(segments[1:])
        elif "$default" in stages:
            stage_name, inner = "$default", path
        else:
            return _NOT_FOUND
        stage = stages[stage_name]
        if stage.auto_deploy:
            routes = current_routes(api)
        else:
            routes = deployment_routes(api, stage.config.get("deploymentId")) or []
        candidates: list[tuple[str, str, Any]] = []
        fallback = None
        for route in routes:
            key = route["routeKey"] or ""
            if key == "$default":
                fallback = route
                continue
            wanted_verb, _, template = key.partition(" ")
            candidates.append((wanted_verb.upper(), template, route))
        best = _best(candidates, verb, inner)
        route = best[2] if best is not None else fallback
        if route is None:
            return _NOT_FOUND
        kind = route["authorizationType"] or "NONE"
        if kind in ("JWT", "CUSTOM"):
            # Any bearer token passes: the sandbox has no issuer to check it against.
            if not authorization.lower().startswith("bearer "):
                return _UNAUTHORIZED
        elif kind == "AWS_IAM":
            # HTTP APIs refuse an unsigned or unauthorised caller alike, with a bare Forbidden.
            return _FORBIDDEN
        return Answer(200, json.dumps({"answer": MODEL_ANSWER, "route": route["routeKey"]}))

    def _rest_api(
        self, api: Any, account: str, region: str, verb: str, path: str, authorization: str
    ) -> Answer:
        segments = _segments(path)
        stage = dict(api.stages).get(segments[0]) if segments else None
        if stage is None:
            return _FORBIDDEN
        inner = "/" + "/".join(segments[1:])
        deployment = dict(api.deployments).get(stage.deployment_id or "")
        # A deployment made before the stand-in was installed has no snapshot; what it served
        # is unknown, so it serves nothing rather than the live tree.
        served: dict[str, dict[str, dict[str, Any]]] = (
            getattr(deployment, "sandbox_methods", None) or {}
        )
        candidates = [
            (method_verb, resource_path, method)
            for resource_path, methods in served.items()
            for method_verb, method in methods.items()
        ]
        best = _best(candidates, verb, inner)
        if best is None:
            return _NO_TOKEN
        method_verb, template, method = best
        # Authorization before the integration, as on AWS: an IAM-protected MOCK refuses too.
        kind = method["authorizationType"]
        if kind == "AWS_IAM":
            if not authorization.startswith("AWS4-HMAC-SHA256"):
                return _NO_TOKEN
            return self._not_authorized(account, region, api.id, stage.name, verb, inner)
        # A SigV4 signature is no token: an authorizer or a user pool turns it away.
        if kind in ("CUSTOM", "COGNITO_USER_POOLS") and (
            not authorization or authorization.startswith("AWS4-HMAC-SHA256")
        ):
            return _UNAUTHORIZED
        if method["integrationType"] == "MOCK":
            return _mock_answer(method["integrationResponses"])
        return Answer(
            200, json.dumps({"answer": MODEL_ANSWER, "route": f"{method_verb} {template}"})
        )
