"""Regenerate the Python code for ``proto/`` into ``fedgate/v1/``.

One command, reproducible: ``python tools/gen_proto.py``. The drift test
(``tests/test_proto_drift.py``) runs the same generator into a temporary
directory and fails when its output differs from the checked-in files, so the
generated package can never silently fall behind the contract.

Generators (pinned in ``pyproject.toml``'s ``dev`` extra): grpcio-tools for
messages and stubs, mypy-protobuf for the ``.pyi`` type stubs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("fedgate") / "v1"


def _plugin(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        raise SystemExit(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return path


def generate(out_root: Path) -> list[Path]:
    """Generate into ``out_root/fedgate/v1`` and return the files written."""
    protos = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    (out_root / PACKAGE_DIR).mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    init = out_root / PACKAGE_DIR / "__init__.py"
    init.write_text('"""Generated from proto/fedgate/v1 by tools/gen_proto.py. Do not edit."""\n')
    return sorted(p for p in (out_root / PACKAGE_DIR).iterdir() if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: the repository)")
    ns = parser.parse_args()
    if ns.out == ROOT:
        target = ROOT / PACKAGE_DIR
        for old in target.glob("*_pb2*.py*"):
            old.unlink()
    for path in generate(ns.out):
        print(path.relative_to(ns.out))


if __name__ == "__main__":
    main()
