# CloudWatch log groups, all encrypted with the deployment's key. Floe logs to
# stderr (FLOE_LOG sets the filter); the awslogs driver ships each container's.
locals {
  log_groups = {
    coordinator = "/ecs/${var.name}/coordinator"
    worker      = "/ecs/${var.name}/worker"
    otel        = "/ecs/${var.name}/otel-collector"
    exec        = "/ecs/${var.name}/exec"
    # Embedded metric format events written by the collectors' awsemf exporter;
    # CloudWatch extracts the metrics of namespace Floe from them.
    metrics = "/${var.name}/metrics"
  }
}

resource "aws_cloudwatch_log_group" "floe" {
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.floe.arn

  #checkov:skip=CKV_AWS_338:Operational logs and EMF metric events, not an audit trail (S3 access logs and CloudTrail are); retention is var.log_retention_days (default 30) to bound cost, raise it where policy requires a year.
}
