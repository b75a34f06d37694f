#!/bin/sh
# Prints the commands that deploy the auditor (audit account) and the forwarder (member accounts).
# Usage: STAGE=prod sh scripts/deploy-guide.sh   (make deploy-guide STAGE=prod)
STAGE="${STAGE:-dev}"
# The same stages `make package` builds (.chalice/config.json): a guide for any other would
# print commands that cannot work.
case "$STAGE" in
  dev|prod) ;;
  *) echo "error: STAGE must be dev or prod (the stages in .chalice/config.json), not '$STAGE'" >&2; exit 2;;
esac
STACK="ecr-replication-auditor-${STAGE}"
if [ "$STAGE" = prod ]; then PROTECT="on"; else PROTECT="off"; fi
cat <<GUIDE
# ECR Replication Auditor: deploying stage '${STAGE}' (table deletion protection ${PROTECT})
# Needs: AWS CLI v2 with credentials for the audit account, an S3 bucket for artifacts in the
# audit Region, and (for the forwarder) a StackSets administrator in the organisation.

# 1. Audit account, home Region: build the template and upload the code
make package STAGE=${STAGE}
aws cloudformation package \\
  --template-file build/${STAGE}/sam.json \\
  --s3-bucket "\$ARTIFACT_BUCKET" \\
  --output-template-file build/${STAGE}/packaged.json

# 2. Deploy it. Stack name at most 42 characters (function names are <stack>-on-replication-action).
#    Stage must be the stage you packaged. Leave out parameters you do not need.
aws cloudformation deploy \\
  --template-file build/${STAGE}/packaged.json \\
  --stack-name ${STACK} \\
  --capabilities CAPABILITY_IAM \\
  --parameter-overrides \\
    Stage=${STAGE} \\
    ReplicationConfig="\$(jq -c . replication-config.json)" \\
    ReplicationGraceSeconds=1800 \\
    MonitoredAccounts=111111111111,222222222222 \\
    OrganizationId=o-exampleorgid \\
    SourceAccounts= \\
    SlackWebhookSecretArn= \\
    AlertFormat=json \\
    LocationNames=222222222222/eu-west-1=prod,333333333333/us-east-1=dr

# 3. Read the outputs: subscribe on-call to OpsTopicArn (alarms), consumers to AlertTopicArn.
aws cloudformation describe-stacks --stack-name ${STACK} --query 'Stacks[0].Outputs' --output table
aws sns subscribe --topic-arn "\$OPS_TOPIC_ARN" --protocol email --notification-endpoint oncall@example.com
#    Dashboard links: grant kms:GenerateMac on the DashboardLinkKeyArn output to whoever may
#    hand them out, then mint one (8 hours by default) and open it in a browser:
.venv/bin/ecr-audit dashboard-link --stack ${STACK}

# 4. Member accounts: the forwarder as a service-managed StackSet (run in the management or a
#    delegated administrator account). AuditRegion is the Region of step 2.
aws cloudformation create-stack-set \\
  --stack-set-name ecr-replication-auditor-forwarder \\
  --template-body file://infra/forwarder.json \\
  --capabilities CAPABILITY_IAM \\
  --permission-model SERVICE_MANAGED \\
  --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\
  --parameters ParameterKey=AuditAccountId,ParameterValue="\$AUDIT_ACCOUNT_ID" \\
               ParameterKey=AuditRegion,ParameterValue="\$AUDIT_REGION"
#    Every Region where ECR pushes or receives replicas. Leave the audit account out
#    (its home Region's bus already has its events); for its other Regions, deploy the same
#    template there as a plain stack (step 5).
aws cloudformation create-stack-instances \\
  --stack-set-name ecr-replication-auditor-forwarder \\
  --deployment-targets OrganizationalUnitIds="\$OU_ID",AccountFilterType=DIFFERENCE,Accounts="\$AUDIT_ACCOUNT_ID" \\
  --regions us-west-2 eu-west-1

# 5. Without Organizations (or for the audit account's other Regions): one stack per account
#    and Region, and list the accounts in SourceAccounts in step 2 instead of OrganizationId.
aws cloudformation deploy \\
  --template-file infra/forwarder.json \\
  --stack-name ecr-replication-auditor-forwarder \\
  --capabilities CAPABILITY_IAM \\
  --region eu-west-1 \\
  --parameter-overrides AuditAccountId="\$AUDIT_ACCOUNT_ID" AuditRegion="\$AUDIT_REGION"
GUIDE
