"""ECR Replication Auditor: the code behind app.py's entry points."""
