"""ECR Replication Auditor: every trigger of the app, and nothing else (logic is in chalicelib)."""

from collections.abc import Mapping

from chalice import Chalice, IAMAuthorizer, Response
from chalice.app import CloudWatchEvent

from chalicelib import bootstrap
from chalicelib.entrypoints import api, browser, gate, handlers
from chalicelib.entrypoints import local_gateway as gateway
from chalicelib.usecases import queries

app = Chalice(app_name="ecr-replication-auditor", configure_logs=False)
app.register_middleware(api.json_errors, "http")
gateway.install_if_local()  # chalice local / chalice.test: unknown routes answer a JSON 404
# `/view`: the dashboard for a browser holding a dashboard link instead of SigV4 credentials.
app.register_blueprint(browser.view, url_prefix=browser.PREFIX)
# `GET /gate`: the deploy gate for CI systems holding a gate token instead of SigV4 credentials.
app.register_blueprint(gate.gate)
iam = IAMAuthorizer()

ECR_IMAGE_ACTION = {
    "source": ["aws.ecr"],
    "detail-type": ["ECR Image Action"],
    "detail": {"action-type": ["PUSH", "DELETE"], "result": ["SUCCESS"]},
}
ECR_REPLICATION_ACTION = {
    "source": ["aws.ecr"],
    "detail-type": ["ECR Replication Action"],
    "detail": {"action-type": ["REPLICATE"], "result": ["SUCCESS", "FAILED"]},
}


def _query() -> Mapping[str, str] | None:
    request = app.current_request
    return request.query_params if request else None


@app.on_cw_event(ECR_IMAGE_ACTION, name="on_image_action")
def on_image_action(event: CloudWatchEvent) -> dict:
    return handlers.image_action(event.to_dict(), event.context)


@app.on_cw_event(ECR_REPLICATION_ACTION, name="on_replication_action")
def on_replication_action(event: CloudWatchEvent) -> dict:
    return handlers.replication_action(event.to_dict(), event.context)


# The deployed rate is the template's SweepSchedule parameter (infra/app-resources.json).
@app.schedule("rate(1 minute)", name="sweep")
def sweep(event: CloudWatchEvent) -> dict:
    return handlers.scheduled_sweep(event.to_dict(), event.context)


@app.route("/", methods=["GET"], authorizer=iam)
def dashboard() -> Response:
    return Response(body=api.dashboard_html(), headers={"Content-Type": "text/html; charset=utf-8"})


@app.route("/status", methods=["GET"], authorizer=iam)
def get_status() -> Response:
    def body() -> dict:
        api.no_query(_query())
        return queries.status(bootstrap.deps())

    return api.respond(body)


@app.route("/incidents", methods=["GET"], authorizer=iam)
def get_incidents() -> Response:
    def body() -> dict:
        state, limit, cursor = api.incidents_query(_query())
        return queries.list_incidents(state, limit, cursor, bootstrap.deps())

    return api.respond(body)


@app.route("/images", methods=["GET"], authorizer=iam)
def get_images() -> Response:
    def body() -> dict:
        repository, digest, tag, limit, cursor = api.images_query(_query())
        return queries.describe_images(repository, digest, tag, limit, cursor, bootstrap.deps())

    return api.respond(body)


@app.route("/workloads", methods=["GET"], authorizer=iam)
def get_workloads() -> Response:
    def body() -> dict:
        repository = api.workloads_query(_query())
        return queries.workloads(repository, bootstrap.deps())

    return api.respond(body)


@app.route("/repositories", methods=["GET"], authorizer=iam)
def get_repositories() -> Response:
    def body() -> dict:
        api.no_query(_query())
        return queries.repositories(bootstrap.deps())

    return api.respond(body)


@app.route("/openapi.json", methods=["GET"], authorizer=iam)
def get_openapi() -> Response:
    def body() -> dict:
        api.no_query(_query())
        return api.openapi_document()

    return api.respond(body)
