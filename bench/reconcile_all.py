"""Benchmark: `reconcile --all` over a few hundred images in three moto accounts.

Starts a moto server on 127.0.0.1, provisions the ledger, fills dev's registry with REPOS
repositories of IMAGES images each (prod holds every other image, DR none: as if they predate
the rules), then runs the real command line as a subprocess and prints its time, the registry
calls it made and their rate against the --rate bound, and what it recorded.

    python bench/reconcile_all.py [--repos 20] [--images 15] [--rate 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.emulator import start_moto  # noqa: E402

DEV, PROD, DR = (
    ("111111111111", "us-west-2"),
    ("222222222222", "eu-west-1"),
    ("333333333333", "us-east-1"),
)
ROLE = "ecr-replication-auditor-read"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--images", type=int, default=15)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
    )
    server = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    try:
        return run(args)
    finally:
        server.stop()


def run(args: argparse.Namespace) -> int:
    import boto3

    from chalicelib.adapters.roles import AuditRoles
    from chalicelib.local.provision import provision
    from tests import events as ev
    from tests.registry_helpers import put_image

    session = boto3.session.Session()
    env = provision(session, suffix="bench")
    env.update(
        AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
        REPLICATION_CONFIG=json.dumps([ev.registry(DEV, ([PROD, DR], ["team/"]))]),
        AUDIT_ROLE_NAME=ROLE,
        REPLICATION_GRACE_SECONDS="1",  # the images below are "old" a second after their push
    )
    roles = AuditRoles(ROLE, session=session)
    clients = {where: roles.client("ecr", *where) for where in (DEV, PROD, DR)}
    for r in range(args.repos):
        name = f"team/svc{r:03d}"
        for client in clients.values():
            client.create_repository(repositoryName=name)
        for i in range(args.images):
            digest = ev.digest(f"bench-{r}-{i}")
            put_image(clients[DEV], name, digest, f"v{i}")
            if i % 2 == 0:
                put_image(clients[PROD], name, digest, f"v{i}")
    time.sleep(1.2)
    with tempfile.TemporaryDirectory() as scratch:
        env_file = Path(scratch) / "env.json"
        env_file.write_text(json.dumps(env))
        command = [sys.executable, "-m", "chalicelib.cli", "reconcile", "--all", "--json"]
        command += ["--rate", str(args.rate), "--env-file", str(env_file)]
        start = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=os.environ)
        seconds = time.monotonic() - start
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    report = json.loads(done.stdout)
    run_ = report["this_run"]
    print(
        f"reconcile --all: {report['repositories']} repositories, {report['images']} images in "
        f"{seconds:.1f} s (walk {run_['seconds']} s); {run_['registry_calls']} registry calls, "
        f"{run_['calls_per_second']} calls/s (bound --rate {args.rate:g}); recorded "
        f"{report['recorded']} ({report['predating']} new to the ledger), "
        f"{report['never_total']} replicas never reached"
    )
    print("progress (stderr, not a terminal):")
    print("\n".join("  " + line for line in done.stderr.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
