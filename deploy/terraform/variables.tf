variable "region" {
  description = "AWS region of every resource (Floe's AWS_REGION)."
  type        = string
}

variable "name" {
  description = "Name prefix of the deployment's resources (cluster, roles, log groups, ...)."
  type        = string
  default     = "floe"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- network

variable "vpc_id" {
  description = "VPC of the ECS tasks and the coordinator's private DNS name."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks. They need a route to S3, SQS, Glue, CloudWatch, X-Ray, ECR and Secrets Manager (NAT gateway or VPC endpoints); tasks get no public IP."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach the coordinator's gRPC port (e.g. a bastion or CI runner that runs `floe-coordinator submit`)."
  type        = list(string)
  default     = []
}

variable "service_discovery_namespace" {
  description = "Private DNS namespace (Cloud Map); workers reach https://coordinator.<namespace>:50051, the name in the coordinator's TLS certificate."
  type        = string
  default     = "floe.local"
}

# ---------------------------------------------------------------- storage

variable "bronze_bucket_name" {
  description = "Bronze bucket name (default: <name>-bronze-<account>-<region>)."
  type        = string
  default     = null
}

variable "warehouse_bucket_name" {
  description = "Warehouse (lakehouse) bucket name (default: <name>-lake-<account>-<region>)."
  type        = string
  default     = null
}

variable "log_bucket_name" {
  description = "S3 server access log bucket name (default: <name>-s3-logs-<account>-<region>)."
  type        = string
  default     = null
}

variable "bronze_prefixes" {
  description = "Key prefixes (no leading or trailing slash) of the Bronze bucket Floe may read. The first one is the coordinator's --bronze root."
  type        = list(string)
  default     = ["bronze"]

  validation {
    condition     = length(var.bronze_prefixes) > 0 && alltrue([for p in var.bronze_prefixes : can(regex("^[^/*?]+(/[^/*?]+)*$", p))])
    error_message = "bronze_prefixes: at least one prefix, each without leading/trailing slash or wildcard."
  }
}

variable "warehouse_prefix" {
  description = "Key prefix of the Iceberg tables in the warehouse bucket (Floe's --warehouse is s3://<bucket>/<prefix>)."
  type        = string
  default     = "warehouse"

  validation {
    condition     = can(regex("^[^/*?]+(/[^/*?]+)*$", var.warehouse_prefix)) && var.warehouse_prefix != "athena-results"
    error_message = "warehouse_prefix: no leading/trailing slash or wildcard, and not athena-results."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a noncurrent object version is kept (Iceberg never overwrites a key, so versions only come from deletes)."
  type        = number
  default     = 30
}

variable "access_log_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365
}

# ---------------------------------------------------------------- queue and catalog

variable "queue_name" {
  description = "Floe's --sqs-queue; the dead letter queue is <queue_name>-dead."
  type        = string
  default     = "floe-tasks"
}

variable "bronze_events_queue_name" {
  description = "SQS queue receiving the Bronze bucket's ObjectCreated notifications: contracts with `source.events` name it."
  type        = string
  default     = "floe-bronze-events"
}

variable "max_attempts" {
  description = "Deliveries of a task before SQS dead-letters it (redrive maxReceiveCount; also the coordinator's --max-attempts, which must match)."
  type        = number
  default     = 3

  validation {
    condition     = var.max_attempts >= 1 && var.max_attempts <= 1000
    error_message = "max_attempts: 1 to 1000 (SQS maxReceiveCount)."
  }
}

variable "visibility_timeout_seconds" {
  description = "Queue visibility timeout and the workers' --visibility-seconds (a lease; heartbeats renew it every third)."
  type        = number
  default     = 120
}

variable "glue_database" {
  description = "Glue database of the tables the contracts write (silver for examples/transactions.toml)."
  type        = string
  default     = "silver"
}

variable "gold_glue_database" {
  description = "Glue database of the Gold models' tables (gold for examples/transactions.toml)."
  type        = string
  default     = "gold"
}

# ---------------------------------------------------------------- ECS

variable "image" {
  description = "Floe image (deploy/Dockerfile) pushed to ECR, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/floe:0.1.0. Pin a tag or digest."
  type        = string
}

variable "otel_collector_image" {
  description = "AWS Distro for OpenTelemetry collector image."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
}

variable "coordinator_cpu" {
  description = "Coordinator task CPU units (the collector sidecar included)."
  type        = number
  default     = 512
}

variable "coordinator_memory" {
  description = "Coordinator task memory (MiB, the collector sidecar included)."
  type        = number
  default     = 1024
}

variable "worker_cpu" {
  description = "Worker task CPU units (the collector sidecar included)."
  type        = number
  default     = 2048
}

variable "worker_memory" {
  description = "Worker task memory (MiB, the collector sidecar included)."
  type        = number
  default     = 8192
}

variable "worker_concurrency" {
  description = "Tasks each worker runs at once (--concurrency)."
  type        = number
  default     = 2
}

variable "worker_on_demand_weight" {
  description = "FARGATE (on-demand) weight next to FARGATE_SPOT's 1 in the worker service's capacity provider strategy; 0 = Spot only."
  type        = number
  default     = 0
}

variable "max_workers" {
  description = "Upper bound of the worker service's autoscaling."
  type        = number
  default     = 20
}

variable "backlog_per_worker_target" {
  description = "Target of floe_backlog_per_worker (waiting tasks per worker) for target tracking."
  type        = number
  default     = 4
}

variable "scale_in_idle_minutes" {
  description = "Minutes the queue must hold no task (waiting or in flight) before the workers scale to zero."
  type        = number
  default     = 15
}

# ---------------------------------------------------------------- observability

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 30
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the alarm topic (confirm the subscription by mail)."
  type        = string
  default     = null
}
