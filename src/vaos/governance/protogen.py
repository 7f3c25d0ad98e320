"""Generate the Python code for ``protos/kernel.proto`` into ``vaos/governance/_pb``.

The generated files are committed; ``tests/governance/test_proto.py`` regenerates them with
grpc_tools and fails when they differ. Run after editing the proto::

    .venv/bin/python -m vaos.governance.protogen
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROTO_NAME = "kernel.proto"
GENERATED = ("kernel_pb2.py", "kernel_pb2.pyi", "kernel_pb2_grpc.py")
PACKAGE_DIR = Path(__file__).resolve().parent / "_pb"


def default_proto() -> Path:
    """``protos/kernel.proto`` of the source tree this module lives in."""
    return Path(__file__).resolve().parents[3] / "protos" / PROTO_NAME


def generate(proto: Path, out_dir: Path) -> list[Path]:
    """Compile ``proto`` with grpc_tools into ``out_dir``; returns the files written.

    The generated ``kernel_pb2_grpc.py`` imports its sibling as a top-level module; it is
    rewritten into a relative import so that the code works inside the package.
    """
    from importlib.resources import files

    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    include = str(files("grpc_tools").joinpath("_proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{proto.parent}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        proto.name,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {proto}")
    grpc_file = out_dir / "kernel_pb2_grpc.py"
    text = grpc_file.read_text(encoding="utf-8")
    text = text.replace("import kernel_pb2 as kernel__pb2", "from . import kernel_pb2 as kernel__pb2")
    grpc_file.write_text(text, encoding="utf-8")
    return [out_dir / name for name in GENERATED]


def generated_differs(proto: Path | None = None, package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Names of committed files that differ from a fresh generation (empty when in sync)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(proto or default_proto(), Path(tmp))
        return [
            path.name
            for path in fresh
            if not (package_dir / path.name).exists()
            or (package_dir / path.name).read_bytes() != path.read_bytes()
        ]


def main() -> int:
    written = generate(default_proto(), PACKAGE_DIR)
    for path in written:
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
