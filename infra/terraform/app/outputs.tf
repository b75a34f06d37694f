# The same outputs as the CloudFormation stack's (infra/app-resources.json Outputs), so the
# commands that read them (`ecr-audit dashboard-link`, the member-account forwarder) work with
# either; Chalice's chalice.tf.json adds EndpointURL and RestAPIId.

output "AuditTableName" {
  value = aws_dynamodb_table.audit.name
}

output "AlertTopicArn" {
  value = aws_sns_topic.alerts.arn
}

output "OpsTopicArn" {
  description = "Subscribe on-call to this topic: it receives the alarms."
  value       = aws_sns_topic.ops.arn
}

output "DeadLetterQueueUrl" {
  value = aws_sqs_queue.dead_letter.url
}

output "EventBusArn" {
  description = "Target of the member-account forwarder (modules/member-account audit_event_bus_name and audit_region)."
  value       = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"
}

output "AuditPrincipalArns" {
  description = "The function roles that may assume the audit role: pass as modules/member-account audit_principal_arns (with any operator role for doctor and reconcile)."
  value = join(",", [
    aws_iam_role.sweep_role.arn,
    aws_iam_role.api_handler_role.arn,
    aws_iam_role.on_image_action_role.arn,
    aws_iam_role.on_replication_action_role.arn,
  ])
}

output "DashboardLinkKeyArn" {
  description = "Signs dashboard links and gate tokens: grant kms:GenerateMac on it to whoever may mint them (ecr-audit dashboard-link --key, ecr-audit gate-token --key)."
  value       = aws_kms_key.dashboard_links.arn
}

output "DashboardUrl" {
  description = "The dashboard for browsers; open it through a link from ecr-audit dashboard-link."
  value       = "${aws_api_gateway_stage.api.invoke_url}/view"
}

output "GateUrl" {
  description = "The deploy gate for CI systems: GET with ?repository=R&tag=T (or &digest=D) and Authorization: Bearer <a token from ecr-audit gate-token>."
  value       = "${aws_api_gateway_stage.api.invoke_url}/gate"
}

output "DashboardName" {
  description = "The CloudWatch dashboard: replication lag per destination, incidents, alerts, sweeps, function errors and duration, the ledger's units and throttles, dead letters."
  value       = aws_cloudwatch_dashboard.operations.dashboard_name
}

output "APIHandlerName" {
  value = aws_lambda_function.api_handler.function_name
}

output "APIHandlerArn" {
  value = aws_lambda_function.api_handler.arn
}
