"""The federated lookup, step by step (numbers match DESIGN.md "The lookup").

1. Who is asking: the agency named in the verified client certificate, which
   must not be on the CA's CRL (when one is configured); a revoked certificate
   is ``UNAUTHENTICATED`` and, like any refusal before step 3, not audited.
2. Validate the request (``gateway.validation``); bad input is refused with
   ``INVALID_ARGUMENT`` before it reaches policy, and is not audited (it
   disclosed nothing and decided nothing; it is logged without values).
3. Plan: the policy names, per target agency, the categories and fields that
   may be fetched, or refuses.
4. Fan out concurrently to the permitted adapters only, each with a deadline
   derived from the caller's.
5. Release: per record, the policy decides what goes out.
6. Audit: one entry per (lookup, target agency), refusals included, durable
   before a byte of the answer leaves. If the journal fails, the caller gets
   ``UNAVAILABLE`` and nothing is disclosed.
7. Answer: per agency a status, the released records, what was withheld and
   why, the legal basis, and the audit receipt.

``ScreenManifest`` runs each traveller of a manifest through this same path
(``_observed_lookup``), identifying the caller once per call; the streaming and
its concurrency caps are ``gateway.manifest``'s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
import structlog

from fedgate import convert
from fedgate.audit.commitments import CommitmentError
from fedgate.identity import IdentityError, PeerIdentity, identity_from_auth_context
from fedgate.model import AGENCIES, AgencyStatus, Record
from fedgate.revocation import RevocationError
from fedgate.v1 import gateway_pb2, gateway_pb2_grpc
from gateway.answer import AgencyAnswer
from gateway.audit_entries import lookup_entries
from gateway.errors import GatewayError, PermissionDenied, ServiceUnavailable, Unauthenticated
from gateway.fanout import AdapterOutcome, AdapterPool
from gateway.journal import AuditUnavailable, AuditWriter, Receipt
from gateway.manifest import ManifestLimits, ManifestScreener
from gateway.policy import Plan, PlanInput, PolicyEngine, RecordDecision, ReleaseInput
from gateway.validation import LookupQuery, PurposeRegister, validate_lookup

if TYPE_CHECKING:
    from fedgate.metrics import GatewayMetrics
    from fedgate.revocation import RevocationList

__all__ = ["AgencyAnswer", "LookupService"]

_log = structlog.get_logger(__name__)

#: Deadline for a lookup whose caller set none.
DEFAULT_LOOKUP_DEADLINE_S = 5.0
#: Time kept back from the caller's deadline for release, audit and the reply.
DEADLINE_RESERVE_S = 0.15
#: No adapter is given less than this, however close the caller's deadline.
MIN_ADAPTER_TIMEOUT_S = 0.05


class LookupService(gateway_pb2_grpc.FederatedLookupServiceServicer):
    def __init__(
        self,
        *,
        policy: PolicyEngine,
        adapters: AdapterPool,
        audit: AuditWriter,
        tag_key: bytes,
        purposes: PurposeRegister,
        trust_domain: str,
        adapter_timeout_s: float = 2.0,
        metrics: GatewayMetrics | None = None,
        revocation: RevocationList | None = None,
        manifest_limits: ManifestLimits | None = None,
    ) -> None:
        self._metrics = metrics
        self._revocation = revocation  # None: no CRL configured, certificates are not checked
        self._policy = policy
        self._adapters = adapters
        self._audit = audit
        self._tag_key = tag_key
        self._purposes = purposes
        self._trust_domain = trust_domain
        self._adapter_timeout_s = adapter_timeout_s
        self._manifests = ManifestScreener(manifest_limits or ManifestLimits(), purposes)

    # 1. identity ---------------------------------------------------------------------------
    def _requester(self, context: grpc.aio.ServicerContext[Any, Any]) -> PeerIdentity:
        auth_context = context.auth_context()
        try:
            identity = identity_from_auth_context(auth_context, trust_domain=self._trust_domain)
        except IdentityError as exc:
            raise Unauthenticated(f"client certificate does not identify an agency system: {exc}") from None
        if self._revocation is not None:
            try:
                self._revocation.check_auth_context(auth_context)
            except RevocationError as exc:
                # The peer learns only that it is refused; the log says which system and why.
                _log.warning("lookup.certificate_refused", spiffe_id=identity.spiffe_id, problem=str(exc))
                raise Unauthenticated(exc.public_message) from None
        if identity.role != "agency" or identity.name not in AGENCIES:
            raise PermissionDenied(f"a {identity.role} certificate may not make lookups")
        return identity

    async def Lookup(  # gRPC method name
        self, request: gateway_pb2.LookupRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.LookupResponse:
        return await self._observed_lookup(request, context)

    async def ScreenManifest(  # type: ignore[override]  # grpc.aio also takes a coroutine using context.write
        self, request: gateway_pb2.ScreenManifestRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        """Each traveller one ``_observed_lookup``, streamed (``gateway.manifest``)."""
        await self._manifests.screen(request, context, identify=self._requester, lookup=self._observed_lookup)

    async def _observed_lookup(
        self,
        request: gateway_pb2.LookupRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        requester: str | None = None,
    ) -> gateway_pb2.LookupResponse:
        """One lookup, with its metrics and log; identifies the caller unless ``requester`` is given."""
        started = time.perf_counter()
        # For the metrics: who asked (an agency, once identified) and how the call ended,
        # both from closed sets; nothing of the request itself is recorded.
        status = "internal"
        try:
            if requester is None:
                requester = self._requester(context).name
            response = await self._lookup(request, context, requester, started)
            status = "ok"
            return response
        except GatewayError as exc:
            status = exc.reason.lower()
            # The reason code only: the message may name a field, and nothing of the request
            # itself (identifiers, case reference, officer) is ever logged.
            _log.info(
                "lookup.rejected",
                requester=requester,
                reason=exc.reason,
                duration_ms=int((time.perf_counter() - started) * 1000),
            )
            raise
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        finally:
            if self._metrics is not None:  # the recording method itself never raises
                self._metrics.lookup_done(requester, status, time.perf_counter() - started)

    async def _lookup(
        self,
        request: gateway_pb2.LookupRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        requester: str,
        started: float,
    ) -> gateway_pb2.LookupResponse:
        request_id = uuid.uuid4().hex
        log = _log.bind(request_id=request_id, requester=requester)
        # 2. validate
        query = validate_lookup(request, self._purposes)
        log = log.bind(purpose=query.purpose, subject_kind=query.subject.kind.value)
        # 3. plan
        targets = query.agencies or tuple(a for a in AGENCIES if a != requester)
        plan = await self._policy.plan(
            PlanInput(
                requester=requester,
                purpose=query.purpose,
                subject_kind=query.subject.kind,
                emergency=query.emergency,
                agencies=targets,
                categories=query.categories,
                now=datetime.now(UTC),
            )
        )
        # 4. fan out, with a deadline derived from the caller's
        remaining = context.time_remaining()
        budget = DEFAULT_LOOKUP_DEADLINE_S if remaining is None else remaining
        timeout = max(MIN_ADAPTER_TIMEOUT_S, min(self._adapter_timeout_s, budget - DEADLINE_RESERVE_S))
        answers = await self._fan_out(request_id, query, plan, timeout)
        # 5. release
        for answer in answers:
            if answer.status is AgencyStatus.DISCLOSED:
                await self._release(requester, query, answer)
        # 6. audit, durable before the answer
        try:
            pending = lookup_entries(
                request_id=request_id,
                requester=requester,
                query=query,
                plan=plan,
                answers=answers,
                tag_key=self._tag_key,
            )
            receipts = await self._audit.append(pending)
        except (AuditUnavailable, CommitmentError) as exc:
            # AuditUnavailable messages name the failure class only; nothing else is logged.
            log.error(
                "lookup.audit_failed",
                error=type(exc).__name__,
                detail=str(exc) if isinstance(exc, AuditUnavailable) else "",
            )
            raise ServiceUnavailable("audit store unavailable; nothing was disclosed") from None
        # 7. answer
        if self._metrics is not None:
            for answer in answers:
                self._metrics.agency_result(answer.agency, answer.status)
        log.info(
            "lookup.done",
            statuses={a.agency: a.status.value for a in answers},
            agency_ms={a.agency: a.duration_ms for a in answers},
            decision_id=plan.decision_id,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        return gateway_pb2.LookupResponse(
            request_id=request_id,
            requester_agency=requester,
            results=[self._result_proto(a, r) for a, r in zip(answers, receipts, strict=True)],
        )

    async def _fan_out(
        self, request_id: str, query: LookupQuery, plan: Plan, adapter_timeout_s: float
    ) -> list[AgencyAnswer]:
        answers: list[AgencyAnswer] = []
        calls: list[tuple[AgencyAnswer, asyncio.Task[AdapterOutcome]]] = []
        async with asyncio.TaskGroup() as group:
            for agency_plan in plan.agencies:
                answer = AgencyAnswer(
                    agency=agency_plan.agency, status=AgencyStatus.REFUSED, plan=agency_plan
                )
                answers.append(answer)
                if not agency_plan.permitted:
                    refusal = agency_plan.refusal
                    answer.refusal = (
                        (refusal.code, refusal.message) if refusal else ("FG-NOT-PERMITTED", "refused")
                    )
                    continue
                task = group.create_task(
                    self._adapters.query(
                        agency_plan.agency,
                        request_id=request_id,
                        subject=query.subject,
                        grants=agency_plan.grants,
                        timeout_s=adapter_timeout_s,
                    )
                )
                calls.append((answer, task))
        for answer, task in calls:
            outcome = task.result()
            answer.duration_ms = outcome.duration_ms
            if outcome.status == "timeout":
                answer.status, answer.detail = AgencyStatus.TIMEOUT, outcome.detail
            elif outcome.status == "unavailable":
                answer.status, answer.detail = AgencyStatus.UNAVAILABLE, outcome.detail
            elif not outcome.records:
                answer.status = AgencyStatus.NO_MATCH
            else:
                answer.status, answer.records = AgencyStatus.DISCLOSED, list(outcome.records)
        return answers

    async def _release(self, requester: str, query: LookupQuery, answer: AgencyAnswer) -> None:
        assert answer.plan is not None
        released: list[Record] = []
        for record in answer.records:
            grant = answer.plan.grant(record.category)
            if grant is None:  # fanout already drops these; belt and braces
                continue
            decision: RecordDecision = await self._policy.release(
                ReleaseInput(
                    requester=requester,
                    purpose=query.purpose,
                    emergency=query.emergency,
                    agency=answer.agency,
                    grant=grant,
                    record=record,
                )
            )
            whole = decision.action != "release"
            for w in decision.withheld:
                if w.silent:
                    answer.withheld_silently.append((record.category, w.code))
                    continue
                answer.withheld.append(
                    gateway_pb2.WithheldField(
                        category=record.category,
                        record_id="" if whole else record.record_id,
                        field=w.field,
                        code=w.code,
                        reason=w.reason,
                        refer_to_agency=w.refer_to_agency,
                    )
                )
            if whole:
                continue
            kept = {k: record.fields[k] for k in decision.released_fields if k in record.fields}
            for name in grant.fields:
                if (
                    name in record.fields
                    and name not in kept
                    and not any(w.field == name for w in decision.withheld)
                ):
                    answer.withheld.append(
                        gateway_pb2.WithheldField(
                            category=record.category,
                            record_id=record.record_id,
                            field=name,
                            code="FG-NOT-RELEASED",
                            reason="release policy did not release this field",
                        )
                    )
            released.append(Record(record.category, record.record_id, kept, record.confidence, record.method))
        answer.records = released
        if answer.withheld:
            answer.status = AgencyStatus.PARTIAL
        elif not released:
            # Everything found was withheld silently: to the requester this is no match.
            answer.status = AgencyStatus.NO_MATCH

    @staticmethod
    def _result_proto(answer: AgencyAnswer, receipt: Receipt) -> gateway_pb2.AgencyResult:
        result = gateway_pb2.AgencyResult(
            agency=answer.agency,
            status=convert.agency_status_to_proto(answer.status),
            records=[convert.record_to_proto(r) for r in answer.records],
            withheld=answer.withheld,
            detail=answer.detail,
            duration_ms=answer.duration_ms,
            audit_receipt=gateway_pb2.AuditReceipt(
                log_index=receipt.log_index, leaf_hash=receipt.leaf_hash, log_origin=receipt.log_origin
            ),
        )
        if answer.refusal:
            result.refusal.code, result.refusal.message = answer.refusal
        if answer.plan and answer.status in (AgencyStatus.DISCLOSED, AgencyStatus.PARTIAL):
            used = {r.category for r in answer.records} | {w.category for w in answer.withheld}
            for g in answer.plan.grants:
                if g.category in used:
                    result.legal_bases.extend(
                        gateway_pb2.LegalBasis(
                            mou_id=b.mou_id,
                            clause=b.clause,
                            statute_refs=list(b.statute_refs),
                            decision_code=b.decision_code,
                        )
                        for b in g.bases
                    )
        return result
