# Alerts and the keys: the alert and operations topics (encrypted with the alert key, which
# CloudWatch alarms may use to publish), the dashboard links' HMAC key, and the secret that
# signs the API's pagination cursors.

resource "aws_kms_key" "alerts" {
  description         = "${local.name}: encrypts the alert and alarm topics and the cursor key secret"
  enable_key_rotation = true
  # CloudFormation keeps this key when the stack goes (DeletionPolicy Retain); here a destroy
  # schedules its deletion, which can be cancelled for 30 days.
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alert_key.json
}

data "aws_iam_policy_document" "alert_key" {
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_alias" "alerts" {
  name          = "alias/${local.name}-alerts"
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_kms_key" "dashboard_links" {
  description              = "${local.name}: signs dashboard links (ecr-audit dashboard-link) and gate tokens (ecr-audit gate-token)"
  customer_master_key_spec = "HMAC_256"
  key_usage                = "GENERATE_VERIFY_MAC"
  policy                   = data.aws_iam_policy_document.dashboard_link_key.json
}

data "aws_iam_policy_document" "dashboard_link_key" {
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_kms_alias" "dashboard_links" {
  name          = "alias/${local.name}-dashboard-links"
  target_key_id = aws_kms_key.dashboard_links.key_id
}

resource "aws_secretsmanager_secret" "cursor_key" {
  name_prefix = "${local.name}-cursor-key-"
  description = "${local.name}: HMAC key signing the API's pagination cursors (replace the value at any time; cursors signed before turn invalid)"
  kms_key_id  = aws_kms_key.alerts.arn
}

# A value made once: the data source draws a new one at every plan, which ignore_changes keeps
# out. (It is in the state, like every secret Terraform writes; it only signs cursors.)
data "aws_secretsmanager_random_password" "cursor_key" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "cursor_key" {
  secret_id     = aws_secretsmanager_secret.cursor_key.id
  secret_string = data.aws_secretsmanager_random_password.cursor_key.random_password
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-alerts"
  display_name      = "ECR replication alerts"
  kms_master_key_id = aws_kms_key.alerts.key_id
}

resource "aws_sns_topic" "ops" {
  name              = "${local.name}-ops"
  display_name      = "ECR replication auditor operations alarms"
  kms_master_key_id = aws_kms_key.alerts.key_id
}
