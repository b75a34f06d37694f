"""One vocabulary for both deployment paths, so that a test can say "the same" and mean it.

A CloudFormation value and a Terraform value are each rewritten into plain data in which every
reference is a token in CloudFormation's naming: `{AuditTable.Arn}`, `{OnImageAction}` (what a
`Ref` gives), `{AWS::Region}`, `{SweepSchedule}` (a parameter; Terraform's `var.sweep_schedule`).
Terraform locals are expanded, so `local.function_names.sweep` becomes
`{AWS::StackName}-sweep`, exactly what CloudFormation's `Fn::Sub` gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# CloudFormation resource type -> {CloudFormation attribute ("Ref" for a Ref): Terraform's}.
ATTRIBUTES: dict[str, dict[str, str]] = {
    "AWS::DynamoDB::Table": {"Ref": "name", "Arn": "arn"},
    "AWS::KMS::Key": {"Ref": "key_id", "Arn": "arn"},
    "AWS::KMS::Alias": {"Ref": "name"},
    "AWS::SecretsManager::Secret": {"Ref": "arn"},
    "AWS::SNS::Topic": {"Ref": "arn", "TopicName": "name"},
    "AWS::SQS::Queue": {"Ref": "url", "Arn": "arn", "QueueName": "name"},
    "AWS::Lambda::Function": {"Ref": "function_name", "Arn": "arn"},
    "AWS::IAM::Role": {"Ref": "name", "Arn": "arn"},
    "AWS::Events::Rule": {"Ref": "name", "Arn": "arn"},
    "AWS::ApiGateway::RestApi": {"Ref": "id"},
    "AWS::ApiGateway::Stage": {"Ref": "stage_name"},
    "AWS::CloudWatch::Dashboard": {"Ref": "dashboard_name"},
}
# CloudFormation's names for Terraform's data sources and locals of the same things.
PSEUDO = {
    "local.partition": "AWS::Partition",
    "local.region": "AWS::Region",
    "local.account_id": "AWS::AccountId",
    "local.name": "AWS::StackName",
    "data.aws_partition.chalice.partition": "AWS::Partition",
    "data.aws_partition.current.partition": "AWS::Partition",
    "data.aws_region.chalice.region": "AWS::Region",
    "data.aws_caller_identity.chalice.account_id": "AWS::AccountId",
    "data.aws_caller_identity.current.account_id": "AWS::AccountId",
    "local.stage": "Stage",
}
TOKEN = re.compile(r"\$\{([^}]+)\}")


def camel(snake: str) -> str:
    """A Terraform variable's name as the CloudFormation parameter's (`audit_role_name` ->
    `AuditRoleName`)."""
    return "".join(part.capitalize() for part in snake.split("_"))


def cfn(node: Any, types: dict[str, str] | None = None) -> Any:
    """A CloudFormation fragment with its intrinsic functions as tokens."""
    if isinstance(node, list):
        return [cfn(item, types) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return "{" + node["Ref"] + "}"
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        return "{" + (".".join(target) if isinstance(target, list) else target) + "}"
    if set(node) == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        text, local = (value, {}) if isinstance(value, str) else (value[0], value[1])

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(cfn(local[name], types)) if name in local else "{" + name + "}"

        return TOKEN.sub(substitute, text)
    if set(node) == {"Fn::Join"}:
        separator, items = node["Fn::Join"]
        return separator.join(str(cfn(item, types)) for item in items)
    if set(node) == {"Fn::Split"}:
        separator, value = node["Fn::Split"]
        return f"split({separator},{cfn(value, types)})"
    return {key: cfn(value, types) for key, value in node.items()}


@dataclass
class Terraform:
    """Rewrites Terraform values of one merged configuration (tests/infra/terraform.py)."""

    config: dict[str, Any]
    resources: dict[str, str]  # CloudFormation logical id -> Terraform address
    cfn_types: dict[str, str]  # CloudFormation logical id -> its type
    locals_: dict[str, Any] = field(init=False)
    _addresses: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.locals_ = dict(self.config.get("locals", {}))
        self._addresses = {address: logical for logical, address in self.resources.items()}

    def value(self, node: Any, scope: dict[str, Any] | None = None) -> Any:
        if isinstance(node, list):
            return [self.value(item, scope) for item in node]
        if isinstance(node, dict):
            return {key: self.value(item, scope) for key, item in node.items()}
        if not isinstance(node, str):
            return node
        whole = re.fullmatch(r"\$\{(.*)\}", node, re.S)
        if whole and "${" not in whole.group(1):
            return self.expression(whole.group(1).strip(), scope)
        return _interpolate(node, lambda e: self.expression(e, scope))

    def expression(self, expression: str, scope: dict[str, Any] | None = None) -> Any:
        expression = expression.strip()
        call = re.fullmatch(r"(tostring|jsondecode)\((.*)\)", expression, re.S)
        if call:
            return self.expression(call.group(2), scope)
        if scope and expression in scope:
            return scope[expression]
        join = re.fullmatch(r'join\("(.*?)",\s*\[(.*)\]\)', expression, re.S)
        if join:
            items = [i for i in re.split(r",\s*", join.group(2).strip()) if i]
            return join.group(1).join(str(self.expression(i, scope)) for i in items)
        split = re.fullmatch(r'split\("(.*?)",\s*(.*)\)', expression, re.S)
        if split:
            return f"split({split.group(1)},{self.expression(split.group(2), scope)})"
        if expression in PSEUDO:
            return "{" + PSEUDO[expression] + "}"
        if re.fullmatch(r"var\.\w+", expression):
            return "{" + camel(expression[4:]) + "}"
        if re.fullmatch(r"local(\.[\w-]+)+", expression):
            path = expression[6:].split(".")
            value: Any = self.locals_[path[0]]
            for key in path[1:]:
                value = value[key]
            return self.value(value, scope)
        parts = expression.split(".")
        if len(parts) == 3 and ".".join(parts[:2]) in self._addresses:
            logical = self._addresses[".".join(parts[:2])]
            names = ATTRIBUTES[self.cfn_types[logical]]
            for cfn_attribute, tf_attribute in names.items():
                if tf_attribute == parts[2] or (parts[2] == "id" and cfn_attribute == "Ref"):
                    suffix = "" if cfn_attribute == "Ref" else "." + cfn_attribute
                    return "{" + logical + suffix + "}"
        return "${" + expression + "}"  # not a plain reference: the test looks at it itself


def _interpolate(text: str, evaluate: Any) -> str:
    out, start = [], 0
    while (begin := text.find("${", start)) != -1:
        depth, end = 0, begin + 1
        for end in range(begin + 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        out.append(text[start:begin])
        out.append(str(evaluate(text[begin + 2 : end])))
        start = end + 1
    out.append(text[start:])
    return "".join(out)


# ----------------------------------------------------------------------------- IAM documents


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def cfn_statements(document: dict[str, Any], types: dict[str, str]) -> list[dict[str, Any]]:
    """A policy document's statements, normalised; `If` names the condition of a conditional
    one (`Fn::If` with `AWS::NoValue`)."""
    out = []
    for item in as_list(document["Statement"]):
        condition = None
        if set(item) == {"Fn::If"}:
            condition, item, otherwise = item["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
        out.append(_statement(cfn(item, types), condition))
    return sorted(out, key=repr)


def _statement(raw: dict[str, Any], condition: str | None) -> dict[str, Any]:
    principal = raw.get("Principal")
    if isinstance(principal, dict):
        principal = {k: sorted(as_list(v)) for k, v in principal.items()}
    conditions = {
        test: {key: sorted(str(v) for v in as_list(values)) for key, values in pairs.items()}
        for test, pairs in raw.get("Condition", {}).items()
    }
    return {
        "Sid": raw.get("Sid", ""),
        "Effect": raw["Effect"],
        "Action": sorted(as_list(raw["Action"])),
        "Resource": sorted(str(r) for r in as_list(raw.get("Resource", []))),
        "Principal": principal,
        "Condition": conditions,
        "If": condition,
    }


# Terraform's way of writing CloudFormation's conditions: a dynamic block whose for_each is empty
# when the variable is empty.
CONDITIONS = {
    "HasSlackSecret": "slack_webhook_secret_arn",
    "HasAuditRole": "audit_role_name",
    "HasOrganization": "organization_id",
    "HasSourceAccounts": "source_accounts",
}


def tf_statements(document: dict[str, Any], terraform: Terraform) -> list[dict[str, Any]]:
    """The statements of an aws_iam_policy_document data source, normalised like cfn_statements."""
    from tests.infra.terraform import blocks, dynamic_blocks

    out = [_tf_statement(s, terraform, None, {}) for s in blocks(document, "statement")]
    for dynamic in dynamic_blocks(document, "statement"):
        match = re.fullmatch(
            r'\$\{var\.(\w+) == "" \? \[\] : \[(.*)\]\}', dynamic["for_each"].strip(), re.S
        )
        assert match, f'a conditional statement is `var.X == "" ? [] : [...]`: {dynamic}'
        variable, element = match.groups()
        condition = {v: k for k, v in CONDITIONS.items()}[variable]
        scope = {"statement.value": terraform.expression(element)}
        for content in blocks(dynamic, "content"):
            out.append(_tf_statement(content, terraform, condition, scope))
    return sorted(out, key=repr)


def _tf_statement(
    statement: dict[str, Any], terraform: Terraform, condition: str | None, scope: dict[str, Any]
) -> dict[str, Any]:
    from tests.infra.terraform import blocks

    value = terraform.value
    principals = blocks(statement, "principals")
    principal: Any = None
    if principals:
        principal = {}
        for block in principals:
            identifiers = value(block["identifiers"], scope)
            if isinstance(identifiers, str):  # one expression that is a list (split(...))
                identifiers = [identifiers]
            principal[block["type"]] = sorted(str(i) for i in identifiers)
        if principal == {"*": ["*"]}:
            principal = "*"
    conditions: dict[str, dict[str, list[str]]] = {}
    for block in blocks(statement, "condition"):
        values = value(block["values"], scope)
        conditions.setdefault(block["test"], {})[block["variable"]] = sorted(
            str(v) for v in as_list(values)
        )
    return {
        "Sid": value(statement.get("sid", ""), scope),
        "Effect": statement.get("effect", "Allow"),
        "Action": sorted(value(statement["actions"], scope)),
        "Resource": sorted(str(r) for r in value(statement.get("resources", []), scope)),
        "Principal": principal,
        "Condition": conditions,
        "If": condition,
    }
