output "forward_rule_arns" {
  description = "The forwarding rule of each Region."
  value       = { for region, rule in aws_cloudwatch_event_rule.forward : region => rule.arn }
}

output "dead_letter_queue_urls" {
  description = "Events the audit bus refused or could not take, per Region; replay them with the auditor's replay command."
  value       = { for region, queue in aws_sqs_queue.dead_letter : region => queue.url }
}

output "audit_role_arn" {
  description = "The role the auditor assumes here (AUDIT_ROLE_NAME); null without one."
  value       = one(aws_iam_role.audit[*].arn)
}
