"""The deployed API's own errors and the cursor key, as `make package` builds them."""

from __future__ import annotations

import json

import pytest

from tests.infra.templates import ROOT, Packaged, statements

# What API Gateway answers itself, before or instead of the function.
GATEWAY_ERRORS = {
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "MISSING_AUTHENTICATION_TOKEN",
    "ACCESS_DENIED",
    "INVALID_SIGNATURE",
    "EXPIRED_TOKEN",
    "THROTTLED",
}


def gateway_responses(packaged: Packaged) -> dict:
    body = packaged.cfn["Resources"]["RestAPI"]["Properties"]["Body"]
    return dict(body["x-amazon-apigateway-gateway-responses"])


def test_gateway_errors_use_the_api_error_shape(packaged: Packaged) -> None:
    responses = gateway_responses(packaged)
    assert set(responses) == GATEWAY_ERRORS
    for name, response in responses.items():
        header = response["responseParameters"]["gatewayresponse.header.Content-Type"]
        assert header == "'application/json'", name
        (template,) = response["responseTemplates"].values()
        # $context.error.messageString is the message as a quoted JSON string
        rendered = template.replace("$context.error.messageString", json.dumps('say "why"'))
        assert "$" not in rendered, name
        document = json.loads(rendered)
        assert set(document) == {"error"} and isinstance(document["error"], str), name
        status = int(response.get("statusCode", "400" if "4XX" in name else "500"))
        assert 400 <= status < 600, name


def test_unknown_routes_answer_403_in_the_error_shape(packaged: Packaged) -> None:
    """API Gateway cannot tell an unknown route from an unsigned request: the same 403, and a
    message that names both causes (it does not tell unsigned callers which routes exist)."""
    missing = gateway_responses(packaged)["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "403"
    error = json.loads(missing["responseTemplates"]["application/json"])["error"]
    assert "no such route or method" in error and "SigV4" in error


def test_gateway_responses_are_part_of_the_deployed_definition(packaged: Packaged) -> None:
    """In the API definition itself, not separate resources: a change redeploys the stage."""
    kinds = {r["Type"] for r in packaged.cfn["Resources"].values()}
    assert "AWS::ApiGateway::GatewayResponse" not in kinds
    deployments = [k for k in packaged.cfn["Resources"] if k.startswith("RestAPIDeployment")]
    assert len(deployments) == 1


def test_the_cursor_key_is_generated_and_encrypted_with_the_stacks_key(packaged: Packaged) -> None:
    secret = packaged.cfn["Resources"]["CursorKeySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32 and generated["ExcludePunctuation"] is True
    assert "SecretString" not in secret["Properties"]  # never a value in the template
    assert secret["Properties"]["KmsKeyId"] == {"Ref": "AlertKey"}
    for function in ("OnImageAction", "OnReplicationAction", "Sweep", "APIHandler"):
        variables = packaged.cfn["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["CURSOR_KEY_SECRET_ARN"] == {"Ref": "CursorKeySecret"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_only_the_cursor_key_and_the_slack_secret_can_be_read(stage: str) -> None:
    document = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    readers = [
        s for s in statements(document) if any(a.startswith("secretsmanager:") for a in s["Action"])
    ]
    assert {s["Sid"] for s in readers} == {"ReadCursorKey", "ReadSlackWebhook"}
    for statement in readers:
        assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    by_sid = {s["Sid"]: s for s in readers}
    assert by_sid["ReadCursorKey"]["Resource"] == {"Ref": "CursorKeySecret"}
    assert by_sid["ReadSlackWebhook"]["Resource"] == {"Ref": "SlackWebhookSecretArn"}


def test_the_key_can_be_decrypted_by_the_functions(packaged: Packaged) -> None:
    """Secrets Manager decrypts with the caller's kms:Decrypt on the secret's key."""
    document = json.loads((ROOT / ".chalice" / f"policy-{packaged.stage}.json").read_text())
    decrypt = [
        s
        for s in statements(document)
        if "kms:Decrypt" in s["Action"] and s["Resource"] == {"Fn::GetAtt": ["AlertKey", "Arn"]}
    ]
    assert decrypt
