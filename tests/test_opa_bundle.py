"""The OPA bundle tarball (``fedgate policy bundle``) and the evaluator's bundle mode (``attach``).

The tarball is built from the shipped ``policies/``: it must be byte-for-byte deterministic,
carry the manifest OPA expects (revision = our digest, roots = ``fedgate``, Rego v1), hold the
policy modules (no tests) and the data at ``data.fedgate.registry``, and, loaded into OPA's own
engine (``opa_bindings``) exactly as unpacked, decide as the embedded engine does. Bundle mode is
exercised against ``tests/opa_rest`` preloaded with the tarball's content as ``opa run --bundle``
would hold it: ``attach`` verifies the digest, only reads, and refuses a server with another one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import typer
from typer.testing import CliRunner

from fedgate.policy.bundle import DEFAULT_BUNDLE_DIR, PolicyBundle, load_bundle
from fedgate.policy.cli import app
from fedgate.policy.embedded import RegorusEvaluator
from fedgate.policy.errors import PolicyBundleError, PolicyEvaluationError, UndefinedDecision
from fedgate.policy.opa_bundle import OpaBundle, opa_bundle_bytes, read_opa_bundle, write_opa_bundle
from fedgate.policy.opa_server import OpaServerEvaluator
from tests import policy_inputs as gen
from tests.policy_inputs import ERROR, UNDEFINED, canonical, embedded_outcome, opa_outcome

OpaEngine = gen.opa_engine_class()

from tests.opa_rest import OpaRestServer, serve_opa_rest  # noqa: E402  # after the oracle check: it imports opa_bindings

PLANS: Final = 300
RELEASES: Final = 300
#: Of those, how many also go through attach mode over REST (one HTTP request each).
REST_DECISIONS: Final = 60
TIMEOUT_S: Final = 30.0
WRITES: Final = frozenset({"PUT", "DELETE", "PATCH"})
_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)


@pytest.fixture(scope="module")
def bundle() -> PolicyBundle:
    return load_bundle()


@pytest.fixture(scope="module")
def tarball(bundle: PolicyBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_opa_bundle(bundle, tmp_path_factory.mktemp("opa") / "fedgate.tar.gz")


@pytest.fixture(scope="module")
def unpacked(tarball: Path) -> OpaBundle:
    return read_opa_bundle(tarball)


@pytest.fixture(scope="module")
def embedded(bundle: PolicyBundle) -> RegorusEvaluator:
    return RegorusEvaluator(bundle.policy_modules, bundle.data)


@pytest.fixture(scope="module")
def opa_from_tarball(unpacked: OpaBundle) -> Iterator[Any]:
    """OPA's engine holding exactly what the tarball holds (modules by bundle path, data as placed)."""
    engine = OpaEngine()
    try:
        for path, source in sorted(unpacked.modules.items()):
            engine.add_policy(path, source)
        engine.add_data(dict(unpacked.data))
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="module")
def inputs(bundle: PolicyBundle, embedded: RegorusEvaluator) -> list[tuple[str, dict[str, Any]]]:
    plans = gen.plan_inputs(bundle, count=PLANS)
    releases = gen.release_inputs(bundle, lambda doc: embedded.evaluate(gen.PLAN_RULE, doc), count=RELEASES)
    return [(gen.PLAN_RULE, doc) for doc in plans] + [(gen.RELEASE_RULE, doc) for doc in releases]


# -- the tarball -----------------------------------------------------------------------------


def test_tarball_is_deterministic(bundle: PolicyBundle, tarball: Path, tmp_path: Path) -> None:
    """The same bundle gives the same bytes: loaded again, written again, elsewhere."""
    again = write_opa_bundle(load_bundle(), tmp_path / "again.tar.gz")
    assert again.read_bytes() == tarball.read_bytes()
    assert opa_bundle_bytes(bundle) == tarball.read_bytes()
    raw = tarball.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME
    assert not raw[3] & 0x08  # no FNAME in the gzip header
    with tarfile.open(tarball, "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=str.encode)
    for m in members:
        assert m.isfile(), m.name
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644), m.name
        assert m.name.startswith("/")  # as `opa build` writes them
        assert not m.pax_headers, m.name
    assert tarball.stat().st_mode & 0o777 == 0o644


def test_a_changed_bundle_gives_another_revision(bundle: PolicyBundle, tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(DEFAULT_BUNDLE_DIR, copy)
    path = copy / "fedgate" / "plan.rego"
    path.write_text(path.read_text() + "\n# reviewed again\n")
    changed = load_bundle(copy)
    assert changed.digest != bundle.digest
    other = read_opa_bundle(write_opa_bundle(changed, tmp_path / "changed.tar.gz"))
    assert other.manifest["revision"] == changed.digest
    assert other.data["fedgate"]["registry"]["bundle"]["digest"] == changed.digest


def test_manifest_roots_and_revision(bundle: PolicyBundle, tarball: Path, unpacked: OpaBundle) -> None:
    assert dict(unpacked.manifest) == {"revision": bundle.digest, "roots": ["fedgate"], "rego_version": 1}
    with tarfile.open(tarball, "r:gz") as tar:
        names = tar.getnames()
    assert names == [
        "/.manifest",
        "/fedgate/law.rego",
        "/fedgate/plan.rego",
        "/fedgate/registry/data.json",
        "/fedgate/release.rego",
    ]


def test_modules_and_data_are_the_bundles(bundle: PolicyBundle, unpacked: OpaBundle) -> None:
    """Policy modules as reviewed, no tests; the data at data.fedgate.registry carrying the digest."""
    assert dict(unpacked.modules) == bundle.policy_modules
    assert not any(p.endswith("_test.rego") for p in unpacked.modules)
    assert bundle.test_modules  # there are tests in the bundle; they are left out
    assert dict(unpacked.data) == {"fedgate": {"registry": json.loads(canonical(dict(bundle.data)))}}
    assert unpacked.data["fedgate"]["registry"]["bundle"]["digest"] == bundle.digest
    # OPA refuses a bundle whose packages lie outside its roots.
    for path, source in unpacked.modules.items():
        match = _PACKAGE.search(source)
        assert match is not None, path
        assert match.group(1).split(".")[0] == "fedgate", path


def test_read_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(PolicyBundleError, match="not a readable OPA bundle"):
        read_opa_bundle(junk)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("/fedgate/x.rego")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    no_manifest = tmp_path / "no-manifest.tar.gz"
    no_manifest.write_bytes(gzip.compress(raw.getvalue()))
    with pytest.raises(PolicyBundleError, match=r"no \.manifest"):
        read_opa_bundle(no_manifest)


def test_write_to_a_missing_directory_is_a_bundle_error(bundle: PolicyBundle, tmp_path: Path) -> None:
    with pytest.raises(PolicyBundleError, match="cannot write"):
        write_opa_bundle(bundle, tmp_path / "missing" / "fedgate.tar.gz")
    assert not list(tmp_path.iterdir())


# -- decisions: OPA on the tarball's content vs the embedded engine ----------------------------


def test_opa_on_the_tarball_decides_as_the_embedded_engine(
    embedded: RegorusEvaluator, opa_from_tarball: Any, inputs: list[tuple[str, dict[str, Any]]]
) -> None:
    differing = []
    outcomes = []
    for rule, doc in inputs:
        ours, theirs = embedded_outcome(embedded, rule, doc), opa_outcome(opa_from_tarball, rule, doc)
        outcomes.append(ours)
        if ours != theirs:
            differing.append((rule, doc, ours, theirs))
    assert not differing, differing[:3]
    # The sample exercises real decisions, not just refusals of malformed input.
    assert sum('"FG-ALLOW-MOU"' in o for o in outcomes) > 10
    assert sum('"action":"release"' in o for o in outcomes) > 10
    assert sum('"action":"withhold"' in o for o in outcomes) > 10


# -- attach (bundle mode) ----------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[OpaRestServer]:
    with serve_opa_rest() as running:
        yield running


@pytest.fixture
def bundle_server(server: OpaRestServer, unpacked: OpaBundle) -> OpaRestServer:
    """A server that loaded the tarball at start (``opa run --server --bundle``)."""
    server.preload(dict(unpacked.modules), dict(unpacked.data), roots=tuple(unpacked.manifest["roots"]))
    return server


@pytest.fixture
async def evaluator(server: OpaRestServer) -> AsyncIterator[OpaServerEvaluator]:
    async with OpaServerEvaluator(server.url, timeout_s=TIMEOUT_S) as opa:
        yield opa


def writes(server: OpaRestServer) -> list[tuple[str, str]]:
    return [r for r in server.requests if r[0] in WRITES]


async def test_attach_verifies_the_digest_then_decides_without_writing(
    bundle_server: OpaRestServer,
    evaluator: OpaServerEvaluator,
    bundle: PolicyBundle,
    embedded: RegorusEvaluator,
    inputs: list[tuple[str, dict[str, Any]]],
) -> None:
    await evaluator.attach(bundle.digest)
    assert bundle_server.requests == [("POST", "/v1/data/fedgate/registry/bundle/digest")]
    assert await evaluator.digest() == bundle.digest

    step = max(1, len(inputs) // REST_DECISIONS)
    for rule, doc in inputs[::step]:
        try:
            theirs = canonical(await evaluator.evaluate(rule, doc))
        except UndefinedDecision:
            theirs = UNDEFINED
        except PolicyEvaluationError:
            theirs = ERROR
        assert theirs == embedded_outcome(embedded, rule, doc), (rule, doc)
    decision = await evaluator.evaluate(gen.PLAN_RULE, gen.typical_plan_input())
    assert decision["bundle_digest"] == bundle.digest
    assert writes(bundle_server) == []


async def test_attach_to_a_server_with_another_digest_fails_and_evaluation_refuses(
    server: OpaRestServer, evaluator: OpaServerEvaluator, bundle: PolicyBundle, unpacked: OpaBundle
) -> None:
    other = json.loads(json.dumps(dict(unpacked.data)))
    other["fedgate"]["registry"]["bundle"]["digest"] = "sha256:" + hashlib.sha256(b"another").hexdigest()
    server.preload(dict(unpacked.modules), other, roots=("fedgate",))
    with pytest.raises(PolicyEvaluationError, match="OPA holds bundle digest 'sha256:") as info:
        await evaluator.attach(bundle.digest)
    assert bundle.digest in str(info.value)
    with pytest.raises(PolicyEvaluationError, match="the last policy attach failed"):
        await evaluator.evaluate(gen.PLAN_RULE, gen.typical_plan_input())
    assert writes(server) == []
    # Only the digest was read: the refused decision never reached the server.
    assert server.requests == [("POST", "/v1/data/fedgate/registry/bundle/digest")]


async def test_attach_to_an_empty_server_fails(server: OpaRestServer, evaluator: OpaServerEvaluator) -> None:
    with pytest.raises(PolicyEvaluationError, match=r"OPA holds no bundle digest at data\.fedgate\.registry"):
        await evaluator.attach("sha256:1234")
    with pytest.raises(PolicyEvaluationError, match="attach failed"):
        await evaluator.evaluate(gen.PLAN_RULE, gen.typical_plan_input())
    assert writes(server) == []


async def test_a_failed_attach_recovers_once_the_server_has_the_bundle(
    server: OpaRestServer, evaluator: OpaServerEvaluator, bundle: PolicyBundle, unpacked: OpaBundle
) -> None:
    with pytest.raises(PolicyEvaluationError):
        await evaluator.attach(bundle.digest)
    server.preload(dict(unpacked.modules), dict(unpacked.data), roots=("fedgate",))
    await evaluator.attach(bundle.digest)
    decision = await evaluator.evaluate(gen.PLAN_RULE, gen.typical_plan_input())
    assert decision["bundle_digest"] == bundle.digest
    assert writes(server) == []


async def test_attach_fails_closed_when_opa_is_unreachable(bundle: PolicyBundle) -> None:
    with serve_opa_rest() as gone:
        url = gone.url
    async with OpaServerEvaluator(url, timeout_s=TIMEOUT_S) as opa:
        with pytest.raises(PolicyEvaluationError, match="cannot reach OPA"):
            await opa.attach(bundle.digest)
        with pytest.raises(PolicyEvaluationError, match="attach failed"):
            await opa.evaluate(gen.PLAN_RULE, gen.typical_plan_input())


@pytest.mark.parametrize("digest", ["", None])
async def test_attach_needs_a_digest(
    server: OpaRestServer, evaluator: OpaServerEvaluator, digest: Any
) -> None:
    with pytest.raises(PolicyBundleError, match="expected bundle digest"):
        await evaluator.attach(digest)
    assert server.requests == []


async def test_pushing_to_a_bundle_server_is_refused(
    bundle_server: OpaRestServer, evaluator: OpaServerEvaluator, bundle: PolicyBundle
) -> None:
    """Why bundle mode only verifies: the bundle's roots make data.fedgate read-only to the API."""
    with pytest.raises(PolicyBundleError, match="owned by bundle"):
        await evaluator.install(bundle.policy_modules, bundle.data)
    with pytest.raises(PolicyEvaluationError, match="install failed"):
        await evaluator.evaluate(gen.PLAN_RULE, gen.typical_plan_input())
    # The server still holds the bundle it loaded; attaching succeeds.
    await evaluator.attach(bundle.digest)
    assert (await evaluator.evaluate(gen.PLAN_RULE, gen.typical_plan_input()))[
        "bundle_digest"
    ] == bundle.digest


# -- the command -----------------------------------------------------------------------------

_root = typer.Typer()
_root.add_typer(app, name="policy")  # mounted as fedgate/cli.py mounts it


def test_cli_writes_the_tarball(tarball: Path, bundle: PolicyBundle, tmp_path: Path) -> None:
    out = tmp_path / "fedgate.tar.gz"
    result = CliRunner().invoke(
        _root, ["policy", "bundle", str(out), "--bundle", str(DEFAULT_BUNDLE_DIR)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == tarball.read_bytes()
    assert bundle.digest in result.stdout


def test_cli_errors_are_one_line_exit_1(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})  # rich wraps at the terminal width
    result = runner.invoke(
        _root, ["policy", "bundle", str(tmp_path / "out.tar.gz"), "--bundle", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.tar.gz").exists()
    result = runner.invoke(_root, ["policy", "bundle", str(tmp_path / "missing" / "out.tar.gz")])
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
