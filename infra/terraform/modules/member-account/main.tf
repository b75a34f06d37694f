# ECR Replication Auditor, member-account side (infra/forwarder.json as a Terraform module): in
# every listed Region, a rule that forwards this account's ECR image and replication events to
# the audit account's event bus, with a dead-letter queue and retries; once per account, the
# role EventBridge uses to put them there and, optionally, the read-only audit role the auditor
# assumes to ask this account's registries (AUDIT_ROLE_NAME).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  account_id    = data.aws_caller_identity.current.account_id
  audit_bus_arn = "arn:${local.partition}:events:${var.audit_region}:${var.audit_account_id}:event-bus/${var.audit_event_bus_name}"
  regions = toset([
    for region in var.regions : region
    if !(region == var.audit_region && local.account_id == var.audit_account_id)
  ])
  create_audit_role = var.audit_role_name != "" && length(var.audit_principal_arns) > 0
  # infra/forwarder.json's EventPattern: the two event kinds the auditor reads, nothing else.
  event_pattern = {
    "source"      = ["aws.ecr"]
    "detail-type" = ["ECR Image Action", "ECR Replication Action"]
  }
}

resource "aws_iam_role" "forwarder" {
  name_prefix        = "ecr-audit-forwarder-"
  description        = "Lets EventBridge put this account's ECR events on the audit account's bus."
  assume_role_policy = data.aws_iam_policy_document.forwarder_trust.json
}

data "aws_iam_policy_document" "forwarder_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "forwarder" {
  name   = "PutEventsOnAuditBus"
  role   = aws_iam_role.forwarder.id
  policy = data.aws_iam_policy_document.forwarder.json
}

data "aws_iam_policy_document" "forwarder" {
  statement {
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [local.audit_bus_arn]
  }
}

resource "aws_sqs_queue" "dead_letter" {
  for_each                  = local.regions
  region                    = each.key
  name_prefix               = "ecr-audit-forwarder-dlq-"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue_policy" "dead_letter" {
  for_each  = local.regions
  region    = each.key
  queue_url = aws_sqs_queue.dead_letter[each.key].id
  policy    = data.aws_iam_policy_document.dead_letter[each.key].json
}

data "aws_iam_policy_document" "dead_letter" {
  for_each = local.regions
  statement {
    sid       = "ForwardRuleDeadLetters"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.forward[each.key].arn]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dead_letter[each.key].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_cloudwatch_event_rule" "forward" {
  for_each       = local.regions
  region         = each.key
  name_prefix    = "ecr-audit-forward-"
  description    = "Forward ECR image and replication events to the ECR Replication Auditor."
  event_bus_name = "default"
  state          = "ENABLED"
  event_pattern  = jsonencode(local.event_pattern)
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each  = local.regions
  region    = each.key
  rule      = aws_cloudwatch_event_rule.forward[each.key].name
  target_id = "audit-event-bus"
  arn       = local.audit_bus_arn
  role_arn  = aws_iam_role.forwarder.arn
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter[each.key].arn
  }
  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_iam_role" "audit" {
  count                = local.create_audit_role ? 1 : 0
  name                 = var.audit_role_name
  description          = "Read-only: lets the ECR Replication Auditor's functions ask this account's ECR registries what they hold, and what its ECS services and Lambda functions run."
  max_session_duration = 3600
  assume_role_policy   = data.aws_iam_policy_document.audit_trust.json
}

data "aws_iam_policy_document" "audit_trust" {
  statement {
    sid     = "AuditAccountFunctionsOnly"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${var.audit_account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [var.audit_account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = var.audit_principal_arns
    }
  }
}

resource "aws_iam_role_policy" "audit" {
  count  = local.create_audit_role ? 1 : 0
  name   = "ReadEcrRegistries"
  role   = aws_iam_role.audit[0].id
  policy = data.aws_iam_policy_document.audit.json
}

data "aws_iam_policy_document" "audit" {
  statement {
    sid    = "ReadImagesAndReplicationStatus"
    effect = "Allow"
    actions = [
      "ecr:DescribeImages",
      "ecr:ListImages",
      "ecr:DescribeImageReplicationStatus",
      "ecr:DescribeRepositories",
    ]
    resources = ["arn:${local.partition}:ecr:*:${local.account_id}:repository/*"]
  }
  statement {
    sid       = "ReadRegistrySettings"
    effect    = "Allow"
    actions   = ["ecr:DescribeRegistry", "ecr:GetRegistryPolicy"]
    resources = ["*"]
  }
  # Workload discovery (WORKLOAD_TYPES): what the account's ECS services and Lambda functions run
  statement {
    sid    = "DescribeWhatRuns"
    effect = "Allow"
    actions = [
      "ecs:DescribeServices",
      "ecs:DescribeServiceRevisions",
      "ecs:DescribeTasks",
      "lambda:GetFunction",
    ]
    resources = [
      "arn:${local.partition}:ecs:*:${local.account_id}:service/*",
      "arn:${local.partition}:ecs:*:${local.account_id}:service-revision/*",
      "arn:${local.partition}:ecs:*:${local.account_id}:task/*",
      "arn:${local.partition}:lambda:*:${local.account_id}:function:*",
    ]
  }
  statement {
    sid    = "ListWhatRuns"
    effect = "Allow"
    actions = [
      "ecs:ListClusters",
      "ecs:ListServices",
      "ecs:ListTasks",
      "ecs:DescribeTaskDefinition",
      "lambda:ListFunctions",
    ]
    resources = ["*"]
  }
}
