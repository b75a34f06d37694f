"""The CI examples of examples/ci, each run as its CI system would run it, against the emulator:
a ledger in the moto server with three images (one still waiting for its replicas, one in every
destination, one whose replication failed), and the app under `chalice local` for `/gate`.

- GitHub Actions: the composite action's steps, in bash, with its inputs as the runner passes
  them (the `env:` of each step), $GITHUB_OUTPUT read back into the action's outputs.
- AWS CodeBuild: the buildspec's phases, in order, one shell per phase, with its variables.
- GitLab CI: the job's script (its `before_script` installs curl and jq, which are here).
- Kargo: the `http` step's request, made against `/gate`, and its success and failure
  expressions evaluated on the answers (tests/expr_lang.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import events as ev
from tests import markdown
from tests.chalice_local import serving
from tests.expr_lang import evaluate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"
NOW = datetime.now(UTC).replace(microsecond=0)
READY, WAITING, FAILED = ev.digest("ci-ready"), ev.digest("ci-waiting"), ev.digest("ci-failed")


def _events() -> list[dict[str, Any]]:
    def when(minutes: float) -> datetime:  # within the grace period: nothing is overdue
        return NOW - timedelta(minutes=20) + timedelta(minutes=minutes)

    return [
        ev.push(ev.DEV, "team/api", "v1", READY, when(0)),
        ev.replication(ev.PROD, ev.DEV, "team/api", "v1", READY, when(2)),
        ev.replication(ev.DR, ev.DEV, "team/api", "v1", READY, when(3)),
        ev.push(ev.DEV, "team/api", "v2", WAITING, when(5)),
        ev.replication(ev.PROD, ev.DEV, "team/api", "v2", WAITING, when(6)),
        ev.push(ev.DEV, "team/web", "v1", FAILED, when(7)),
        ev.replication(ev.DR, ev.DEV, "team/web", "v1", FAILED, when(8), ok=False),
    ]


@pytest.fixture(scope="module")
def ledger(moto_endpoint: str) -> Iterator[dict[str, str]]:
    """A provisioned ledger with the three images, and the environment that reaches it."""
    import boto3

    import app as app_module
    from chalicelib import bootstrap
    from chalicelib.local.provision import provision
    from chalicelib.local.replay import Replayer

    session = boto3.session.Session(region_name="us-east-1")
    env = provision(session, suffix=f"ci-{uuid.uuid4().hex[:8]}")
    env.update(REPLICATION_CONFIG=json.dumps(ev.DEFAULT_CONFIG), ALERT_FORMAT="json")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("MONITORED_ACCOUNTS", raising=False)
        bootstrap.reset()
        with Replayer(app_module.app, ROOT) as replayer:
            for event in _events():
                replayer.deliver(event)
        bootstrap.reset()
        yield {**os.environ, **env}
    bootstrap.reset()


@pytest.fixture(scope="module")
def served(ledger: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app under `chalice local`, over that ledger; its /gate URL."""
    log = tmp_path_factory.mktemp("chalice-local") / "server.log"
    with serving(ledger, log) as base:
        yield f"{base}/gate"


@pytest.fixture(scope="module")
def token(ledger: dict[str, str]) -> str:
    import boto3

    from chalicelib.adapters.kms import KmsMac
    from chalicelib.core import links

    kms = boto3.session.Session(region_name="us-east-1").client("kms")
    mac = KmsMac(kms, ledger["DASHBOARD_LINK_KEY_ARN"])
    return links.mint_gate(mac, datetime.now(UTC), timedelta(days=1), "ci", "team/")[0]


def _report(name: str, result: subprocess.CompletedProcess[str]) -> None:
    """What the run printed, kept for the report (test-artifacts/ci-examples/)."""
    folder = ROOT / "test-artifacts" / "ci-examples"
    folder.mkdir(parents=True, exist_ok=True)
    text = f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    (folder / f"{name}.txt").write_text(text)


def _path_env(ledger: dict[str, str]) -> dict[str, str]:
    """The job's machine: `python3` is this interpreter, with the auditor installed."""
    return {**ledger, "PATH": f"{Path(sys.executable).parent}:{ledger.get('PATH', '')}"}


# ----------------------------------------------------------------------------- GitHub Actions


def _expression(text: str, contexts: dict[str, dict[str, str]]) -> str:
    """GitHub's `${{ ... }}` for the only forms the action uses: `inputs.x`, `github.x`."""

    def value(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).strip().partition(".")
        return contexts[scope][name]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def run_action(
    inputs: dict[str, str], ledger: dict[str, str], tmp_path: Path
) -> tuple[int, dict[str, str], subprocess.CompletedProcess[str]]:
    action = yaml.safe_load((EXAMPLES / "github-action" / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    given = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    missing = [
        n for n, spec in action["inputs"].items() if spec.get("required") and n not in inputs
    ]
    assert not missing, f"required inputs {missing}"
    given.update(inputs)
    contexts = {
        "inputs": given,
        "github": {"action_path": str(EXAMPLES / "github-action")},
    }
    steps: dict[str, dict[str, str]] = {}
    result = None
    for number, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash"
        output = tmp_path / f"output-{number}"
        output.write_text("")
        env = {
            **_path_env(ledger),
            **{k: _expression(str(v), contexts) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(output),
            "RUNNER_TEMP": str(tmp_path),
        }
        script = tmp_path / f"step-{number}.sh"
        script.write_text(_expression(step["run"], contexts))
        # GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        written = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        if "id" in step:
            steps[step["id"]] = written
        if result.returncode != 0:
            break
    assert result is not None
    outputs = {}
    for name, spec in action["outputs"].items():
        ref = re.fullmatch(r"\$\{\{\s*steps\.(\w+)\.outputs\.(\w+)\s*\}\}", spec["value"])
        assert ref, spec["value"]
        outputs[name] = steps.get(ref.group(1), {}).get(ref.group(2), "")
    return result.returncode, outputs, result


@pytest.mark.parametrize(
    "name,inputs,code,state",
    [
        ("ready", {"repository": "team/api", "tag": "v1"}, 0, "replicated"),
        ("failed", {"repository": "team/web", "digest": FAILED}, 1, "failed"),
        (
            "waiting",
            {"repository": "team/api", "tag": "v2", "timeout": "2", "interval": "1"},
            1,
            "timeout",
        ),
    ],
)
def test_the_github_action_gates_on_wait(ledger, tmp_path, name, inputs, code, state):
    inputs = {**inputs, "audit-table": ledger["AUDIT_TABLE"]}
    returned, outputs, result = run_action(inputs, ledger, tmp_path)
    _report(f"github-action-{name}", result)
    assert returned == code, result.stderr
    assert outputs["state"] == state
    assert outputs["ok"] == ("true" if code == 0 else "false")
    report = json.loads(Path(outputs["report"]).read_text())
    assert report["repository"] == inputs["repository"] and report["state"] == state


# ----------------------------------------------------------------------------- AWS CodeBuild


def run_buildspec(variables: dict[str, str], ledger: dict[str, str], tmp_path: Path):
    spec = yaml.safe_load((EXAMPLES / "codebuild" / "buildspec.yml").read_text())
    assert str(spec["version"]) == "0.2"
    env = {**_path_env(ledger), **spec["env"]["variables"], **variables}
    workdir = tmp_path / "src"
    shutil.copytree(ROOT / "examples" / "ci", workdir / "examples" / "ci")  # a checkout's cwd
    for name in ("requirements.txt", "constraints.txt"):
        shutil.copy(ROOT / name, workdir / name)
    results = []
    for phase in ("install", "pre_build", "build", "post_build"):
        commands = spec["phases"].get(phase, {}).get("commands", [])
        if not commands:
            continue
        result = subprocess.run(
            ["sh", "-e", "-c", "\n".join(commands)],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        results.append(result)
        if result.returncode != 0:
            break
    return results[-1], workdir


@pytest.mark.parametrize(
    "name,digest,timeout,code,state",
    [
        ("ready", READY, "30", 0, "replicated"),
        ("failed", FAILED, "30", 1, "failed"),
        ("waiting", WAITING, "2", 1, "timeout"),
    ],
)
def test_the_codebuild_gate_passes_only_a_replicated_image(
    ledger, tmp_path, name, digest, timeout, code, state
):
    repository = "team/web" if digest == FAILED else "team/api"
    variables = {
        "AUDIT_TABLE": ledger["AUDIT_TABLE"],
        "REPOSITORY": repository,
        "IMAGE_DIGEST": digest,
        "GATE_TIMEOUT": timeout,
    }
    result, workdir = run_buildspec(variables, ledger, tmp_path)
    _report(f"codebuild-{name}", result)
    assert result.returncode == code, result.stdout + result.stderr
    assert f"replication gate: {state}" in result.stdout
    assert json.loads((workdir / "gate.json").read_text())["state"] == state


# ----------------------------------------------------------------------------- GitLab CI


def run_gitlab_job(variables: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    job = pipeline["replication-gate"]
    assert job["stage"] in pipeline["stages"]
    env = {**os.environ, **job["variables"], **variables}
    # GitLab runs the script's entries one after the other in one shell, stopping at a failure.
    return subprocess.run(
        ["sh", "-e", "-c", "\n".join(job["script"])],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
@pytest.mark.parametrize(
    "name,repository,digest,code,line",
    [
        ("ready", "team/api", READY, 0, "replication gate: HTTP 200: ready"),
        ("failed", "team/web", FAILED, 1, "replication gate: HTTP 200: failed"),
        ("waiting", "team/api", WAITING, 1, "replication gate: timed out"),
        ("out-of-scope", "ops/agent", READY, 1, "replication gate: HTTP 403: this gate token"),
    ],
)
def test_the_gitlab_job_polls_the_gate_with_a_token(
    served, token, tmp_path, name, repository, digest, code, line
):
    variables = {
        "GATE_URL": served,
        "REPOSITORY": repository,
        "IMAGE_DIGEST": digest,
        "ECR_AUDIT_GATE_TOKEN": token,
        "GATE_TIMEOUT": "2",
        "GATE_INTERVAL": "1",
    }
    result = run_gitlab_job(variables, tmp_path)
    _report(f"gitlab-{name}", result)
    assert result.returncode == code, result.stdout + result.stderr
    assert line in result.stdout
    if name == "waiting":
        assert "replication gate: HTTP 200: waiting" in result.stdout


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_the_gitlab_job_stops_at_once_on_a_forged_token(served, tmp_path):
    variables = {
        "GATE_URL": served,
        "IMAGE_DIGEST": READY,
        "ECR_AUDIT_GATE_TOKEN": "v1.forged.token",
        "GATE_TIMEOUT": "600",  # it must not wait for this
    }
    result = run_gitlab_job(variables, tmp_path)
    _report("gitlab-forged", result)
    assert result.returncode == 1
    assert "replication gate: HTTP 401: Unauthorized" in result.stdout


# ----------------------------------------------------------------------------- Kargo


def kargo_step() -> dict[str, Any]:
    task = yaml.safe_load((EXAMPLES / "kargo" / "promotion-task.yaml").read_text())
    assert task["kind"] == "PromotionTask"
    (step,) = [s for s in task["spec"]["steps"] if s["uses"] == "http"]
    return {"vars": {v["name"]: v["value"] for v in task["spec"]["vars"]}, **step}


def render(text: str, values: dict[str, str]) -> str:
    """Kargo's pre-evaluation of `${{ ... }}` for the forms the example uses."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in values, f"the test cannot evaluate {expression!r}"
        return values[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def kargo_request(step: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The request the http step makes, and the `response` object its expressions see."""
    config = step["config"]
    query = urllib.parse.urlencode(
        [(p["name"], render(p["value"], values)) for p in config["queryParams"]]
    )
    request = urllib.request.Request(
        f"{render(config['url'], values)}?{query}",
        method=config.get("method", "GET"),
        headers={h["name"]: render(h["value"], values) for h in config["headers"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return {"status": status, "body": json.loads(body) if body else {}}


def kargo_outcome(step: dict[str, Any], response: dict[str, Any]) -> str:
    """The http step's rules: failure first (terminal), then success, else Running."""
    config = step["config"]
    if evaluate(config["failureExpression"], {"response": response}):
        return "Failed: " + str(evaluate(config["errorExpression"], {"response": response}))
    if evaluate(config["successExpression"], {"response": response}):
        return "Succeeded"
    return "Running"


@pytest.mark.parametrize(
    "name,repository,digest,outcome",
    [
        ("ready", "team/api", READY, "Succeeded"),
        ("waiting", "team/api", WAITING, "Running"),
        (
            "failed",
            "team/web",
            FAILED,
            "Failed: a replica failed, went missing, or the source image was deleted",
        ),
        ("unknown", "team/api", ev.digest("not pushed yet"), "Running"),
        (
            "out-of-scope",
            "ops/agent",
            READY,
            "Failed: this gate token covers repositories starting with 'team/', not 'ops/agent'",
        ),
        ("forged", "team/api", READY, "Failed: Unauthorized"),
    ],
)
def test_the_kargo_http_step_decides_on_the_gate_state(
    served, token, name, repository, digest, outcome
):
    step = kargo_step()
    values = {
        "vars.gateUrl": served,
        "vars.repository": repository,
        "secret('ecr-audit-gate').token": token if name != "forged" else "v1.forged.token",
        "imageFrom(vars.imageRepo).Digest": digest,
    }
    response = kargo_request(step, values)
    decided = kargo_outcome(step, response)
    folder = ROOT / "test-artifacts" / "ci-examples"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"kargo-{name}.txt").write_text(
        f"HTTP {response['status']} {json.dumps(response['body'])}\n-> {decided}\n"
    )
    assert decided == outcome
    if decided == "Succeeded":
        assert (
            evaluate(step["config"]["outputs"][0]["fromExpression"], {"response": response})
            == "ready"
        )
    poll = step["config"]["pollInterval"]
    assert int(poll.rstrip("s")) >= 10, "Kargo polls at most every 10 s"


# ----------------------------------------------------------------------------- the docs page

DOCS = ROOT / "docs" / "ci-gates.md"


def _section(title: str) -> str:
    return DOCS.read_text().split(f"## {title}")[1].split("\n## ")[0]


def test_the_page_describes_the_action_as_it_is():
    action = yaml.safe_load((EXAMPLES / "github-action" / "action.yml").read_text())
    section = _section("GitHub Actions")
    inputs = markdown.table(section, "input")
    assert set(inputs) == set(action["inputs"])
    for name, spec in action["inputs"].items():
        documented = inputs[name][0]
        expected = (
            "required"
            if spec.get("required")
            else (f"`{spec['default']}`" if spec["default"] else "empty")
        )
        assert documented == expected, name
    assert set(markdown.table(section, "output")) == set(action["outputs"])
    assert "examples/ci/github-action@v1" in section


def test_the_page_describes_the_buildspec_and_the_gitlab_job_as_they_are():
    spec = yaml.safe_load((EXAMPLES / "codebuild" / "buildspec.yml").read_text())
    section = _section("AWS CodeBuild")
    assert set(markdown.table(section, "variable")) == set(spec["env"]["variables"])
    assert "(default 1800)" in section and spec["env"]["variables"]["GATE_TIMEOUT"] == "1800"
    assert spec["env"]["exported-variables"] == ["GATE_STATE"] and "`GATE_STATE`" in section
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["replication-gate"]
    section = _section("GitLab CI")
    assert set(markdown.table(section, "variable")) == set(job["variables"]) | {
        "ECR_AUDIT_GATE_TOKEN"
    }
    assert job["variables"]["GATE_TIMEOUT"] == "1800" and job["variables"]["GATE_INTERVAL"] == "15"


def test_the_page_quotes_the_kargo_expressions():
    config = kargo_step()["config"]
    section = _section("Kargo")
    for key in ("successExpression", "failureExpression", "errorExpression"):
        assert f"{key}: {config[key]}\n" in section, key
    assert "`pollInterval`\n(30 s" in section and config["pollInterval"] == "30s"
    assert kargo_step()["retry"]["timeout"] == "45m" and "(45 minutes)" in section
