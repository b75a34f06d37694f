# The deployment parameters: the same settings as infra/app-resources.json's Parameters (the
# parity test in tests/infra/test_deploy_parity.py keeps names, defaults and allowed values in step).

variable "name" {
  description = "Prefix of every resource name, like the CloudFormation stack name (null: ecr-replication-auditor-<stage>)."
  type        = string
  default     = null
}

variable "replication_config" {
  description = "REPLICATION_CONFIG: JSON array of describe-registry outputs, each with its region."
  type        = string
  default     = "[]"
}

variable "replication_grace_seconds" {
  description = "REPLICATION_GRACE_SECONDS: how long after a push a missing replica is tolerated."
  type        = number
  default     = 1800
  validation {
    condition     = var.replication_grace_seconds >= 1
    error_message = "replication_grace_seconds must be at least 1."
  }
}

variable "sweep_schedule" {
  description = "How often the sweep runs: RECOVERED, TAG_OVERWRITTEN and REPLICA_MISSING arrive within one interval (at most 5 minutes: the dead-man alarm expects a completed sweep every 5 minutes)."
  type        = string
  default     = "rate(1 minute)"
  validation {
    condition     = contains(["rate(1 minute)", "rate(2 minutes)", "rate(5 minutes)"], var.sweep_schedule)
    error_message = "sweep_schedule must be rate(1 minute), rate(2 minutes) or rate(5 minutes)."
  }
}

variable "monitored_accounts" {
  description = "MONITORED_ACCOUNTS: comma-separated account ids whose ECR events are accepted (empty: every account in replication_config)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([0-9]{12}(,[0-9]{12})*)?$", var.monitored_accounts))
    error_message = "monitored_accounts must be comma-separated 12-digit account ids."
  }
}

variable "audit_role_name" {
  description = "AUDIT_ROLE_NAME: read-only role (modules/member-account audit_role_name) the auditor assumes in every monitored account to ask its registries (empty: events only)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[\\w+=,.@-]{0,64}$", var.audit_role_name))
    error_message = "audit_role_name must be an IAM role name."
  }
}

variable "replication_sources" {
  description = "REPLICATION_SOURCES: comma-separated account:region registries whose replication rules are read from ECR (needs audit_role_name)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([0-9]{12}:[a-z0-9-]{2,25}(,[0-9]{12}:[a-z0-9-]{2,25})*)?$", var.replication_sources))
    error_message = "replication_sources must be comma-separated account:region pairs."
  }
}

variable "workload_types" {
  description = "WORKLOAD_TYPES: what workload discovery reads through audit_role_name, ecs, lambda, both (ecs,lambda) or none (empty: ecs,lambda when audit_role_name is set)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(none|ecs|lambda|ecs,lambda|lambda,ecs)?$", var.workload_types))
    error_message = "workload_types must be ecs, lambda, ecs,lambda or none."
  }
}

variable "slack_webhook_secret_arn" {
  description = "SLACK_WEBHOOK_SECRET_ARN: Secrets Manager secret holding a Slack webhook URL (empty: no Slack)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)?$", var.slack_webhook_secret_arn))
    error_message = "slack_webhook_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "alert_format" {
  description = "ALERT_FORMAT of the SNS message body."
  type        = string
  default     = "json"
  validation {
    condition     = contains(["json", "chatbot"], var.alert_format)
    error_message = "alert_format must be json or chatbot."
  }
}

variable "location_names" {
  description = "LOCATION_NAMES: friendly names, ACCOUNT/REGION=NAME,... or a JSON object (empty: none)."
  type        = string
  default     = ""
}

variable "runbook_base_url" {
  description = "RUNBOOK_BASE_URL: where each alert's runbook_url points, <base>/<kind> (empty: the project's published runbooks)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(https?://[^\\s<>|\"'`]{1,1000})?$", var.runbook_base_url))
    error_message = "runbook_base_url must be empty or an http(s) URL."
  }
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "organization_id" {
  description = "Accept forwarded ECR events from every account of this AWS Organization (empty: none)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(o-[a-z0-9]{10,32})?$", var.organization_id))
    error_message = "organization_id must look like o-abcdefghij."
  }
}

variable "source_accounts" {
  description = "Accept forwarded ECR events from these comma-separated accounts (empty: none)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([0-9]{12}(,[0-9]{12})*)?$", var.source_accounts))
    error_message = "source_accounts must be comma-separated 12-digit account ids."
  }
}
