"""Add bytecode to the deployment package (`make package` runs it on deployment.zip).

Lambda's code directory is read-only, so Python cannot cache what it compiles there: without
`.pyc` files in the zip, every cold start compiles every module it imports from source (the
app's own modules cost ~20 ms that way; `chalice package` unpacks the dependencies' wheels
without compiling them either). The bytecode is checked against its source's hash, not its
mtime: a zip keeps mtimes to two seconds, and a stale `.pyc` can never shadow edited source.
It must be compiled by the runtime's Python version (3.13): the package target runs this with
the project's venv, which `make venv` builds with that version.
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME = (3, 13)


def compile_tree(directory: Path) -> None:
    """Write `__pycache__/*.pyc` beside every module under `directory` (hash-checked)."""
    ok = compileall.compile_dir(
        str(directory),
        quiet=1,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        stripdir=str(directory),
        prependdir="/var/task",  # where Lambda puts the code: tracebacks name real paths
    )
    if not ok:
        raise SystemExit(f"error: a module under {directory} does not compile")


def compile_zip(path: Path) -> int:
    """Rewrite the zip at `path` with bytecode for each of its modules; the number added."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "package"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(root)
            modes = {info.filename: info.external_attr for info in archive.infolist()}
        compile_tree(root)
        added = 0
        rewritten = Path(tmp) / "deployment.zip"
        with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                name = file.relative_to(root).as_posix()
                info = zipfile.ZipInfo.from_file(file, name)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = modes.get(name, 0o644 << 16)
                added += name not in modes
                archive.writestr(info, file.read_bytes())
        shutil.move(rewritten, path)
    return added


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: compile_package.py DEPLOYMENT_ZIP", file=sys.stderr)
        return 2
    if sys.version_info[:2] != RUNTIME:
        print(
            f"error: compile with Python {RUNTIME[0]}.{RUNTIME[1]}, the Lambda runtime's",
            file=sys.stderr,
        )
        return 2
    path = Path(argv[0])
    if not zipfile.is_zipfile(path):
        print(f"error: {path} is not a zip file", file=sys.stderr)
        return 2
    added = compile_zip(path)
    print(f"{path}: {added} bytecode files added")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
