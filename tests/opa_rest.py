"""OPA's REST API served from the real OPA engine (``opa_bindings``), for tests of the OPA-server path.

There is no ``opa`` binary on the build machines, so ``serve_opa_rest`` stands in for
``opa run --server``: a threaded stdlib HTTP server on ``127.0.0.1:0`` whose every
decision, parse and compile error comes from OPA's Go engine in-process. Only the part
of the API that ``opa-python-client`` (and so ``fedgate.policy.opa_server``) uses::

    GET    /health                         200 {}
    GET    /v1/policies[/]                 200 {"result": [{"id", "raw", "ast": {"package": …}}]}
    GET    /v1/policies/{id}               200 {"result": {…}} | 404
    PUT    /v1/policies/{id}   (Rego text) 200 {} | 400 compile/parse errors
    DELETE /v1/policies/{id}               200 {} | 404 | 400 if the rest no longer compiles
    GET    /v1/data[/{path}]               200 {"result": …} or {} when undefined
    POST   /v1/data[/{path}]  {"input": …} 200 {"result": …} or {} when undefined
    PUT    /v1/data/{path}    (JSON)       204 | 400 if it conflicts with a rule
    DELETE /v1/data/{path}                 204 | 404

Errors have OPA's shape: ``{"code": "invalid_parameter", "message": "...", "errors": [{"code":
"rego_parse_error", "message": "...", "location": {"file", "row", "col"}}]}``; evaluation
errors are 500 ``internal_error`` as OPA answers them. Every mutation is checked by
compiling the whole candidate state in a fresh engine first, so a rejected write leaves
the state untouched, as in OPA.

Differences from a real OPA that tests must not rely on: no ``ast`` beyond the package
path, no query parameters (``?pretty``, ``?explain``, ``?input``), no ``If-None-Match``,
no decision ids or warnings, and a bearer token is compared verbatim (OPA needs an
authorization policy for that). HTTP/1.0: one request per connection.

Fault injection (``server.faults``, replaceable at any time): a delay before answering,
a fixed error status, dropping the connection without an answer, or a 200 whose body is
not JSON, optionally only for some methods or paths and only so many times.
``server.after_request`` runs after each answered request (to simulate another writer),
``server.requests`` records ``(method, path)`` of every request.

``server.preload(modules, data, roots=("fedgate",))`` stands in for ``opa run --bundle``: the
server holds that bundle from the start, and with ``roots`` the API refuses writes under them
(400 ``invalid_parameter``, "path ... is owned by bundle ...") as OPA protects a bundle's roots.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from opa_bindings.engine import OpaEngine, OpaError

__all__ = ["Faults", "OpaRestServer", "ServerTLS", "serve_opa_rest"]

_ERROR_LINE = re.compile(r"(?P<file>[^\s:]+):(?P<row>\d+): (?P<code>rego_\w+): (?P<message>[^\n]*)")
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)


@dataclass
class Faults:
    """What the server does wrong; ``methods``/``path_prefix`` narrow which requests (default all)."""

    delay_s: float = 0.0
    status: int | None = None  # answer with this status and an OPA-style error body
    drop: bool = False  # read the request, then close the connection without an answer
    malformed: bool = False  # answer 200 application/json with a body that is not JSON
    methods: frozenset[str] | None = None
    path_prefix: str = ""
    times: int | None = None  # only the next this many matching requests (None: all)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def applies(self, method: str, path: str) -> bool:
        """Whether this request is hit (and, with ``times``, use one up)."""
        if not ((self.methods is None or method in self.methods) and path.startswith(self.path_prefix)):
            return False
        with self._lock:
            if self.times is None:
                return True
            if self.times <= 0:
                return False
            self.times -= 1
            return True


@dataclass(frozen=True)
class ServerTLS:
    """HTTPS with ``cert``/``key``; with ``client_ca`` a client certificate from that CA is required."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        if self.client_ca is not None:
            ctx.load_verify_locations(cafile=self.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


class _Rejected(Exception):
    """A request OPA would refuse: the status and OPA's error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


class _OpaState:
    """Policies and the data document, and an engine compiled from exactly them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        #: Roots of a bundle loaded at start (``preload``): the REST API may not write under them.
        self.bundle_roots: tuple[tuple[str, ...], ...] = ()
        self._engine: Any = None

    # -- engine --------------------------------------------------------

    @staticmethod
    def _compile(policies: dict[str, str], data: dict[str, Any]) -> Any:
        """A fresh engine holding ``policies`` and ``data``; raises _Rejected as OPA's API would."""
        engine = OpaEngine()
        try:
            for policy_id, raw in policies.items():
                engine.add_policy(policy_id, raw)
            engine.add_data(data)
            engine.eval_query("true")  # compiles every module (OPA compiles on each write)
        except OpaError as exc:
            engine.close()
            raise _compile_rejection(exc) from None
        return engine

    def replace(self, policies: dict[str, str], data: dict[str, Any]) -> None:
        """Commit a candidate state if it compiles (caller holds the lock)."""
        engine = self._compile(policies, data)
        if self._engine is not None:
            self._engine.close()
        self._engine, self.policies, self.data = engine, policies, data

    def query(self, path: list[str], input_document: Any, has_input: bool) -> dict[str, Any]:
        """``{"result": value}`` of ``data.<path>``, or ``{}`` when undefined (caller holds the lock)."""
        if self._engine is None:
            self.replace(dict(self.policies), dict(self.data))
        ref = "data" + "".join(f"[{json.dumps(segment)}]" for segment in path)
        try:
            rows = self._engine.eval_query(f"x := {ref}", input_document if has_input else None)
        except OpaError as exc:
            raise _Rejected(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"code": "internal_error", "message": f"{exc.code}: {exc.message}"},
            ) from None
        return {"result": rows[0]["x"]} if rows else {}

    def check_writable(self, path: list[str]) -> None:
        """Refuse a write at ``data.<path>`` overlapping a bundle root, as OPA does (lock held)."""
        for root in self.bundle_roots:
            n = min(len(root), len(path))
            if tuple(path[:n]) == root[:n]:
                raise _bad_request(f'path {"/".join(path)} is owned by bundle "{"/".join(root)}"')

    def close(self) -> None:
        with self.lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None


def _compile_rejection(exc: Any) -> _Rejected:
    errors = [
        {
            "code": m["code"],
            "message": m["message"],
            "location": {"file": m["file"], "row": int(m["row"]), "col": 1},
        }
        for m in _ERROR_LINE.finditer(exc.message)
    ]
    if not errors:
        errors = [{"code": "rego_compile_error", "message": exc.message}]
    what = "parsing" if exc.code == "parse_error" else "compiling"
    return _Rejected(
        HTTPStatus.BAD_REQUEST,
        {
            "code": "invalid_parameter",
            "message": f"error(s) occurred while {what} module(s)",
            "errors": errors,
        },
    )


def _not_found(message: str) -> _Rejected:
    return _Rejected(HTTPStatus.NOT_FOUND, {"code": "resource_not_found", "message": message})


def _bad_request(message: str) -> _Rejected:
    return _Rejected(HTTPStatus.BAD_REQUEST, {"code": "invalid_parameter", "message": message})


def _package_names(raw: str) -> list[str]:
    match = _PACKAGE.search(raw)
    return match.group(1).split(".") if match else []


def _package_ast(raw: str) -> dict[str, Any]:
    names = _package_names(raw)
    path = [{"type": "var", "value": "data"}] + [{"type": "string", "value": n} for n in names]
    return {"package": {"path": path}}


def _set_path(document: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of ``document`` with ``value`` at ``path`` (intermediate objects created, as OPA does)."""
    if not path:
        if not isinstance(value, dict):
            raise _bad_request("root document must be an object")
        return dict(value)
    result = dict(document)
    node = result
    for segment in path[:-1]:
        child = node.get(segment)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            raise _not_found(f"storage_not_found_error: {'/'.join(path)}: document does not exist")
        child = dict(child)
        node[segment] = child
        node = child
    node[path[-1]] = value
    return result


def _delete_path(document: dict[str, Any], path: list[str]) -> dict[str, Any]:
    if not path:
        return {}
    result = dict(document)
    node = result
    for segment in path[:-1]:
        child = node.get(segment)
        if not isinstance(child, dict):
            raise _not_found(f"storage_not_found_error: {'/'.join(path)}: document does not exist")
        child = dict(child)
        node[segment] = child
        node = child
    if path[-1] not in node:
        raise _not_found(f"storage_not_found_error: {'/'.join(path)}: document does not exist")
    del node[path[-1]]
    return result


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 10  # socket timeout: a stuck client cannot pin a handler thread for long

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- plumbing ------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        opa = self.server.opa
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        opa.requests.append((method, path))
        faults = opa.faults
        if faults.applies(method, path):
            stopping = bool(faults.delay_s) and opa.stopping.wait(faults.delay_s)
            if stopping or faults.drop:
                self._drop()
                return
            if faults.malformed:
                self._send(HTTPStatus.OK, b'{"result": tru', raw=True)
                return
            if faults.status is not None:
                self._send(faults.status, {"code": "internal_error", "message": "injected fault"})
                return
        if opa.token is not None and self.headers.get("Authorization") != f"Bearer {opa.token}":
            self._send(
                HTTPStatus.UNAUTHORIZED,
                {"code": "unauthorized", "message": "request rejected by administrative policy"},
            )
            return
        try:
            status, answer = self._route(method, path, body)
        except _Rejected as rejected:
            status, answer = rejected.status, rejected.body
        self._send(status, answer)
        if opa.after_request is not None:
            opa.after_request(method, path)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, status: int, answer: Any, *, raw: bool = False) -> None:
        payload = answer if raw else (b"" if answer is None else json.dumps(answer).encode())
        self.send_response(status)
        if answer is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # -- the API -------------------------------------------------------

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        state = self.server.opa.state
        if path == "/health" and method == "GET":
            return HTTPStatus.OK, {}
        if path in ("/v1/policies", "/v1/policies/") and method == "GET":
            with state.lock:
                listing = [
                    {"id": i, "raw": raw, "ast": _package_ast(raw)}
                    for i, raw in sorted(state.policies.items())
                ]
            return HTTPStatus.OK, {"result": listing}
        if path.startswith("/v1/policies/"):
            return self._policy(method, unquote(path.removeprefix("/v1/policies/")), body)
        if path == "/v1/data" or path.startswith("/v1/data/"):
            segments = [unquote(s) for s in path.removeprefix("/v1/data").split("/") if s]
            return self._data(method, segments, body)
        raise _not_found(f"no such endpoint: {method} {path}")

    def _policy(self, method: str, policy_id: str, body: bytes) -> tuple[int, Any]:
        state = self.server.opa.state
        with state.lock:
            if method == "GET":
                if policy_id not in state.policies:
                    raise _not_found(
                        f"storage_policy_not_found: The policy with id {policy_id} does not exist"
                    )
                raw = state.policies[policy_id]
                return HTTPStatus.OK, {"result": {"id": policy_id, "raw": raw, "ast": _package_ast(raw)}}
            if method == "PUT":
                try:
                    raw = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise _bad_request("policy is not UTF-8") from None
                state.check_writable(_package_names(raw))
                if policy_id in state.policies:
                    state.check_writable(_package_names(state.policies[policy_id]))
                state.replace({**state.policies, policy_id: raw}, state.data)
                return HTTPStatus.OK, {}
            if method == "DELETE":
                if policy_id not in state.policies:
                    raise _not_found(
                        f"storage_policy_not_found: The policy with id {policy_id} does not exist"
                    )
                state.check_writable(_package_names(state.policies[policy_id]))
                rest = {i: raw for i, raw in state.policies.items() if i != policy_id}
                state.replace(rest, state.data)
                return HTTPStatus.OK, {}
        raise _Rejected(HTTPStatus.METHOD_NOT_ALLOWED, {"code": "invalid_parameter", "message": "bad method"})

    def _data(self, method: str, segments: list[str], body: bytes) -> tuple[int, Any]:
        state = self.server.opa.state
        if method in ("POST", "PUT"):
            try:
                document = json.loads(body) if body else None
            except ValueError as exc:
                raise _bad_request(f"body contains malformed input document: {exc}") from None
        with state.lock:
            if method == "GET":
                return HTTPStatus.OK, state.query(segments, None, has_input=False)
            if method == "POST":
                has_input = isinstance(document, dict) and "input" in document
                input_document = document["input"] if isinstance(document, dict) and has_input else None
                return HTTPStatus.OK, state.query(segments, input_document, has_input)
            if method == "PUT":
                state.check_writable(segments)
                state.replace(state.policies, _set_path(state.data, segments, document))
                return HTTPStatus.NO_CONTENT, None
            if method == "DELETE":
                state.check_writable(segments)
                state.replace(state.policies, _delete_path(state.data, segments))
                return HTTPStatus.NO_CONTENT, None
        raise _Rejected(HTTPStatus.METHOD_NOT_ALLOWED, {"code": "invalid_parameter", "message": "bad method"})


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close joins every handler thread
    request_queue_size = 128  # socketserver's 5 drops concurrent connects (the client re-sends SYN after 1 s)
    opa: OpaRestServer

    def __init__(self, opa: OpaRestServer, tls: ServerTLS | None) -> None:
        self.opa = opa
        self._tls = tls.context() if tls is not None else None
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self._tls is not None:
            # The handshake runs in the handler thread, on first read: a client that never
            # completes it cannot stall the accept loop.
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._open_lock:
            self._open.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Failed handshakes (wrong CA, no client certificate) and clients that went away are
        # expected in these tests; count them instead of printing tracebacks.
        self.opa.connection_errors += 1

    def abort_open_connections(self) -> None:
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@dataclass
class OpaRestServer:
    """A running server: ``url``, the knobs, and what it saw."""

    url: str = ""
    token: str | None = None
    faults: Faults = field(default_factory=Faults)
    after_request: Callable[[str, str], None] | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    connection_errors: int = 0
    state: _OpaState = field(default_factory=_OpaState)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def policies(self) -> dict[str, str]:
        """Policy id -> Rego source, as installed."""
        with self.state.lock:
            return dict(self.state.policies)

    @property
    def data(self) -> dict[str, Any]:
        with self.state.lock:
            return json.loads(json.dumps(self.state.data))  # type: ignore[no-any-return]

    def preload(
        self, modules: dict[str, str], data: dict[str, Any], *, roots: tuple[str, ...] | None = None
    ) -> None:
        """Hold exactly ``modules`` (policy id -> Rego) and ``data`` (the whole document), as
        ``opa run --bundle`` does at start: not through the API, so nothing is recorded in
        ``requests``. With ``roots`` (the bundle manifest's, e.g. ``("fedgate",)``) the REST API
        refuses to write or delete policies or data under them (400), as OPA protects a bundle's
        roots.
        """
        with self.state.lock:
            self.state.replace(dict(modules), json.loads(json.dumps(data)))
            self.state.bundle_roots = tuple(tuple(r.split("/")) for r in roots or ())

    def put_data(self, path: str, value: Any) -> None:
        """Write ``value`` at ``data.<path>`` (slash-separated) behind the API's back, checked as PUT is."""
        segments = [s for s in path.split("/") if s]
        with self.state.lock:
            self.state.replace(self.state.policies, _set_path(self.state.data, segments, value))


@contextlib.contextmanager
def serve_opa_rest(tls: ServerTLS | None = None, *, token: str | None = None) -> Iterator[OpaRestServer]:
    """Serve OPA's REST API on 127.0.0.1 (a free port) until the block ends."""
    opa = OpaRestServer(token=token)
    server = _Server(opa, tls)
    host, port = server.server_address[:2]
    opa.url = f"{'https' if tls else 'http'}://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield opa
    finally:
        opa.stopping.set()  # wakes delayed handlers, which then drop their connection
        server.shutdown()
        server.abort_open_connections()
        server.server_close()
        thread.join()
        opa.state.close()
