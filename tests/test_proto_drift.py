"""The checked-in generated code is exactly what tools/gen_proto.py makes from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    """Regenerating from proto/ gives byte-identical files; run `make proto` when this fails."""
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "fedgate" / "v1").iterdir() if p.is_file()}
    checked_in = {p.name: p.read_bytes() for p in (ROOT / "fedgate" / "v1").iterdir() if p.is_file()}
    assert sorted(fresh) == sorted(checked_in), "generated file set differs; run `make proto`"
    stale = sorted(name for name in fresh if fresh[name] != checked_in[name])
    assert not stale, f"generated code is stale for {stale}; run `make proto`"


def test_drift_check_detects_a_changed_proto(tmp_path: Path) -> None:
    """A field added to a proto changes the generated output, so the drift test can fail."""
    work = tmp_path / "repo"
    (work / "tools").mkdir(parents=True)
    (work / "tools" / "gen_proto.py").write_bytes((ROOT / "tools" / "gen_proto.py").read_bytes())
    proto_dir = work / "proto" / "fedgate" / "v1"
    proto_dir.mkdir(parents=True)
    for p in (ROOT / "proto" / "fedgate" / "v1").glob("*.proto"):
        (proto_dir / p.name).write_bytes(p.read_bytes())
    common = proto_dir / "common.proto"
    common.write_text(
        common.read_text().replace(
            "message Field {\n  string name = 1;",
            "message Field {\n  string drifted = 9;\n  string name = 1;",
        )
    )
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, str(work / "tools" / "gen_proto.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert (out / "fedgate" / "v1" / "common_pb2.py").read_bytes() != (
        ROOT / "fedgate" / "v1" / "common_pb2.py"
    ).read_bytes()
