# The functions' permissions: .chalice/policy-<stage>.json, policy-dashboard-link.json and
# policy-gate-token.json, with Terraform's references where those files have CloudFormation's.

data "aws_iam_policy_document" "auditor" {
  statement {
    sid    = "LedgerItems"
    effect = "Allow"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
    ]
    resources = [aws_dynamodb_table.audit.arn]
  }
  statement {
    sid       = "LedgerIndexes"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.audit.arn}/index/work", "${aws_dynamodb_table.audit.arn}/index/catalog"]
  }
  statement {
    sid       = "PublishAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
  statement {
    sid       = "EncryptAlerts"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.alerts.arn]
  }
  statement {
    sid       = "DeadLetterFailedInvocations"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.name}-*:*"]
  }
  statement {
    sid       = "ReadCursorKey"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.cursor_key.arn]
  }
  dynamic "statement" {
    for_each = var.slack_webhook_secret_arn == "" ? [] : [var.slack_webhook_secret_arn]
    content {
      sid       = "ReadSlackWebhook"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    for_each = var.audit_role_name == "" ? [] : [var.audit_role_name]
    content {
      sid       = "AssumeAuditRole"
      effect    = "Allow"
      actions   = ["sts:AssumeRole"]
      resources = ["arn:${local.partition}:iam::*:role/${statement.value}"]
    }
  }
}

data "aws_iam_policy_document" "dashboard_link" {
  statement {
    sid       = "VerifyDashboardLinks"
    effect    = "Allow"
    actions   = ["kms:VerifyMac"]
    resources = [aws_kms_key.dashboard_links.arn]
  }
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.name}-*:*"]
  }
}

data "aws_iam_policy_document" "gate_token" {
  statement {
    sid       = "VerifyGateTokens"
    effect    = "Allow"
    actions   = ["kms:VerifyMac"]
    resources = [aws_kms_key.dashboard_links.arn]
  }
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.name}-*:*"]
  }
}
