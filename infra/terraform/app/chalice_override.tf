# Overrides of the resources `chalice package --pkg-format terraform` writes (chalice.tf.json).
# Terraform merges this file into them argument by argument (an "_override" file): Chalice's
# Terraform has no setting for any of this, and its version limits are obsolete.

terraform {
  # Chalice 1.34 writes ">= 0.12.26, < 1.4.0" and aws ">= 3.61.0, < 5", which current Terraform
  # refuses ("Unsupported Terraform Core version"; aws/chalice issue 2066).
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

# The functions: the CloudFormation path's names, the settings as environment, and the
# dead-letter queue for the failed asynchronous invocations of the three event functions.

resource "aws_lambda_function" "on_image_action" {
  function_name = local.function_names.on_image_action
  environment {
    variables = local.environment
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_function" "on_replication_action" {
  function_name = local.function_names.on_replication_action
  environment {
    variables = local.environment
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_function" "sweep" {
  function_name = local.function_names.sweep
  environment {
    variables = local.environment
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_function" "api_handler" {
  function_name = local.function_names.api_handler
  environment {
    variables = local.environment
  }
}

resource "aws_lambda_function" "dashboard_link" {
  function_name = local.function_names.dashboard_link
  environment {
    variables = local.environment
  }
}

resource "aws_lambda_function" "gate_token" {
  function_name = local.function_names.gate_token
  environment {
    variables = local.environment
  }
}

# Chalice names its log groups after its resources, not after the functions.

resource "aws_cloudwatch_log_group" "on_image_action-log-group" {
  name = "/aws/lambda/${local.function_names.on_image_action}"
}

resource "aws_cloudwatch_log_group" "on_replication_action-log-group" {
  name = "/aws/lambda/${local.function_names.on_replication_action}"
}

resource "aws_cloudwatch_log_group" "sweep-log-group" {
  name = "/aws/lambda/${local.function_names.sweep}"
}

resource "aws_cloudwatch_log_group" "api_handler-log-group" {
  name = "/aws/lambda/${local.function_names.api_handler}"
}

resource "aws_cloudwatch_log_group" "dashboard_link-log-group" {
  name = "/aws/lambda/${local.function_names.dashboard_link}"
}

resource "aws_cloudwatch_log_group" "gate_token-log-group" {
  name = "/aws/lambda/${local.function_names.gate_token}"
}

# The roles: names like the functions', and the least-privilege policies of iam.tf instead of
# .chalice/policy-*.json, whose resources are CloudFormation references.

resource "aws_iam_role" "on_image_action_role" {
  name = local.function_names.on_image_action
}

resource "aws_iam_role" "on_replication_action_role" {
  name = local.function_names.on_replication_action
}

resource "aws_iam_role" "sweep_role" {
  name = local.function_names.sweep
}

resource "aws_iam_role" "api_handler_role" {
  name = local.function_names.api_handler
}

resource "aws_iam_role" "dashboard_link_role" {
  name = local.function_names.dashboard_link
}

resource "aws_iam_role" "gate_token_role" {
  name = local.function_names.gate_token
}

resource "aws_iam_role_policy" "on_image_action_role" {
  name   = "auditor"
  policy = data.aws_iam_policy_document.auditor.json
}

resource "aws_iam_role_policy" "on_replication_action_role" {
  name   = "auditor"
  policy = data.aws_iam_policy_document.auditor.json
}

resource "aws_iam_role_policy" "sweep_role" {
  name   = "auditor"
  policy = data.aws_iam_policy_document.auditor.json
}

resource "aws_iam_role_policy" "api_handler_role" {
  name   = "auditor"
  policy = data.aws_iam_policy_document.auditor.json
}

resource "aws_iam_role_policy" "dashboard_link_role" {
  name   = "dashboard-link"
  policy = data.aws_iam_policy_document.dashboard_link.json
}

resource "aws_iam_role_policy" "gate_token_role" {
  name   = "gate-token"
  policy = data.aws_iam_policy_document.gate_token.json
}

# The rules: names that the dead-letter queue's policy can name, the schedule a variable, and
# on every target a dead-letter queue and a retry policy. An event that fails is retried for up
# to a day (185 attempts), then kept in the queue for `replay`; a sweep is retried twice within
# ten minutes, then dropped (the next one a minute later does the same work).

resource "aws_cloudwatch_event_rule" "on_image_action-event" {
  name = "${local.name}-image-action"
}

resource "aws_cloudwatch_event_rule" "on_replication_action-event" {
  name = "${local.name}-replication-action"
}

resource "aws_cloudwatch_event_rule" "sweep-event" {
  name                = "${local.name}-sweep"
  schedule_expression = var.sweep_schedule
}

resource "aws_cloudwatch_event_target" "on_image_action-event" {
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_cloudwatch_event_target" "on_replication_action-event" {
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_cloudwatch_event_target" "sweep-event" {
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 600
  }
}

# The REST API: the AWS provider 6 has no stage on the deployment (api.tf has the stage), so a
# new deployment follows every change of the API's body or of its gateway responses; a
# replaced API is made before the old one goes, as its deployment is.

resource "aws_api_gateway_rest_api" "rest_api" {
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_deployment" "rest_api" {
  triggers = {
    redeployment = sha1(jsonencode([local.chalice_api_swagger, local.gateway_responses]))
  }
}

output "EndpointURL" {
  value = "${aws_api_gateway_stage.api.invoke_url}/"
}
