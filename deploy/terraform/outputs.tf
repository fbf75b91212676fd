output "bronze_bucket" {
  description = "Bronze bucket; Floe reads s3://<bucket>/<bronze_prefixes>/."
  value       = aws_s3_bucket.bronze.bucket
}

output "warehouse_bucket" {
  description = "Warehouse bucket (Iceberg tables under warehouse_prefix, Athena results under athena-results/)."
  value       = aws_s3_bucket.warehouse.bucket
}

output "access_log_bucket" {
  description = "S3 server access logs of both data buckets."
  value       = aws_s3_bucket.logs.bucket
}

output "bronze_root" {
  description = "The coordinator's --bronze."
  value       = local.bronze_root
}

output "warehouse" {
  description = "Floe's --warehouse."
  value       = local.warehouse_root
}

output "queue_url" {
  description = "Task queue URL (--sqs-queue is its name)."
  value       = aws_sqs_queue.tasks.url
}

output "queue_name" {
  description = "Floe's --sqs-queue."
  value       = aws_sqs_queue.tasks.name
}

output "dead_letter_queue_url" {
  description = "Dead letter queue URL."
  value       = aws_sqs_queue.dead.url
}

output "glue_database" {
  description = "Glue database of the tables."
  value       = aws_glue_catalog_database.floe.name
}

output "gold_glue_database" {
  description = "Glue database of the Gold models' tables."
  value       = aws_glue_catalog_database.gold.name
}

output "athena_workgroup" {
  description = "Athena workgroup for querying the tables."
  value       = aws_athena_workgroup.floe.name
}

output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.floe.name
}

output "coordinator_service" {
  description = "ECS service of the coordinator."
  value       = aws_ecs_service.coordinator.name
}

output "worker_service" {
  description = "ECS service of the workers."
  value       = aws_ecs_service.worker.name
}

output "coordinator_address" {
  description = "The coordinator's gRPC address inside the VPC (--coordinator, FLOE_COORDINATOR): TLS, its certificate signed by tls_ca_cert_pem."
  value       = "https://${local.coordinator_host}:50051"
}

# The CA certificate is public (the workers get it as a plain environment value);
# its private key is not an output.
output "tls_ca_cert_pem" {
  description = "PEM of the private CA that signed the coordinator's certificate: FLOE_TLS_CA_PEM of the CLI (`export FLOE_TLS_CA_PEM=\"$(terraform output -raw tls_ca_cert_pem)\"`)."
  value       = tls_self_signed_cert.ca.cert_pem
}

output "coordinator_role_arn" {
  description = "Task role of the coordinator."
  value       = aws_iam_role.coordinator.arn
}

output "worker_role_arn" {
  description = "Task role of the workers."
  value       = aws_iam_role.worker.arn
}

output "telemetry_role_arn" {
  description = "Role the OTel collectors assume to write metrics and traces."
  value       = aws_iam_role.telemetry.arn
}

output "coordinator_execution_role_arn" {
  description = "ECS task execution role of the coordinator (image pull, container logs, the coordinator's secrets)."
  value       = aws_iam_role.execution["coordinator"].arn
}

output "worker_execution_role_arn" {
  description = "ECS task execution role of the workers (image pull, container logs, the worker token and the task signing key only)."
  value       = aws_iam_role.execution["worker"].arn
}

# Secrets by ARN only: their values stay in Secrets Manager (and in the state).
output "auth_token_secret_arn" {
  description = "Secrets Manager secret of the operator token (FLOE_AUTH_TOKEN of the coordinator and the CLI); fetch it for the CLI with `aws secretsmanager get-secret-value --secret-id <arn> --query SecretString --output text` (the first of its comma-separated values during a rotation)."
  value       = aws_secretsmanager_secret.generated["auth_token"].arn
}

output "worker_token_secret_arn" {
  description = "Secrets Manager secret of the workers' token (FLOE_WORKER_TOKEN of the coordinator and the workers)."
  value       = aws_secretsmanager_secret.generated["worker_token"].arn
}

output "task_signing_key_secret_arn" {
  description = "Secrets Manager secret of the HMAC key of the task messages (FLOE_TASK_SIGNING_KEY of the coordinator and the workers)."
  value       = aws_secretsmanager_secret.generated["task_signing_key"].arn
}

output "kms_key_arn" {
  description = "The deployment's KMS key (grant kms:Decrypt to Athena users and Bronze producers)."
  value       = aws_kms_key.floe.arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = aws_sns_topic.alarms.arn
}
