"""Command line: `python -m chalicelib.cli COMMAND` (alias `ecr-audit`); `--help` lists them.

Every command fails with one line, `error: <problem>; <fix>`, and exit code 2 for bad usage or
input or 1 for a failed check or an unreachable service (chalicelib/local/aws_errors.py).
One module a command (its subparser next to its body), shared helpers in common.py, the top
parser and `main` in top.py.
"""

from chalicelib.cli.top import main, parser

__all__ = ["main", "parser"]
