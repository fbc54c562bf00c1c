"""The policy bundle as a standard OPA bundle tarball, for an OPA server that loads it at start.

``write_opa_bundle(bundle, out)`` writes a gzipped tar in OPA's bundle format
(``opa run --server --bundle OUT.tar.gz`` loads it)::

    /.manifest                   {"revision": <bundle digest>, "roots": ["fedgate"], "rego_version": 1}
    /fedgate/law.rego            every policy module at its path in the bundle (no *_test.rego)
    /fedgate/plan.rego
    /fedgate/release.rego
    /fedgate/registry/data.json  the data document: OPA puts a data.json at the path of its
                                 directory, so it becomes data.fedgate.registry (DATA_ROOT)

``roots: ["fedgate"]`` makes OPA refuse a module or data outside ``data.fedgate`` at load, and
makes everything under it read-only to the REST API (no one can push over the bundle).
``revision`` is the fedgate bundle digest, so ``data.system.bundles[...].manifest.revision``
names the same bundle as ``data.fedgate.registry.bundle.digest`` and the audit log.

The tarball is deterministic: entries sorted, each a regular file with mtime 0, uid/gid 0,
no user or group names, mode 0644; JSON with sorted keys; gzip header mtime 0 and no file
name. The same bundle always gives the same bytes (``sha256sum`` of two builds agrees).

``read_opa_bundle(path)`` reads such a tarball back (the manifest, the modules and the data
tree, placed by directory as OPA does); the tests use it to load exactly what OPA would.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from fedgate.policy.bundle import PolicyBundle
from fedgate.policy.embedded import DATA_ROOT
from fedgate.policy.errors import PolicyBundleError

__all__ = [
    "MANIFEST",
    "OPA_BUNDLE_ROOTS",
    "OpaBundle",
    "opa_bundle_bytes",
    "read_opa_bundle",
    "write_opa_bundle",
]

#: The bundle's only root: the packages (``fedgate.plan`` ...) and the data (``fedgate.registry``).
OPA_BUNDLE_ROOTS: Final = (DATA_ROOT[0],)
MANIFEST: Final = ".manifest"
_DATA_FILE: Final = "data.json"
_FILE_MODE: Final = 0o644
#: A read tarball larger than this (unpacked) is refused: ours are a few hundred KiB.
_MAX_UNPACKED_BYTES: Final = 64 << 20


@dataclass(frozen=True)
class OpaBundle:
    """What an OPA bundle tarball holds: its manifest, Rego modules by path, and the data tree."""

    manifest: Mapping[str, Any]
    modules: Mapping[str, str]  # path without the leading "/" -> Rego source
    data: Mapping[str, Any]  # the whole data document, e.g. {"fedgate": {"registry": {...}}}


def _json_bytes(value: Any, what: str) -> bytes:
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PolicyBundleError(f"{what} is not JSON: {exc}") from None
    return text.encode("utf-8")


def _entries(bundle: PolicyBundle) -> dict[str, bytes]:
    """Bundle path (no leading "/") -> file content."""
    manifest = {"revision": bundle.digest, "roots": list(OPA_BUNDLE_ROOTS), "rego_version": 1}
    data_path = "/".join((*DATA_ROOT, _DATA_FILE))
    entries: dict[str, bytes] = {
        MANIFEST: _json_bytes(manifest, "the manifest"),
        data_path: _json_bytes(dict(bundle.data), "the data document"),
    }
    for path, source in bundle.policy_modules.items():
        parts = PurePosixPath(path).parts
        if (
            not path.endswith(".rego")
            or PurePosixPath(path).is_absolute()
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise PolicyBundleError(f"policy module path {path!r} must be a relative path to a .rego file")
        entries[path] = source.encode("utf-8")
    return entries


def opa_bundle_bytes(bundle: PolicyBundle) -> bytes:
    """The tarball's bytes (deterministic: the same bundle gives the same bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = _entries(bundle)
        for path in sorted(entries, key=lambda p: p.encode()):
            content = entries[path]
            info = tarfile.TarInfo("/" + path)  # OPA's own `opa build` writes "/.manifest", "/x.rego"
            info.size = len(content)
            info.mtime = 0
            info.mode = _FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(content))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def write_opa_bundle(bundle: PolicyBundle, out: Path) -> Path:
    """Write ``bundle`` as an OPA bundle tarball at ``out`` (atomically, mode 0644); return ``out``.

    Raises ``PolicyBundleError`` if the bundle cannot be written as one (a module path outside
    the bundle, data that is not JSON) or the file cannot be written.
    """
    payload = opa_bundle_bytes(bundle)
    directory = out.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PolicyBundleError(f"{out}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)  # readable by the OPA container's user, whoever that is
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PolicyBundleError(f"{out}: cannot write: {exc.strerror}") from None
    return out


def _place(tree: dict[str, Any], directory: tuple[str, ...], value: Any, where: str) -> None:
    if not directory:
        if not isinstance(value, dict):
            raise PolicyBundleError(f"{where}: the root data.json must hold an object")
        _merge(tree, value, where)
        return
    node = tree
    for segment in directory[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise PolicyBundleError(f"{where}: data conflicts at {segment}")
        node = child
    last = directory[-1]
    if last in node:
        if not (isinstance(node[last], dict) and isinstance(value, dict)):
            raise PolicyBundleError(f"{where}: data conflicts at {last}")
        _merge(node[last], value, where)
    else:
        node[last] = value


def _merge(into: dict[str, Any], value: dict[str, Any], where: str) -> None:
    for key, item in value.items():
        if key in into:
            if not (isinstance(into[key], dict) and isinstance(item, dict)):
                raise PolicyBundleError(f"{where}: data conflicts at {key}")
            _merge(into[key], item, where)
        else:
            into[key] = item


def read_opa_bundle(path: Path) -> OpaBundle:
    """Read an OPA bundle tarball: manifest, ``.rego`` modules and ``data.json`` files placed by directory."""
    manifest: dict[str, Any] | None = None
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    unpacked = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                name = member.name.lstrip("/")
                parts = PurePosixPath(name).parts
                if any(p in (".", "..") for p in parts) or not parts:
                    raise PolicyBundleError(f"{path}: entry {member.name!r} is not a path inside the bundle")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise PolicyBundleError(f"{path}: entry {member.name!r} is not a regular file")
                unpacked += member.size
                if unpacked > _MAX_UNPACKED_BYTES:
                    raise PolicyBundleError(f"{path}: more than {_MAX_UNPACKED_BYTES} bytes unpacked")
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file
                content = handle.read()
                try:
                    if name == MANIFEST:
                        loaded = json.loads(content)
                        if not isinstance(loaded, dict):
                            raise PolicyBundleError(f"{path}: {MANIFEST} is not a JSON object")
                        manifest = loaded
                    elif name.endswith(".rego"):
                        modules[name] = content.decode("utf-8")
                    elif parts[-1] == _DATA_FILE:
                        _place(data, parts[:-1], json.loads(content), f"{path}: {name}")
                except (UnicodeDecodeError, ValueError) as exc:
                    raise PolicyBundleError(f"{path}: {name}: {exc}") from None
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise PolicyBundleError(f"{path}: not a readable OPA bundle: {exc}") from None
    if manifest is None:
        raise PolicyBundleError(f"{path}: no {MANIFEST}")
    return OpaBundle(manifest=manifest, modules=modules, data=data)
