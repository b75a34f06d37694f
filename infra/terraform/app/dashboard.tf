# The CloudWatch dashboard: replication lag per destination, incidents and alerts, delivery and
# sweep trouble, the functions' errors, throttles and duration, the ledger and dead letters.
# dashboard.json.tftpl is the CloudFormation template's DashboardBody with its references as
# template variables.

resource "aws_cloudwatch_dashboard" "operations" {
  dashboard_name = "${local.name}-${local.region}"
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    region                = local.region
    on_image_action       = aws_lambda_function.on_image_action.function_name
    on_replication_action = aws_lambda_function.on_replication_action.function_name
    sweep                 = aws_lambda_function.sweep.function_name
    api_handler           = aws_lambda_function.api_handler.function_name
    dead_letter_queue     = aws_sqs_queue.dead_letter.name
    audit_table           = aws_dynamodb_table.audit.name
  })
}
