"""What ECS and Lambda tell about the images workloads run, for the emulator (moto lacks it).

moto 5.2.5 has ECS clusters, services, task definitions and tasks, and Lambda image functions,
but no service revisions (`DescribeServiceRevisions`, `Service.currentServiceRevisions`), no
`imageDigest` on task containers (and a task holds only its first container), no pagination of
the list calls, and a Lambda `ResolvedImageUri` that hashes the URI string instead of naming the
ECR digest. chalicelib/local/emulator.py's serve() puts this layer in front of moto: the requests
it knows are answered or completed here on botocore 1.44.8's shapes (emulated_ecs.py,
emulated_lambda.py), everything else goes to moto untouched.

Images are resolved the way ECS and Lambda do it, against moto's ECR in the registry the
reference names (its account and Region): a tag names the digest it names at that moment, and
what was resolved stays as it was when the tag later moves or the image is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chalicelib.local.emulated_calls import Answer, ApiError, App, Call, Registries
from chalicelib.local.emulated_faults import caller, operation_of

RESET_PATH = "/moto-api/reset"
# POST {"serviceArn": ...}: the service's current revisions become ones ECS cannot describe, as
# for a service last deployed before 2024-10-25 (DescribeServiceRevisions reports them MISSING)
LEGACY_PATH = "/_emulator/ecs/legacy-revisions"


def wrap(app: App, registries: Registries | None = None) -> App:
    """`app` with ECS's and Lambda's workload reads completed here; the rest passed to moto."""
    from chalicelib.local.emulated_ecs import EmulatedEcs
    from chalicelib.local.emulated_lambda import EmulatedLambda

    images = registries or Registries()
    handlers: dict[str, Any] = {}

    def fresh() -> None:
        handlers["ecs"], handlers["lambda"] = EmulatedEcs(images), EmulatedLambda(images)

    fresh()

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == RESET_PATH:
            fresh()  # moto forgets everything: so does this layer
            return app(environ, start_response)
        if environ.get("PATH_INFO") == LEGACY_PATH and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                arn = json.loads(environ["wsgi.input"].read(length) or b"{}")["serviceArn"]
                marked = handlers["ecs"].make_legacy(str(arn))
            except (ValueError, KeyError, TypeError) as error:
                answer = Answer(400, [], json.dumps({"error": str(error)}).encode())
            else:
                answer = Answer(200, [], json.dumps({"serviceRevisionArns": marked}).encode())
            start_response(f"{answer.status} {'OK' if answer.ok else 'Error'}", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(answer.body)))
            ])  # fmt: skip
            return [answer.body]
        who = caller(environ)
        handler = handlers.get(who[2]) if who else None
        if who is None or handler is None:
            return app(environ, start_response)
        operation = operation_of(environ, who[2])
        if not handler.handles(operation):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        call = Call(who[0], who[1], who[2], operation, environ, raw, app)
        try:
            answer = handler.handle(call)
        except ApiError as error:
            answer = handler.error(error)
        start_response(
            f"{answer.status} {'OK' if answer.ok else 'Error'}",
            [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
            + [("Content-Length", str(len(answer.body)))],
        )
        return [answer.body]

    return application
