# The dead-letter queue: events that every retry failed and failed asynchronous invocations,
# kept 14 days for `python -m chalicelib.cli replay`. Only this stack's rules may send to it.

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${local.name}-dead-letters"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter.json
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "EventBridgeRulesOfThisStack"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = [
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.name}-image-action",
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.name}-replication-action",
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.name}-sweep",
      ]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dead_letter.arn]
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
