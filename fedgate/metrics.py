"""Prometheus metrics of the gateway, and the HTTP endpoint that serves them.

No personal data, ever: every label value comes from a closed set fixed in this
module (the six agencies, the agency statuses, the lookup outcomes, ``plan`` or
``release``), and the recording methods clamp anything outside its set to
``other`` (``unknown`` for a requester the gateway could not identify) instead
of passing it through. Nothing from a request (subject, case reference, officer,
purpose) is a label or a value. Every recording method swallows its own errors:
a metrics fault is logged (once per method) and never reaches a lookup.

:class:`GatewayMetrics` owns its own :class:`prometheus_client.CollectorRegistry`
(never the global default one), so several gateways and tests in one process
do not collide.

Series (``fedgate_`` prefix):

=================================  =========  =================  ===================================
name                               type       labels             recorded
=================================  =========  =================  ===================================
``lookups_total``                  counter    requester, status  per Lookup call, any outcome
``agency_results_total``           counter    agency, status     per agency of an answered lookup
``agency_latency_seconds``         histogram  agency             per adapter call, any outcome
``lookup_latency_seconds``         histogram  (none)             per Lookup call, any outcome
``policy_decision_seconds``        histogram  decision           per plan / release decision
``policy_failures_total``          counter    decision           per fail-closed denial
``audit_batch_entries``            histogram  (none)             per committed audit batch
``audit_commit_seconds``           histogram  (none)             per committed audit batch
``audit_log_entries``              gauge      (none)             log size after each commit
``audit_append_failures_total``    counter    (none)             per audit append that raised
``event_loop_tasks``               gauge      (none)             at scrape time (``watch_event_loop``)
``adapter_channels``               gauge      (none)             at scrape time (``watch_adapter_channels``)
=================================  =========  =================  ===================================

The two gauges read at scrape time count what is invisible from outside the process and
must stay flat while agencies fail (a leak shows as growth): the asyncio tasks not yet done
on the gateway's event loop, and the gRPC channels its adapter pool holds open. They read 0
until the gateway's ``start`` points them at its loop and pool; a count that cannot be taken
reads NaN instead of failing the scrape.

Label values: ``requester`` an agency or ``unknown`` (no agency identified);
``status`` of a lookup one of ``LOOKUP_STATUSES``; ``agency`` an agency;
``status`` of an agency result an ``AgencyStatus`` name; ``decision`` ``plan`` or
``release``. A value outside its set is recorded as ``other``.

Buckets (seconds unless said otherwise), chosen around what each step costs:

- policy decisions: 10 µs .. 1 s. An embedded decision takes ~20-300 µs, so the
  fine buckets sit there; an OPA server round trip is milliseconds; 1 s is
  ``POLICY_TIMEOUT_S``, where a hung engine is cut off (and denied).
- adapter calls: 1 ms .. 5 s. A loopback SQLite answer is a few ms, a remote
  agency tens to hundreds; the default adapter deadline is 2 s.
- whole lookups: 2.5 ms .. 10 s. A rejected request is sub-millisecond to a
  few ms, an answered one is an adapter call plus policy plus an audit commit;
  the default lookup deadline is 5 s.
- audit commits: 0.5 ms .. 2.5 s. One transaction and one fsync: ~1 ms on a
  local SSD, a few ms to PostgreSQL; seconds means a sick database.
- audit batch sizes (entries): powers of two from 1 to 512 (``DEFAULT_MAX_BATCH``;
  a single request larger than the maximum lands in ``+Inf``). One lookup writes
  one entry per target agency, so at most five.

Serving: ``serve_metrics(metrics, "127.0.0.1:9464")`` starts the text exposition
on a daemon thread (any path answers) and returns a :class:`MetricsServer` whose
``port`` is the bound port (useful with port 0) and whose ``close()`` stops it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import math
import threading
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from typing import Final, Literal, ParamSpec, TypeVar
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)

from fedgate.model import AGENCIES, AgencyStatus

__all__ = [
    "AGENCY_LATENCY_BUCKETS",
    "AUDIT_BATCH_BUCKETS",
    "AUDIT_COMMIT_BUCKETS",
    "DECISIONS",
    "LOOKUP_LATENCY_BUCKETS",
    "LOOKUP_STATUSES",
    "OTHER",
    "POLICY_DECISION_BUCKETS",
    "UNKNOWN_REQUESTER",
    "GatewayMetrics",
    "MetricsServer",
    "parse_listen",
    "serve_metrics",
]

_log = structlog.get_logger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Outcomes of a Lookup call: ``ok`` or the gRPC status it failed with (lower case).
LOOKUP_STATUSES: Final = (
    "ok",
    "invalid_argument",
    "unauthenticated",
    "permission_denied",
    "unavailable",
    "internal",
    "cancelled",
)
#: The policy decisions: one plan per lookup, one release per fetched record.
DECISIONS: Final = ("plan", "release")
#: Requester label of a call whose client certificate names no agency.
UNKNOWN_REQUESTER: Final = "unknown"
#: Label value of anything outside its closed set (never the value itself).
OTHER: Final = "other"

_AGENCY_STATUSES: Final = tuple(s.value for s in AgencyStatus)

POLICY_DECISION_BUCKETS: Final = (
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    100e-3,
    250e-3,
    1.0,
)
AGENCY_LATENCY_BUCKETS: Final = (
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
    2.0,
    5.0,
)
LOOKUP_LATENCY_BUCKETS: Final = (
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
    2.5,
    5.0,
    10.0,
)
AUDIT_COMMIT_BUCKETS: Final = (
    0.5e-3,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
    2.5,
)
AUDIT_BATCH_BUCKETS: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0)


def _clamp(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER


#: Longest a scrape waits for the event loop to count; a loop blocked longer reads NaN.
_COUNT_TIMEOUT_S: Final = 1.0


def _count_on_loop(loop: asyncio.AbstractEventLoop, count: Callable[[], Sized | int]) -> float:
    """``count()`` (the length of what it returns, or the int) taken on ``loop``, where the
    counted objects live and change; NaN if it cannot be taken within ``_COUNT_TIMEOUT_S`` or
    raises, so a gauge read at scrape time never fails (or hangs) the scrape."""

    def counted() -> float:
        value = count()
        return float(value if isinstance(value, int) else len(value))

    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # no loop runs in this thread: the usual case, a scrape thread
        running = None
    try:
        if running is loop:  # read from the loop itself (a test, a coroutine): count here
            return counted()
        result: concurrent.futures.Future[float] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(counted())
            except Exception as exc:
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(timeout=_COUNT_TIMEOUT_S)
    except Exception:
        return math.nan


def _never_raises(method: Callable[_P, None]) -> Callable[_P, None]:
    """A recording method that logs its first failure and otherwise stays silent."""
    reported = False

    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> None:
        nonlocal reported
        try:
            method(*args, **kwargs)
        except Exception as exc:
            if not reported:
                reported = True
                _log.warning("metrics.record_failed", metric=method.__name__, error=type(exc).__name__)

    wrapped.__name__ = method.__name__
    wrapped.__doc__ = method.__doc__
    return wrapped


class GatewayMetrics:
    """The gateway's metrics, in a registry of their own.

    Record through the methods (they clamp labels to their closed sets and never raise);
    the metric objects are attributes for tests and for anyone adding a collector.
    ``process=True`` adds the standard ``process_*`` series (CPU, memory, open files).
    """

    def __init__(self, *, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.lookups = Counter(
            "fedgate_lookups_total",
            "Lookup calls, by requesting agency and outcome (ok or the gRPC status, lower case).",
            ("requester", "status"),
            registry=r,
        )
        self.agency_results = Counter(
            "fedgate_agency_results_total",
            "Per-agency results of answered lookups, by target agency and status.",
            ("agency", "status"),
            registry=r,
        )
        self.agency_latency = Histogram(
            "fedgate_agency_latency_seconds",
            "Duration of one adapter call (any outcome, timeouts included), by agency.",
            ("agency",),
            buckets=AGENCY_LATENCY_BUCKETS,
            registry=r,
        )
        self.lookup_latency = Histogram(
            "fedgate_lookup_latency_seconds",
            "Duration of a whole Lookup call, any outcome.",
            buckets=LOOKUP_LATENCY_BUCKETS,
            registry=r,
        )
        self.policy_decision = Histogram(
            "fedgate_policy_decision_seconds",
            "Duration of one policy decision (plan or release), failed ones included.",
            ("decision",),
            buckets=POLICY_DECISION_BUCKETS,
            registry=r,
        )
        self.policy_failures = Counter(
            "fedgate_policy_failures_total",
            "Policy decisions that failed (error, timeout, malformed answer) and were denied (fail closed).",
            ("decision",),
            registry=r,
        )
        self.audit_batch_entries = Histogram(
            "fedgate_audit_batch_entries",
            "Entries per committed audit batch (one transaction, one fsync).",
            buckets=AUDIT_BATCH_BUCKETS,
            registry=r,
        )
        self.audit_commit = Histogram(
            "fedgate_audit_commit_seconds",
            "Duration of one committed audit batch transaction.",
            buckets=AUDIT_COMMIT_BUCKETS,
            registry=r,
        )
        self.audit_log_entries = Gauge(
            "fedgate_audit_log_entries",
            "Entries in the audit log after the latest commit.",
            registry=r,
        )
        self.audit_append_failures = Counter(
            "fedgate_audit_append_failures_total",
            "Audit appends that failed (the lookup was answered UNAVAILABLE; nothing was disclosed).",
            registry=r,
        )
        self.event_loop_tasks = Gauge(
            "fedgate_event_loop_tasks",
            "Asyncio tasks not yet done on the gateway's event loop, counted when scraped.",
            registry=r,
        )
        self.adapter_channels = Gauge(
            "fedgate_adapter_channels",
            "gRPC channels to agency adapters the gateway holds open, counted when scraped.",
            registry=r,
        )
        if process:
            ProcessCollector(registry=r)
        # Every series of the closed label sets exists from the start at zero, so rate()
        # and absence alerts work before the first event.
        for requester in AGENCIES:
            for status in LOOKUP_STATUSES:
                self.lookups.labels(requester, status)
        for agency in AGENCIES:
            self.agency_latency.labels(agency)
            for agency_status in _AGENCY_STATUSES:
                self.agency_results.labels(agency, agency_status)
        for decision in DECISIONS:
            self.policy_decision.labels(decision)
            self.policy_failures.labels(decision)

    # -- recording (never raises) -------------------------------------------------------

    @_never_raises
    def lookup_done(self, requester: str | None, status: str, seconds: float) -> None:
        """One Lookup call ended; ``requester`` is ``None`` if the caller was not identified."""
        who = UNKNOWN_REQUESTER if requester is None else _clamp(requester, AGENCIES)
        self.lookups.labels(who, _clamp(status, LOOKUP_STATUSES)).inc()
        self.lookup_latency.observe(seconds)

    @_never_raises
    def agency_result(self, agency: str, status: AgencyStatus) -> None:
        self.agency_results.labels(_clamp(agency, AGENCIES), _clamp(status.value, _AGENCY_STATUSES)).inc()

    @_never_raises
    def adapter_call(self, agency: str, seconds: float) -> None:
        self.agency_latency.labels(_clamp(agency, AGENCIES)).observe(seconds)

    @_never_raises
    def policy_decision_done(
        self, decision: Literal["plan", "release"], seconds: float, *, failed: bool
    ) -> None:
        label = _clamp(decision, DECISIONS)
        self.policy_decision.labels(label).observe(seconds)
        if failed:
            self.policy_failures.labels(label).inc()

    @_never_raises
    def audit_committed(self, entries: int, seconds: float, log_size: int) -> None:
        """One batch of ``entries`` committed in ``seconds``; the log now holds ``log_size`` entries."""
        self.audit_batch_entries.observe(entries)
        self.audit_commit.observe(seconds)
        self.audit_log_entries.set(log_size)

    @_never_raises
    def audit_log_size(self, log_size: int) -> None:
        self.audit_log_entries.set(log_size)

    @_never_raises
    def audit_append_failed(self) -> None:
        self.audit_append_failures.inc()

    # -- counted at scrape time -----------------------------------------------------------

    def watch_event_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Report the tasks not yet done on ``loop`` as ``fedgate_event_loop_tasks``."""
        tasks = functools.partial(asyncio.all_tasks, loop)
        self.event_loop_tasks.set_function(functools.partial(_count_on_loop, loop, tasks))

    def watch_adapter_channels(self, loop: asyncio.AbstractEventLoop, count: Callable[[], int]) -> None:
        """Report ``count()`` (open adapter channels, asked on ``loop``) as ``fedgate_adapter_channels``."""
        self.adapter_channels.set_function(functools.partial(_count_on_loop, loop, count))

    # -- reading ------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (what the endpoint serves)."""
        return generate_latest(self.registry)


# --- the endpoint ---------------------------------------------------------------------------


@dataclass
class MetricsServer:
    """A running metrics endpoint; ``close()`` stops it (idempotent, blocks up to ~0.5 s)."""

    host: str
    port: int
    _httpd: WSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()  # waits for serve_forever to notice (its poll interval)
        self._httpd.server_close()
        self._thread.join(timeout=5.0)

    async def aclose(self) -> None:
        """``close`` without blocking the event loop."""
        await asyncio.to_thread(self.close)


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) -> (host, port); ``ValueError`` names the problem."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host:
        raise ValueError(f"metrics listen address {listen!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"metrics listen address {listen!r} has no valid port (0-65535)")
    return host, int(port_text)


def serve_metrics(metrics: GatewayMetrics, listen: str) -> MetricsServer:
    """Serve ``metrics`` over HTTP on ``listen`` (``host:port``; port 0 picks a free one).

    Raises ``ValueError`` for a malformed address and ``OSError`` (errno kept) naming the
    address if it cannot be bound.
    """
    host, port = parse_listen(listen)
    try:
        httpd, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot serve metrics on {listen}: {exc.strerror or exc}") from exc
    bound_port: int = httpd.server_address[1]
    return MetricsServer(host, bound_port, httpd, thread)
