"""The OPA-server policy path against OPA's REST API served by the real OPA engine (``tests/opa_rest``).

``OpaServerEvaluator`` talks through ``opa-python-client`` to ``serve_opa_rest``, whose
decisions, parse and compile errors come from OPA's Go engine. The policy is a small
self-contained Rego v1 bundle written here, not ``policies/``. Faults are injected by the
server (delays, 500s, dropped connections, bodies that are not JSON); nothing asserts on
timing, only on behaviour.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fedgate.pki import PKILayout
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError, UndefinedDecision
from fedgate.policy.opa_server import OpaServerConfigError, OpaServerEvaluator
from tests.opa_rest import Faults, OpaRestServer, ServerTLS, serve_opa_rest

PLAN = """\
package fedgate.plan

# A request is planned when the requesting agency has an MoU with the target for the purpose.
default decision := {"allow": false, "code": "FG-NOT-PERMITTED"}

decision := {"allow": true, "code": mou.code, "fields": mou.fields} if {
\tsome mou in data.fedgate.registry.mous
\tmou.requester == input.requester
\tmou.target == input.target
\tinput.purpose in mou.purposes
}

# No default: undefined unless the input names a known category.
category_fields := data.fedgate.registry.categories[input.category]
"""

HELPERS = """\
package fedgate.helpers

known_agency(name) if name in {"customs", "police"}

requester_known := known_agency(input.requester)
"""

DATA: dict[str, Any] = {
    "bundle": {"digest": "sha256:1111"},
    "mous": [
        {
            "requester": "customs",
            "target": "police",
            "purposes": ["border-screening"],
            "code": "MOU-7",
            "fields": ["name", "dob"],
        }
    ],
    "categories": {"identity": ["name", "dob"]},
}

MODULES = {"fedgate/plan.rego": PLAN, "fedgate/helpers.rego": HELPERS}
ALLOWED = {"requester": "customs", "target": "police", "purpose": "border-screening"}
SECRET = "Aroha Te Whatu 1984-02-29"  # a subject's details: must never appear in an error
#: Calls that should succeed: generous, so that a loaded CI machine is slow, not failing.
TIMEOUT_S = 5.0


def with_digest(digest: str, **changes: Any) -> dict[str, Any]:
    return {**DATA, **changes, "bundle": {"digest": digest}}


@pytest.fixture
def server() -> Iterator[OpaRestServer]:
    with serve_opa_rest() as running:
        yield running


@pytest.fixture
async def evaluator(server: OpaRestServer) -> AsyncIterator[OpaServerEvaluator]:
    async with OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S) as opa:
        yield opa


@pytest.fixture
async def installed(evaluator: OpaServerEvaluator) -> OpaServerEvaluator:
    await evaluator.install(MODULES, DATA)
    return evaluator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- decisions -------------------------------------------------------------------


async def test_install_pushes_modules_and_data_then_evaluates_opas_decisions(
    installed: OpaServerEvaluator, server: OpaRestServer
) -> None:
    assert set(server.policies) == {"fedgate/plan.rego", "fedgate/helpers.rego"}
    assert server.policies["fedgate/plan.rego"] == PLAN
    assert server.data["fedgate"]["registry"] == DATA
    assert ("PUT", "/v1/data/fedgate/registry") in server.requests
    assert await installed.digest() == "sha256:1111"

    assert await installed.evaluate("fedgate.plan.decision", ALLOWED) == {
        "allow": True,
        "code": "MOU-7",
        "fields": ["name", "dob"],
    }
    assert await installed.evaluate("fedgate.plan.decision", {**ALLOWED, "purpose": "curiosity"}) == {
        "allow": False,
        "code": "FG-NOT-PERMITTED",
    }
    assert await installed.evaluate("fedgate.helpers.requester_known", ALLOWED) is True
    assert await installed.evaluate("fedgate.plan.category_fields", {"category": "identity"}) == [
        "name",
        "dob",
    ]
    # A whole package is a document too.
    package = await installed.evaluate("fedgate.plan", {"category": "identity", **ALLOWED})
    assert package["decision"]["allow"] is True


async def test_concurrent_decisions_share_one_session(installed: OpaServerEvaluator) -> None:
    inputs = [{**ALLOWED, "purpose": p} for p in ("border-screening", "other")] * 10
    results = await asyncio.gather(*(installed.evaluate("fedgate.plan.decision", i) for i in inputs))
    assert [r["allow"] for r in results] == [True, False] * 10


async def test_undefined_rule_raises_undefined_decision(installed: OpaServerEvaluator) -> None:
    with pytest.raises(UndefinedDecision, match=r"data\.fedgate\.plan\.category_fields"):
        await installed.evaluate("fedgate.plan.category_fields", {"category": "nope"})
    with pytest.raises(UndefinedDecision):
        await installed.evaluate("fedgate.plan.no_such_rule", ALLOWED)
    with pytest.raises(UndefinedDecision):
        await installed.evaluate("fedgate.helpers.requester_known", {"requester": "someone-else"})


async def test_rule_must_be_a_dotted_path(installed: OpaServerEvaluator) -> None:
    for rule in ("", "fedgate..plan", "fedgate/plan", "fedgate.plan.decision?x=1", "fedgate.pl an"):
        with pytest.raises(PolicyEvaluationError, match="dotted path"):
            await installed.evaluate(rule, ALLOWED)


async def test_input_that_is_not_json_is_refused_without_its_values(installed: OpaServerEvaluator) -> None:
    with pytest.raises(PolicyEvaluationError, match="not JSON") as info:
        await installed.evaluate("fedgate.plan.decision", {"name": SECRET, "score": float("nan")})
    assert SECRET not in str(info.value)
    with pytest.raises(PolicyEvaluationError, match="not JSON"):
        await installed.evaluate("fedgate.plan.decision", {"names": {SECRET}})


async def test_evaluation_error_in_opa_fails_closed(evaluator: OpaServerEvaluator) -> None:
    conflict = "package fedgate.plan\n\ndecision := input.a if input.a\ndecision := input.b if input.b\n"
    await evaluator.install({"fedgate/plan.rego": conflict}, DATA)
    assert await evaluator.evaluate("fedgate.plan.decision", {"a": SECRET}) == SECRET
    with pytest.raises(PolicyEvaluationError, match="HTTP 500") as info:
        await evaluator.evaluate("fedgate.plan.decision", {"a": SECRET, "b": "other"})
    assert not isinstance(info.value, UndefinedDecision)
    assert SECRET not in str(info.value)


# -- installing ------------------------------------------------------------------


async def test_parse_error_is_a_bundle_error_naming_the_module(
    evaluator: OpaServerEvaluator, server: OpaRestServer
) -> None:
    broken = {**MODULES, "fedgate/broken.rego": "package fedgate.broken\n\nallow if {\n"}
    with pytest.raises(PolicyBundleError, match=r"policy module fedgate/broken\.rego: rego_parse_error"):
        await evaluator.install(broken, DATA)
    assert "fedgate/broken.rego" not in server.policies


async def test_compile_error_is_a_bundle_error_naming_the_module(evaluator: OpaServerEvaluator) -> None:
    unsafe = "package fedgate.unsafe\n\nallow if { x == input.y }\n"
    with pytest.raises(PolicyBundleError, match=r"fedgate/unsafe\.rego.*rego_unsafe_var_error.*var x"):
        await evaluator.install({**MODULES, "fedgate/unsafe.rego": unsafe}, DATA)


async def test_v0_rego_is_rejected_not_rewritten(
    evaluator: OpaServerEvaluator, server: OpaRestServer
) -> None:
    # opa-python-client's default (rego_compat) would regex-rewrite this to v1 and upload the
    # result: the server would then run a policy nobody reviewed.
    v0 = "package fedgate.old\n\nallow { input.x == 1 }\n"
    with pytest.raises(PolicyBundleError, match=r"fedgate/old\.rego.*`if` keyword is required"):
        await evaluator.install({**MODULES, "fedgate/old.rego": v0}, DATA)
    assert "fedgate/old.rego" not in server.policies


async def test_data_conflicting_with_a_rule_is_a_bundle_error(evaluator: OpaServerEvaluator) -> None:
    data = with_digest("sha256:2222", plan={"decision": "allow everything"})
    # Data written above the policy packages (data_path "fedgate") collides with their rules.
    with pytest.raises(PolicyBundleError, match="conflicting rule for data path fedgate/plan/decision"):
        await evaluator.install(MODULES, data, data_path="fedgate")


@pytest.mark.parametrize(
    ("modules", "data", "message"),
    [
        (MODULES, {"mous": []}, "bundle.digest"),
        (MODULES, {"bundle": {"digest": 7}}, "bundle.digest"),
        (MODULES, {**DATA, "when": object()}, "not JSON"),
        ({"../escape.rego": PLAN}, DATA, "relative path"),
        ({"/etc/plan.rego": PLAN}, DATA, "relative path"),
        ({"fedgate/plan.txt": PLAN}, DATA, r"\.rego"),
        ({"fedgate/empty.rego": "  \n"}, DATA, "empty"),
        ({"plan.rego": PLAN, "fedgate/plan.rego": PLAN}, DATA, "one OPA policy id"),
    ],
)
async def test_unusable_bundle_is_refused_before_any_request(
    evaluator: OpaServerEvaluator,
    server: OpaRestServer,
    modules: dict[str, str],
    data: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(PolicyBundleError, match=message):
        await evaluator.install(modules, data)
    assert server.requests == []


async def test_module_ids_live_under_the_namespace(
    evaluator: OpaServerEvaluator, server: OpaRestServer
) -> None:
    await evaluator.install({"plan.rego": PLAN, "lib/helpers.rego": HELPERS}, DATA)
    assert set(server.policies) == {"fedgate/plan.rego", "fedgate/lib/helpers.rego"}
    assert (await evaluator.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True


async def test_reinstall_deletes_removed_modules_only_in_our_namespace(
    installed: OpaServerEvaluator, server: OpaRestServer
) -> None:
    # Someone else's policy on the same server: never ours to delete.
    async with OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S) as other:
        await other.install(
            {"other/authz.rego": "package other.authz\n\nallow := true\n"}, DATA, data_path="other"
        )
    assert "other/authz.rego" in server.policies

    await installed.install({"fedgate/plan.rego": PLAN}, with_digest("sha256:2222"))
    assert set(server.policies) == {"fedgate/plan.rego", "other/authz.rego"}
    assert ("DELETE", "/v1/policies/fedgate/helpers.rego") in server.requests
    with pytest.raises(UndefinedDecision):
        await installed.evaluate("fedgate.helpers.requester_known", ALLOWED)
    assert await installed.digest() == "sha256:2222"


async def test_stale_modules_from_an_earlier_process_are_deleted(server: OpaRestServer) -> None:
    async with OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S) as first:
        await first.install({**MODULES, "fedgate/retired.rego": "package fedgate.retired\n\nx := 1\n"}, DATA)
    # A restarted gateway: no memory of what the first one installed.
    async with OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S) as second:
        await second.install(MODULES, with_digest("sha256:3333"))
        with pytest.raises(UndefinedDecision):
            await second.evaluate("fedgate.retired.x", {})
    assert set(server.policies) == set(MODULES)


async def test_a_rule_moving_between_modules_installs(installed: OpaServerEvaluator) -> None:
    # requester_known moves from helpers.rego to plan.rego: whichever module OPA gets first
    # conflicts with the other's old version, so the install must reorder.
    plan = PLAN + "\nrequester_known := data.fedgate.helpers.known_agency(input.requester)\n"
    plan = plan.replace("package fedgate.plan", "package fedgate.helpers", 1)
    moved = {
        "fedgate/helpers.rego": HELPERS.replace("\nrequester_known := known_agency(input.requester)\n", ""),
        "fedgate/plan.rego": plan,
    }
    await installed.install(moved, with_digest("sha256:4444"))
    assert await installed.evaluate("fedgate.helpers.requester_known", ALLOWED) is True
    assert (await installed.evaluate("fedgate.helpers.decision", ALLOWED))["allow"] is True


async def test_digest_mismatch_after_install_fails_and_blocks_evaluation(
    installed: OpaServerEvaluator, server: OpaRestServer
) -> None:
    # Another writer replaces the data document right after ours lands.
    def race(method: str, path: str) -> None:
        if (method, path) == ("PUT", "/v1/data/fedgate/registry"):
            server.put_data("fedgate/registry/bundle/digest", "sha256:someone-else")

    server.after_request = race
    with pytest.raises(PolicyEvaluationError, match=r"someone-else.*expected 'sha256:5555'") as info:
        await installed.install(MODULES, with_digest("sha256:5555"))
    assert not isinstance(info.value, PolicyBundleError)
    with pytest.raises(PolicyEvaluationError, match="last policy install failed"):
        await installed.evaluate("fedgate.plan.decision", ALLOWED)

    server.after_request = None
    await installed.install(MODULES, with_digest("sha256:5555"))
    assert (await installed.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True


async def test_failed_install_blocks_evaluation_until_one_succeeds(installed: OpaServerEvaluator) -> None:
    with pytest.raises(PolicyBundleError):
        await installed.install({"fedgate/plan.rego": "package fedgate.plan\n\nx :=\n"}, DATA)
    with pytest.raises(PolicyEvaluationError, match="last policy install failed"):
        await installed.evaluate("fedgate.plan.decision", ALLOWED)
    await installed.install(MODULES, DATA)
    assert (await installed.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True


async def test_digest_is_none_before_anything_is_installed(evaluator: OpaServerEvaluator) -> None:
    assert await evaluator.digest() is None


async def test_other_data_path(evaluator: OpaServerEvaluator, server: OpaRestServer) -> None:
    plan = PLAN.replace("fedgate", "staging")
    await evaluator.install({"plan.rego": plan}, with_digest("sha256:6666"), data_path="staging/registry")
    assert set(server.policies) == {"staging/plan.rego"}
    assert await evaluator.digest() == "sha256:6666"
    assert (await evaluator.evaluate("staging.plan.decision", ALLOWED))["allow"] is True
    with pytest.raises(PolicyBundleError, match="data_path"):
        await evaluator.install(MODULES, DATA, data_path="../x")


# -- transport failures ----------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (Faults(status=500), "HTTP 500"),
        (Faults(status=503), "HTTP 503"),
        (Faults(status=404), "HTTP 404"),
        (Faults(malformed=True), "not JSON"),
        (Faults(drop=True), "cannot reach OPA"),
        (Faults(delay_s=2.0), "did not answer .* within 0.2 s"),
    ],
)
async def test_server_faults_fail_closed_without_input_values(
    server: OpaRestServer, faults: Faults, message: str
) -> None:
    async with OpaServerEvaluator(server.url, timeout_s=0.2) as opa:
        await opa.install(MODULES, DATA)
        server.faults = faults
        with pytest.raises(PolicyEvaluationError, match=message) as info:
            await opa.evaluate("fedgate.plan.decision", {**ALLOWED, "subject": SECRET})
        assert not isinstance(info.value, UndefinedDecision)
        assert SECRET not in str(info.value)
        # The server comes back: so does the evaluator.
        server.faults = Faults()
        assert (await opa.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True


async def test_retries_stay_within_the_timeout(server: OpaRestServer) -> None:
    # Every attempt is slow: the client's retry must not stretch the call beyond timeout_s.
    server.faults = Faults(delay_s=2.0, methods=frozenset({"POST"}))
    async with OpaServerEvaluator(server.url, timeout_s=0.3) as opa:
        with pytest.raises(PolicyEvaluationError, match=r"within 0\.3 s"):
            await opa.evaluate("fedgate.plan.decision", ALLOWED)
    assert server.requests.count(("POST", "/v1/data/fedgate/plan/decision")) == 1


async def test_a_single_dropped_connection_is_retried(
    installed: OpaServerEvaluator, server: OpaRestServer
) -> None:
    server.faults = Faults(drop=True, times=1, methods=frozenset({"POST"}))
    assert (await installed.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True
    assert server.requests.count(("POST", "/v1/data/fedgate/plan/decision")) == 2


async def test_fault_during_install_fails_and_blocks_evaluation(
    evaluator: OpaServerEvaluator, server: OpaRestServer
) -> None:
    server.faults = Faults(status=500, methods=frozenset({"PUT"}), path_prefix="/v1/policies/")
    with pytest.raises(PolicyEvaluationError, match=r"internal_error|HTTP 500") as info:
        await evaluator.install(MODULES, DATA)
    assert not isinstance(info.value, PolicyBundleError)
    server.faults = Faults()
    with pytest.raises(PolicyEvaluationError, match="install failed"):
        await evaluator.evaluate("fedgate.plan.decision", ALLOWED)


async def test_connection_refused() -> None:
    async with OpaServerEvaluator(f"http://127.0.0.1:{free_port()}", timeout_s=TIMEOUT_S) as opa:
        with pytest.raises(PolicyEvaluationError, match="cannot reach OPA"):
            await opa.evaluate("fedgate.plan.decision", ALLOWED)
        with pytest.raises(PolicyEvaluationError, match="cannot reach OPA"):
            await opa.install(MODULES, DATA)


async def test_closed_evaluator_refuses(server: OpaRestServer) -> None:
    opa = OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S)
    await opa.install(MODULES, DATA)
    await opa.close()
    await opa.close()  # idempotent
    with pytest.raises(PolicyEvaluationError, match="closed"):
        await opa.evaluate("fedgate.plan.decision", ALLOWED)


# -- authentication and TLS ------------------------------------------------------


async def test_bearer_token() -> None:
    with serve_opa_rest(token="s3cret-token") as server:
        async with OpaServerEvaluator(server.url, token="s3cret-token", timeout_s=TIMEOUT_S) as opa:
            await opa.install(MODULES, DATA)
            assert (await opa.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True
        async with OpaServerEvaluator(server.url, token="wrong-token", timeout_s=TIMEOUT_S) as opa:
            with pytest.raises(PolicyEvaluationError, match="HTTP 401") as info:
                await opa.evaluate("fedgate.plan.decision", ALLOWED)
            assert "wrong-token" not in str(info.value)
            assert info.value.__cause__ is None  # aiohttp's error would carry the Authorization header
            with pytest.raises(PolicyEvaluationError, match="HTTP 401"):
                await opa.install(MODULES, DATA)


def opa_tls(pki: PKILayout, *, mutual: bool) -> ServerTLS:
    server_cert = pki.adapter_server("police")
    return ServerTLS(cert=server_cert.cert, key=server_cert.key, client_ca=pki.ca_cert if mutual else None)


async def test_https_verified_against_our_ca_with_client_certificate(pki: PKILayout) -> None:
    with serve_opa_rest(opa_tls(pki, mutual=True)) as server:
        assert server.url.startswith("https://127.0.0.1:")
        gateway = pki.gateway
        async with OpaServerEvaluator(
            server.url, ca_file=pki.ca_cert, client_cert=(gateway.cert, gateway.key), timeout_s=TIMEOUT_S
        ) as opa:
            await opa.install(MODULES, DATA)
            assert (await opa.evaluate("fedgate.plan.decision", ALLOWED))["allow"] is True


async def test_https_by_host_name(pki: PKILayout) -> None:
    with serve_opa_rest(opa_tls(pki, mutual=False)) as server:
        url = server.url.replace("127.0.0.1", "localhost")  # the certificate names localhost too
        async with OpaServerEvaluator(url, ca_file=pki.ca_cert, timeout_s=TIMEOUT_S) as opa:
            assert await opa.digest() is None


async def test_https_with_another_ca_fails(pki: PKILayout, other_pki: PKILayout) -> None:
    with serve_opa_rest(opa_tls(pki, mutual=False)) as server:
        async with OpaServerEvaluator(server.url, ca_file=other_pki.ca_cert, timeout_s=TIMEOUT_S) as opa:
            with pytest.raises(PolicyEvaluationError, match="certificate verify failed"):
                await opa.evaluate("fedgate.plan.decision", ALLOWED)
        # Without ca_file the system trust store is used, which does not know our CA either.
        async with OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S) as opa:
            with pytest.raises(PolicyEvaluationError, match="certificate verify failed"):
                await opa.install(MODULES, DATA)
    assert server.state.policies == {}


async def test_https_server_requires_our_client_certificate(pki: PKILayout, other_pki: PKILayout) -> None:
    with serve_opa_rest(opa_tls(pki, mutual=True)) as server:
        async with OpaServerEvaluator(server.url, ca_file=pki.ca_cert, timeout_s=TIMEOUT_S) as opa:
            with pytest.raises(PolicyEvaluationError, match="cannot reach OPA"):
                await opa.evaluate("fedgate.plan.decision", ALLOWED)
        stranger = other_pki.gateway
        async with OpaServerEvaluator(
            server.url, ca_file=pki.ca_cert, client_cert=(stranger.cert, stranger.key), timeout_s=TIMEOUT_S
        ) as opa:
            with pytest.raises(PolicyEvaluationError, match="cannot reach OPA"):
                await opa.evaluate("fedgate.plan.decision", ALLOWED)
    assert server.connection_errors >= 2


async def test_plain_http_to_tls_server_fails(pki: PKILayout) -> None:
    with serve_opa_rest(opa_tls(pki, mutual=False)) as server:
        async with OpaServerEvaluator(server.url.replace("https://", "http://"), timeout_s=TIMEOUT_S) as opa:
            with pytest.raises(PolicyEvaluationError):
                await opa.evaluate("fedgate.plan.decision", ALLOWED)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8181", "http://localhost:8181", "http://[::1]:8181", "http://127.8.9.10"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    OpaServerEvaluator(url)


@pytest.mark.parametrize("url", ["http://opa:8181", "http://10.0.0.5:8181", "http://opa.border.nz"])
def test_plain_http_elsewhere_needs_the_explicit_flag(url: str) -> None:
    with pytest.raises(OpaServerConfigError, match="plain http to a non-loopback host"):
        OpaServerEvaluator(url)
    OpaServerEvaluator(url, allow_insecure_http=True)


def test_tls_settings_with_plain_http_are_refused(pki: PKILayout) -> None:
    with pytest.raises(OpaServerConfigError, match="need https"):
        OpaServerEvaluator("http://127.0.0.1:8181", ca_file=pki.ca_cert)
    with pytest.raises(OpaServerConfigError, match="need https"):
        OpaServerEvaluator("http://127.0.0.1:8181", client_cert=(pki.gateway.cert, pki.gateway.key))


@pytest.mark.parametrize(
    "url",
    [
        "opa:8181",
        "ftp://opa:8181",
        "https://user:pw@opa:8181",
        "https://opa:8181/v1",
        "https://opa:8181?x=1",
        "https://:8181",
        "https://opa:99999",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(OpaServerConfigError):
        OpaServerEvaluator(url)


def test_unreadable_tls_files_are_config_errors(tmp_path: Path, pki: PKILayout) -> None:
    with pytest.raises(OpaServerConfigError, match="CA file"):
        OpaServerEvaluator("https://opa:8181", ca_file=tmp_path / "missing.pem")
    with pytest.raises(OpaServerConfigError, match="client certificate"):
        OpaServerEvaluator(
            "https://opa:8181", ca_file=pki.ca_cert, client_cert=(pki.gateway.cert, pki.ca_key)
        )


def test_timeout_must_be_positive() -> None:
    with pytest.raises(OpaServerConfigError, match="timeout_s"):
        OpaServerEvaluator("http://127.0.0.1:8181", timeout_s=0)
