"""`demo`: the local AWS emulator, a simulated day across three accounts, the dashboard."""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.cli.common import USAGE, CliError, Commands


def run(args: argparse.Namespace) -> int:
    from chalicelib.local.demo import run_demo

    if not 1 <= args.port <= 65535:
        raise CliError("--port must be from 1 to 65535", USAGE)
    if args.speed < 0:
        raise CliError("--speed must be 0 or more seconds", USAGE)
    return run_demo(port=args.port, once=args.once, speed=args.speed, env_file=Path(args.env_file))


def register(commands: Commands) -> None:
    demo = commands.add(
        "demo",
        "run a local AWS emulator, replay a simulated day across three accounts, serve the "
        "dashboard",
        "Everything runs on 127.0.0.1; no AWS account is touched.\n\n"
        "examples:\n  python -m chalicelib.cli demo\n  python -m chalicelib.cli demo --once\n"
        "  python -m chalicelib.cli demo --port 9000 --speed 0.2",
    )
    demo.add_argument(
        "--port", type=int, default=8000, metavar="N", help="HTTP port on 127.0.0.1 (default 8000)"
    )
    demo.add_argument("--once", action="store_true", help="exit after printing the status")
    demo.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds to pause between events, to watch the alerts arrive (default 0)",
    )
    demo.add_argument(
        "--env-file",
        default="demo.env.json",
        metavar="F",
        help="where to write, while it serves, the environment that points the other commands "
        "at this demo (default demo.env.json; removed when it stops)",
    )
    demo.set_defaults(func=run)
