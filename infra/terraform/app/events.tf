# The audit account's default event bus accepts ECR's events forwarded from the member accounts
# (modules/member-account): from every account of an Organization, from listed accounts, or both.
# This resource owns the whole policy of the default bus (EventBridge keeps one per bus): if
# something else manages that policy, leave organization_id and source_accounts empty and add
# these statements there.

resource "aws_cloudwatch_event_bus_policy" "forwarded_ecr_events" {
  count          = var.organization_id == "" && var.source_accounts == "" ? 0 : 1
  event_bus_name = "default"
  policy         = data.aws_iam_policy_document.forwarded_ecr_events.json
}

data "aws_iam_policy_document" "forwarded_ecr_events" {
  dynamic "statement" {
    for_each = var.organization_id == "" ? [] : [var.organization_id]
    content {
      sid       = "${local.name}-org"
      effect    = "Allow"
      actions   = ["events:PutEvents"]
      resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "StringEquals"
        variable = "events:source"
        values   = ["aws.ecr"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [statement.value]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "events:detail-type"
        values   = ["ECR Image Action", "ECR Replication Action"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.source_accounts == "" ? [] : [split(",", var.source_accounts)]
    content {
      sid       = "${local.name}-accounts"
      effect    = "Allow"
      actions   = ["events:PutEvents"]
      resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"]
      principals {
        type        = "AWS"
        identifiers = statement.value
      }
      condition {
        test     = "StringEquals"
        variable = "events:source"
        values   = ["aws.ecr"]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "events:detail-type"
        values   = ["ECR Image Action", "ECR Replication Action"]
      }
    }
  }
}
