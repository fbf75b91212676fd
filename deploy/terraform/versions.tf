# Floe on AWS: S3 (Bronze + warehouse), SQS (tasks + dead letters), Glue + Athena,
# ECS Fargate (one coordinator, autoscaled Spot workers), CloudWatch, X-Ray.
# See deploy/README.md.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    # The private CA and the coordinator's certificate of the gRPC API (tls.tf);
    # it calls no API, everything is computed locally during plan and apply.
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { "floe:deployment" = var.name })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  bronze_bucket    = coalesce(var.bronze_bucket_name, "${var.name}-bronze-${local.account_id}-${var.region}")
  warehouse_bucket = coalesce(var.warehouse_bucket_name, "${var.name}-lake-${local.account_id}-${var.region}")
  log_bucket       = coalesce(var.log_bucket_name, "${var.name}-s3-logs-${local.account_id}-${var.region}")

  # The roots Floe is started with (--bronze, --warehouse).
  bronze_root    = "s3://${local.bronze_bucket}/${var.bronze_prefixes[0]}"
  warehouse_root = "s3://${local.warehouse_bucket}/${var.warehouse_prefix}"
  # The workers' FLOE_BRONZE_ROOT: every Bronze prefix the worker role may read
  # (iam.tf), so a task whose input lies anywhere else is refused before any read,
  # whoever put it on the queue. The trailing slash keeps "bronze" from also
  # matching "bronze-other/".
  worker_bronze_roots = join(",", [for p in var.bronze_prefixes : "s3://${local.bronze_bucket}/${p}/"])

  dead_queue_name = "${var.queue_name}-dead"
  # The coordinator creates-or-finds both queues with this retention (14 days), so
  # Terraform must set the same value: SQS CreateQueue fails on an existing queue
  # whose attributes differ from the ones passed.
  queue_retention_seconds = 1209600

  coordinator_host = "coordinator.${var.service_discovery_namespace}"
}
