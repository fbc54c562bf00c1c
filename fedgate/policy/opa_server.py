"""The production policy path: decisions from an OPA server over its REST API.

``OpaServerEvaluator`` asks an OPA server for decisions through ``opa-python-client``'s
``AsyncOpaClient``, after one of two ways of making sure the server decides with our bundle:

* ``install(modules, data)`` (push mode): it pushes the policy bundle (Rego modules and the
  data document) to an OPA server that started empty, then reads the digest back;
* ``attach(expected_digest)`` (bundle mode): the server loaded the bundle itself at start
  (``opa run --server --bundle fedgate.tar.gz``, built by ``fedgate policy bundle``, see
  ``fedgate.policy.opa_bundle``); the evaluator writes nothing and only checks that
  ``data.fedgate.registry.bundle.digest`` is the expected digest.

While either runs, and after either failed until one succeeds, ``evaluate`` refuses. The
operator's guide is ``docs/opa-server.md``; in short:

Naming on the server. The gateway owns one namespace, the first segment of ``data_path``
(default ``fedgate/registry``): the data document ``data.fedgate.registry``
(``PUT /v1/data/fedgate/registry``, where the embedded engine puts it too) and every policy
whose id starts with ``fedgate/``. A module's id is its path relative to the bundle (``fedgate/plan.rego``),
with ``fedgate/`` put in front when the path is not already under it (``plan.rego`` ->
``fedgate/plan.rego``). On each install, policies in the namespace that are not in the new
bundle are deleted, so modules removed from a bundle stop deciding even across gateway
restarts; policies outside the namespace are never touched.

Install order. OPA compiles all its modules on every write, so a rule that moves from one
module to another (or from a module into data) conflicts whichever is written first. Writes
that OPA rejects as compile errors are retried after the others, until a round makes no
progress; what still fails is a ``PolicyBundleError`` naming the module (or the data
document) with OPA's messages. The REST API has no transactions: while an install runs, or
after one failed, the server may hold a mix of old and new. This evaluator therefore refuses
to evaluate from the start of an install until one succeeds, and an install succeeds only
when reading ``data.<data_path>.bundle.digest`` back gives the digest of the bundle it
pushed (another writer, a bundle-plugin-owned root or a proxy would show up here).

Transport and TLS. ``https`` always verifies the server certificate and its host name:
against ``ca_file`` alone when given (the sector CA, not the system store), otherwise
against the system trust store; ``client_cert=(cert, key)`` adds mutual TLS; TLS 1.2 is the
minimum. ``opa-python-client`` has no parameter for a private CA (its ``ssl=True`` uses only
the system store), so ``_OpaClient`` overrides its ``_init_session`` to build the aiohttp
connector from our ``ssl.SSLContext``; proxies from the environment are ignored. Plain
``http`` is accepted only to a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``: the
sidecar deployment) or with ``allow_insecure_http=True``; ``ca_file``/``client_cert`` with
``http`` are a configuration error, not silently unused. ``token`` is sent as
``Authorization: Bearer …`` (OPA's ``--authentication=token``).

Bounds. Every REST call is bounded by ``timeout_s`` in total, retry included
(``asyncio.timeout``). The client's own retries are off: it sleeps a fixed 0.3 s, 0.6 s, ...
between attempts, which alone exceeds a small ``timeout_s`` and turns every failure into a
timeout, and it re-sends a decision on HTTP 500, which OPA answers for deterministic
evaluation errors. Instead a call is re-sent once, at once, when an established connection
broke (server disconnected or reset: a keep-alive connection OPA closed); refused
connections, certificate verification failures, timeouts and HTTP errors are not retried.
An install is a sequence of calls, each bounded.

Failures, all fail closed (the gateway denies)::

    decision rule undefined for the input              UndefinedDecision
    timeout, refused/reset connection, TLS failure,
    HTTP non-2xx (401, 500, ...), body not JSON,
    input not JSON, evaluator closed,
    last install failed or still running               PolicyEvaluationError
    module OPA cannot parse or compile, data OPA
    rejects, unusable bundle contents                  PolicyBundleError (install)
    digest read back differs from the bundle's         PolicyEvaluationError (install)
    digest on the server missing or another one        PolicyEvaluationError (attach)
    bad URL, unreadable CA/cert files, plain http
    to a non-loopback host without the flag            OpaServerConfigError (constructor)

Messages never carry decision input values (nor the token): they name the rule, the step
and the HTTP status or transport error, and response errors are raised ``from None`` because
aiohttp's exceptions keep the request headers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import aiohttp
from opa_client import AsyncOpaClient
from opa_client.errors import DeletePolicyError, RegoParseError, TypeException

from fedgate.policy.embedded import DATA_ROOT
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError, UndefinedDecision

__all__ = ["DEFAULT_DATA_PATH", "OpaServerConfigError", "OpaServerEvaluator"]

#: Where the bundle's data document goes on the OPA server: the same place the embedded engine
#: puts it (``data.fedgate.registry``), beside the ``fedgate.*`` policy packages. The gateway owns
#: the first segment (``fedgate``) for policy ids.
DEFAULT_DATA_PATH: Final = "/".join(DATA_ROOT)

#: opa-python-client's own retries: off (see "Bounds" above); ``_bounded`` retries instead.
_CLIENT_RETRIES: Final = 0

#: A connection that broke after it was established (a stale keep-alive connection looks like
#: this): the call is re-sent once. ``ClientConnectorError`` (refused, TLS) is excluded.
_BROKEN_CONNECTION: Final = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    aiohttp.ClientPayloadError,
)

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE_SEGMENT: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

_T = TypeVar("_T")


class OpaServerConfigError(ValueError):
    """The OPA server's URL or TLS settings are unusable; the message says which."""


class _OpaClient(AsyncOpaClient):  # type: ignore[misc]  # opa_client has no type information
    """``AsyncOpaClient`` whose aiohttp session uses our TLS context (or plain TCP for http)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None, **kwargs: Any) -> None:
        # ``ssl`` only picks the URL scheme here: the session is ours (``_init_session``).
        super().__init__(ssl=ssl_context is not None, cert=None, **kwargs)
        self._fedgate_ssl = ssl_context

    async def _init_session(self) -> None:
        # Upstream builds ``ssl.create_default_context()`` (system store only) or, for http,
        # ``TCPConnector(ssl=None)``; neither can trust a private CA. No ``await`` here, so a
        # concurrent caller never sees a half-made session.
        self._connector = aiohttp.TCPConnector(ssl=self._fedgate_ssl or False)
        self._session = aiohttp.ClientSession(
            headers=self.headers,
            connector=self._connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            trust_env=False,  # no HTTP(S)_PROXY from the environment between the gateway and OPA
        )


class _Deferred(Exception):
    """OPA rejected a write as not compiling; it may succeed after the other writes."""

    def __init__(self, subject: str, details: str) -> None:
        super().__init__(subject, details)
        self.subject = subject
        self.details = details


class OpaServerEvaluator:
    """Install a policy bundle on an OPA server and evaluate decisions there (fail closed)."""

    def __init__(
        self,
        url: str,
        *,
        ca_file: Path | None = None,
        client_cert: tuple[Path, Path] | None = None,
        token: str | None = None,
        timeout_s: float = 1.0,
        allow_insecure_http: bool = False,
    ) -> None:
        if not timeout_s > 0:
            raise OpaServerConfigError(f"timeout_s must be positive, not {timeout_s!r}")
        scheme, host, port = _parse_url(url)
        if scheme == "http":
            if ca_file is not None or client_cert is not None:
                raise OpaServerConfigError(
                    f"OPA URL {url!r} is plain http; ca_file and client_cert need https"
                )
            if not allow_insecure_http and not _is_loopback(host):
                raise OpaServerConfigError(
                    f"OPA URL {url!r} is plain http to a non-loopback host; use https "
                    "(or set allow_insecure_http for a network you trust)"
                )
            ssl_context = None
        else:
            ssl_context = _ssl_context(ca_file, client_cert)
        self.url = url
        self._ssl_context = ssl_context
        self._host = f"[{host}]" if ":" in host else host  # opa-python-client builds "{host}:{port}"
        self._port = port
        self._token = token
        self._timeout_s = float(timeout_s)
        self._data_path = DEFAULT_DATA_PATH
        self._client: _OpaClient | None = None
        self._closed = False
        self._install_lock = asyncio.Lock()
        #: Why evaluation is refused (an install or attach running or failed); None when usable.
        self._unusable: str | None = None

    async def __aenter__(self) -> OpaServerEvaluator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- public API ----------------------------------------------------

    async def install(
        self, modules: Mapping[str, str], data: Mapping[str, Any], *, data_path: str = DEFAULT_DATA_PATH
    ) -> None:
        """Make the server hold exactly this bundle in our namespace, then confirm its digest.

        ``modules`` maps paths relative to the bundle (``fedgate/plan.rego``) to Rego source;
        ``data`` is the data document, with the bundle digest at ``data["bundle"]["digest"]``.
        """
        namespace = _namespace(data_path)
        policy_namespace = namespace.split("/")[0]
        policies = _policy_ids(modules, policy_namespace)
        document, expected = _data_document(data)
        async with self._install_lock:
            self._unusable = "a policy install is running"
            self._data_path = namespace
            try:
                await self._push(policy_namespace, namespace, policies, document)
                actual = await self.digest()
                if actual != expected:
                    raise PolicyEvaluationError(
                        f"OPA holds bundle digest {actual!r} at data.{namespace.replace('/', '.')}"
                        f".bundle.digest after install, expected {expected!r}"
                    )
            except BaseException:
                self._unusable = "the last policy install failed"
                raise
            self._unusable = None

    async def attach(self, expected_digest: str, *, data_path: str = DEFAULT_DATA_PATH) -> None:
        """Use a server that loaded the bundle itself (``opa run --bundle``): verify it, write nothing.

        Reads ``data.<data_path>.bundle.digest`` (``data.fedgate.registry.bundle.digest``) and
        requires it to equal ``expected_digest`` (the loaded ``PolicyBundle.digest``). From the
        moment it starts until an attach (or an install) succeeds, ``evaluate`` refuses: a server
        holding no digest or another one raises ``PolicyEvaluationError`` (so does a transport
        failure) and evaluation stays refused. It only reads: no policy or data is written, so
        it works where the bundle's roots make ``fedgate`` read-only to the REST API.
        """
        if not isinstance(expected_digest, str) or not expected_digest:
            raise PolicyBundleError("attach needs the expected bundle digest (a non-empty string)")
        namespace = _namespace(data_path)
        async with self._install_lock:
            self._unusable = "a policy attach is running"
            self._data_path = namespace
            try:
                actual = await self.digest()
                where = f"data.{namespace.replace('/', '.')}.bundle.digest"
                if actual is None:
                    raise PolicyEvaluationError(
                        f"OPA holds no bundle digest at {where}; expected {expected_digest!r} "
                        "(is the server running with the fedgate OPA bundle?)"
                    )
                if actual != expected_digest:
                    raise PolicyEvaluationError(
                        f"OPA holds bundle digest {actual!r} at {where}, expected {expected_digest!r}"
                    )
            except BaseException:
                self._unusable = "the last policy attach failed"
                raise
            self._unusable = None

    async def evaluate(self, rule: str, input: Mapping[str, Any]) -> Any:
        """The value of ``data.<rule>`` for ``input`` (``rule`` dotted, e.g. ``fedgate.plan.decision``)."""
        path = _rule_path(rule)
        if self._unusable is not None:
            raise PolicyEvaluationError(f"OPA evaluator refuses data.{rule}: {self._unusable}")
        document = _input_document(input, rule)
        body = await self._bounded(
            f"data.{rule}", lambda client: client.query_rule(input_data=document, package_path=path)
        )
        if not isinstance(body, dict):
            raise PolicyEvaluationError(f"OPA answered data.{rule} with a body that is not a JSON object")
        if "result" not in body:
            raise UndefinedDecision(f"data.{rule} is undefined for this input")
        return body["result"]

    async def digest(self) -> str | None:
        """``data.<data_path>.bundle.digest`` as the server has it; None if absent."""
        where = f"data.{self._data_path.replace('/', '.')}.bundle.digest"
        path = f"{self._data_path}/bundle/digest"
        body = await self._bounded(where, lambda client: client.query_rule(input_data={}, package_path=path))
        if not isinstance(body, dict):
            raise PolicyEvaluationError(f"OPA answered {where} with a body that is not a JSON object")
        if "result" not in body:
            return None
        value = body["result"]
        if not isinstance(value, str):
            raise PolicyEvaluationError(f"OPA holds a {type(value).__name__} at {where}, not a string")
        return value

    async def close(self) -> None:
        """Close the HTTP session; the evaluator refuses every call afterwards."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.close_connection()

    # -- internals -----------------------------------------------------

    async def _opa(self) -> _OpaClient:
        if self._closed:
            raise PolicyEvaluationError("OPA evaluator is closed")
        if self._client is None:
            client = _OpaClient(
                ssl_context=self._ssl_context,
                host=self._host,
                port=self._port,
                token=self._token,
                retries=_CLIENT_RETRIES,
                timeout=self._timeout_s,
            )
            # Never suspends (see _OpaClient._init_session): no second session can race this one.
            await client._init_session()
            self._client = client
        return self._client

    async def _bounded(self, what: str, call: Callable[[_OpaClient], Awaitable[_T]]) -> _T:
        """One REST call, bounded by ``timeout_s``, transport failures as PolicyEvaluationError."""
        client = await self._opa()
        try:
            async with asyncio.timeout(self._timeout_s):
                try:
                    return await call(client)
                except _BROKEN_CONNECTION as exc:
                    if isinstance(exc, aiohttp.ClientConnectorError):
                        raise
                    return await call(client)
        except TimeoutError:
            raise PolicyEvaluationError(f"OPA did not answer {what} within {self._timeout_s:g} s") from None
        except aiohttp.ContentTypeError as exc:
            raise PolicyEvaluationError(
                f"OPA answered {what} with HTTP {exc.status} and a body that is not JSON"
            ) from None
        except aiohttp.ClientResponseError as exc:
            # from None: the exception keeps the request headers, bearer token included.
            raise PolicyEvaluationError(f"OPA answered {what} with HTTP {exc.status}") from None
        except aiohttp.ClientConnectionError as exc:
            raise PolicyEvaluationError(f"cannot reach OPA for {what}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise PolicyEvaluationError(f"HTTP to OPA failed for {what}: {type(exc).__name__}") from None
        except ValueError:  # json.JSONDecodeError: a JSON content type but not JSON
            raise PolicyEvaluationError(f"OPA answered {what} with a body that is not JSON") from None
        except OSError as exc:
            raise PolicyEvaluationError(f"cannot reach OPA for {what}: {type(exc).__name__}") from None

    async def _push(
        self, namespace: str, data_path: str, policies: dict[str, tuple[str, str]], document: Any
    ) -> None:
        """Delete stale policies, write the data and the modules; defer compile conflicts."""
        listed = await self._bounded("the policy list", lambda client: client.get_policies_list())
        if not isinstance(listed, list):
            raise PolicyEvaluationError("OPA answered the policy list with something that is not a list")
        stale = sorted(
            i for i in listed if isinstance(i, str) and i.startswith(f"{namespace}/") and i not in policies
        )
        writes: list[Callable[[], Awaitable[None]]] = [self._deleter(i) for i in stale]
        writes.append(self._data_writer(data_path, document))
        writes.extend(self._module_writer(i, path, source) for i, (path, source) in sorted(policies.items()))
        while writes:
            deferred: list[tuple[Callable[[], Awaitable[None]], _Deferred]] = []
            for write in writes:
                try:
                    await write()
                except _Deferred as exc:
                    deferred.append((write, exc))
            if len(deferred) == len(writes):
                first = deferred[0][1]
                raise PolicyBundleError(f"OPA rejected {first.subject}: {first.details}")
            writes = [write for write, _ in deferred]

    def _module_writer(self, policy_id: str, path: str, source: str) -> Callable[[], Awaitable[None]]:
        subject = f"policy module {path}"

        async def write() -> None:
            try:
                await self._bounded(
                    subject,
                    lambda client: client.update_policy_from_string(source, policy_id, rego_compat=False),
                )
            except RegoParseError as exc:
                raise _rejection(subject, exc.expression, exc.message, exc.errors) from None
            except TypeException:
                raise PolicyBundleError(f"{subject} is empty") from None

        return write

    def _data_writer(self, namespace: str, document: Any) -> Callable[[], Awaitable[None]]:
        subject = f"the data document data.{namespace.replace('/', '.')}"

        async def write() -> None:
            try:
                await self._bounded(subject, lambda client: client.update_or_create_data(document, namespace))
            except RegoParseError as exc:
                raise _rejection(subject, exc.expression, exc.message, exc.errors) from None

        return write

    def _deleter(self, policy_id: str) -> Callable[[], Awaitable[None]]:
        subject = f"removing stale policy {policy_id}"

        async def write() -> None:
            try:
                await self._bounded(subject, lambda client: client.delete_policy(policy_id))
            except DeletePolicyError as exc:
                if exc.expression == "resource_not_found":
                    return  # already gone: someone else removed it
                raise _rejection(subject, exc.expression, exc.message, None) from None

        return write


# -- helpers -------------------------------------------------------------------


def _rejection(subject: str, code: Any, message: Any, errors: Any) -> Exception:
    """OPA's error body as _Deferred (compile errors: retry later) or PolicyEvaluationError."""
    if code != "invalid_parameter":
        return PolicyEvaluationError(f"OPA refused {subject}: {code or 'error'}")
    details = []
    for error in errors or ():
        if not isinstance(error, dict):
            continue
        location = error.get("location") or {}
        where = f" at {location.get('file')}:{location.get('row')}" if location.get("file") else ""
        details.append(f"{error.get('code', 'error')}{where}: {error.get('message', '')}")
    return _Deferred(subject, "; ".join(details) or str(message or "invalid"))


def _parse_url(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OpaServerConfigError(f"OPA URL {url!r} must be http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise OpaServerConfigError("OPA URL must not carry credentials; pass the token separately")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise OpaServerConfigError(
            f"OPA URL {url!r} must be scheme://host[:port] ; OPA serves /v1 at the root"
        )
    if not parts.hostname:
        raise OpaServerConfigError(f"OPA URL {url!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise OpaServerConfigError(f"OPA URL {url!r} has an invalid port") from None
    return scheme, parts.hostname, port if port is not None else (443 if scheme == "https" else 80)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ssl_context(ca_file: Path | None, client_cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    """Verify the server (our CA alone when given, else the system store); optional client cert."""
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file is not None else None
        )
    except OSError as exc:  # ssl.SSLError is an OSError
        raise OpaServerConfigError(f"cannot load OPA CA file {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert is not None:
        cert, key = client_cert
        try:
            context.load_cert_chain(cert, key)
        except OSError as exc:
            raise OpaServerConfigError(f"cannot load OPA client certificate {cert} / {key}: {exc}") from None
    return context


def _namespace(data_path: str) -> str:
    segments = data_path.split("/")
    if not all(_IDENTIFIER.fullmatch(s) for s in segments):
        raise PolicyBundleError(f"data_path {data_path!r} must be slash-separated Rego identifiers")
    return data_path


def _rule_path(rule: str) -> str:
    segments = rule.split(".")
    if not all(_IDENTIFIER.fullmatch(s) for s in segments):
        raise PolicyEvaluationError(f"rule {rule!r} must be a dotted path of Rego identifiers")
    return "/".join(segments)


def _policy_ids(modules: Mapping[str, str], namespace: str) -> dict[str, tuple[str, str]]:
    """Policy id -> (bundle-relative path, source); ids under ``namespace/``."""
    policies: dict[str, tuple[str, str]] = {}
    for path, source in modules.items():
        segments = path.split("/")
        if (
            not path.endswith(".rego")
            or not all(_FILE_SEGMENT.fullmatch(s) for s in segments)
            or any(s in (".", "..") for s in segments)
        ):
            raise PolicyBundleError(f"policy module path {path!r} must be a relative path to a .rego file")
        if not isinstance(source, str) or not source.strip():
            raise PolicyBundleError(f"policy module {path} is empty")
        policy_id = path if path.startswith(f"{namespace}/") else f"{namespace}/{path}"
        if policy_id in policies:
            raise PolicyBundleError(
                f"policy modules {policies[policy_id][0]} and {path} map to one OPA policy id {policy_id}"
            )
        policies[policy_id] = (path, source)
    return policies


def _data_document(data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The data document as plain JSON, and the bundle digest in it."""
    try:
        document = json.loads(json.dumps(dict(data), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PolicyBundleError(f"the data document is not JSON: {type(exc).__name__}") from None
    bundle = document.get("bundle")
    digest = bundle.get("digest") if isinstance(bundle, dict) else None
    if not isinstance(digest, str) or not digest:
        raise PolicyBundleError("the data document has no bundle.digest string")
    return document, digest


def _input_document(input: Mapping[str, Any], rule: str) -> dict[str, Any]:
    """The decision input as a plain JSON object; the error names the rule, never a value."""
    try:
        document: dict[str, Any] = json.loads(json.dumps(dict(input), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PolicyEvaluationError(f"the input for data.{rule} is not JSON ({type(exc).__name__})") from None
    return document
