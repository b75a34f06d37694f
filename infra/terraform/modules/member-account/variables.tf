# The same settings as infra/forwarder.json's Parameters, except that one instance of this module
# covers every Region of its account (the StackSet deploys one stack per account and Region).

variable "audit_account_id" {
  description = "Account that runs the auditor."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}$", var.audit_account_id))
    error_message = "audit_account_id must be a 12-digit account id."
  }
}

variable "audit_region" {
  description = "Home Region of the auditor (where its event rules listen)."
  type        = string
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.audit_region))
    error_message = "audit_region must be a Region name such as eu-west-1."
  }
}

variable "audit_event_bus_name" {
  description = "Event bus of the auditor; its EventBusArn output names it."
  type        = string
  default     = "default"
}

variable "regions" {
  description = "Regions of this account whose ECR events are forwarded (the audit account's own home Region is left out: its default bus already receives them)."
  type        = list(string)
  validation {
    condition     = alltrue([for region in var.regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", region))])
    error_message = "regions must be Region names such as eu-west-1."
  }
}

variable "audit_role_name" {
  description = "AUDIT_ROLE_NAME: name of the read-only role the auditor assumes in this account (empty: no role, events only)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[\\w+=,.@-]{0,64}$", var.audit_role_name))
    error_message = "audit_role_name must be an IAM role name."
  }
}

variable "audit_principal_arns" {
  description = "IAM role ARNs (wildcards allowed) in the audit account that may assume the audit role: the auditor's AuditPrincipalArns output and the role operators run doctor and reconcile with."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for arn in var.audit_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/*-]+$", arn))])
    error_message = "audit_principal_arns must be IAM role ARNs."
  }
}
