# The operations alarms, to the ops topic: dead letters, function errors and throttles, and a
# sweep that stopped completing (missing replicas would go unnoticed).

resource "aws_cloudwatch_metric_alarm" "dead_letter_queue" {
  alarm_name        = "${local.name}-dead-letter-queue"
  alarm_description = "Events or invocations landed in the dead-letter queue: inspect, fix, then replay them with `python -m chalicelib.cli replay`."
  actions_enabled   = true
  alarm_actions     = [aws_sns_topic.ops.arn]
  ok_actions        = [aws_sns_topic.ops.arn]
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = aws_sqs_queue.dead_letter.name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  alarm_name          = "${local.name}-function-errors"
  alarm_description   = "A function of the auditor raised errors (failed invocations are retried, then dead-lettered)."
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.ops.arn]
  ok_actions          = [aws_sns_topic.ops.arn]
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "m0"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.on_image_action.function_name
      }
    }
  }
  metric_query {
    id          = "m1"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.on_replication_action.function_name
      }
    }
  }
  metric_query {
    id          = "m2"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.sweep.function_name
      }
    }
  }
  metric_query {
    id          = "m3"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.api_handler.function_name
      }
    }
  }
  metric_query {
    id          = "total"
    label       = "errors in all functions"
    return_data = true
    expression  = "SUM([FILL(m0,0),FILL(m1,0),FILL(m2,0),FILL(m3,0)])"
  }
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  alarm_name          = "${local.name}-function-throttles"
  alarm_description   = "A function of the auditor was throttled."
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.ops.arn]
  ok_actions          = [aws_sns_topic.ops.arn]
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "m0"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Throttles"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.on_image_action.function_name
      }
    }
  }
  metric_query {
    id          = "m1"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Throttles"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.on_replication_action.function_name
      }
    }
  }
  metric_query {
    id          = "m2"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Throttles"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.sweep.function_name
      }
    }
  }
  metric_query {
    id          = "m3"
    return_data = false
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Throttles"
      period      = 300
      stat        = "Sum"
      dimensions = {
        FunctionName = aws_lambda_function.api_handler.function_name
      }
    }
  }
  metric_query {
    id          = "total"
    label       = "throttles in all functions"
    return_data = true
    expression  = "SUM([FILL(m0,0),FILL(m1,0),FILL(m2,0),FILL(m3,0)])"
  }
}

resource "aws_cloudwatch_metric_alarm" "sweep_dead_man" {
  alarm_name        = "${local.name}-sweep-dead-man"
  alarm_description = "The sweep has not completed for 15 minutes: missing replicas are not being detected."
  actions_enabled   = true
  alarm_actions     = [aws_sns_topic.ops.arn]
  ok_actions        = [aws_sns_topic.ops.arn]
  namespace         = "EcrReplicationAuditor"
  metric_name       = "SweepCompleted"
  dimensions = {
    service = "ecr-replication-auditor"
  }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
}
