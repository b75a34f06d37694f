# The names and settings every other file of this directory uses. `local.stage` comes from
# stage.tf.json, which scripts/package_terraform.py writes for the packaged Chalice stage.

locals {
  name       = coalesce(var.name, "ecr-replication-auditor-${local.stage}")
  partition  = data.aws_partition.chalice.partition
  region     = data.aws_region.chalice.region
  account_id = data.aws_caller_identity.chalice.account_id

  # The CloudFormation path's function names (infra/app-resources.json FunctionName).
  function_names = {
    on_image_action       = "${local.name}-on-image-action"
    on_replication_action = "${local.name}-on-replication-action"
    sweep                 = "${local.name}-sweep"
    api_handler           = "${local.name}-api-handler"
    dashboard_link        = "${local.name}-dashboard-link"
    gate_token            = "${local.name}-gate-token"
  }

  # What every function reads: .chalice/config.json's variables and the deployment's settings
  # (infra/app-resources.json Globals).
  environment = {
    POWERTOOLS_SERVICE_NAME      = "ecr-replication-auditor"
    POWERTOOLS_METRICS_NAMESPACE = "EcrReplicationAuditor"
    AUDIT_TABLE                  = aws_dynamodb_table.audit.name
    ALERT_TOPIC_ARN              = aws_sns_topic.alerts.arn
    REPLICATION_CONFIG           = var.replication_config
    REPLICATION_GRACE_SECONDS    = tostring(var.replication_grace_seconds)
    MONITORED_ACCOUNTS           = var.monitored_accounts
    AUDIT_ROLE_NAME              = var.audit_role_name
    REPLICATION_SOURCES          = var.replication_sources
    WORKLOAD_TYPES               = var.workload_types
    SLACK_WEBHOOK_SECRET_ARN     = var.slack_webhook_secret_arn
    ALERT_FORMAT                 = var.alert_format
    POWERTOOLS_LOG_LEVEL         = var.log_level
    LOCATION_NAMES               = var.location_names
    RUNBOOK_BASE_URL             = var.runbook_base_url
    DASHBOARD_LINK_KEY_ARN       = aws_kms_key.dashboard_links.arn
    CURSOR_KEY_SECRET_ARN        = aws_secretsmanager_secret.cursor_key.arn
  }
}
