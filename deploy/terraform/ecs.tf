# ECS on Fargate: one coordinator task (on-demand FARGATE: it holds the run ledger
# and must not be interrupted) and a worker service on FARGATE_SPOT, scaled from
# zero by autoscaling.tf. Both run the image of deploy/Dockerfile as uid 10001 on a
# read-only root file system, with an OTel collector sidecar (otel.tf). Each Floe
# container gets from Secrets Manager only the secrets of its own service (auth.tf,
# tls.tf), read by that service's own task execution role (iam.tf); gRPC between
# them is TLS.

resource "aws_ecs_cluster" "floe" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.floe.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.floe["exec"].name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "floe" {
  cluster_name       = aws_ecs_cluster.floe.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  # Services choose their own strategy; anything else runs on-demand.
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 0
  }
}

locals {
  floe_environment = [
    { name = "AWS_REGION", value = var.region },
    { name = "FLOE_LOG", value = "info" },
    # One JSON object per log line, for CloudWatch Logs Insights.
    { name = "FLOE_LOG_FORMAT", value = "json" },
    # Prometheus /metrics for the collector sidecar only (same task, loopback).
    { name = "FLOE_METRICS_LISTEN", value = "127.0.0.1:9090" },
    { name = "OTEL_EXPORTER_OTLP_ENDPOINT", value = "http://localhost:4318" },
  ]

  # Secrets (auth.tf, tls.tf), injected by ECS from Secrets Manager when the
  # container starts: no value appears in the task definition, only ARNs do. The
  # collector sidecars get none.
  #
  # The tokens and the signing key are named by ARN alone, so a container reads
  # the value current when it starts (rotation: put-secret-value, then a new
  # deployment). The TLS certificate and key are pinned to the secret version
  # Terraform wrote: a renewed certificate changes the task definition, so the
  # apply that renews it also redeploys the coordinator.

  # The workers: the token of the worker calls and the key that checks the task
  # messages. No operator token and no TLS key.
  worker_secrets = [
    { name = "FLOE_WORKER_TOKEN", valueFrom = aws_secretsmanager_secret.generated["worker_token"].arn },
    { name = "FLOE_TASK_SIGNING_KEY", valueFrom = aws_secretsmanager_secret.generated["task_signing_key"].arn },
  ]

  # The coordinator: the operator token, the worker token (it accepts it on the
  # worker calls), the signing key (it signs every task it sends) and its TLS
  # certificate and key, two keys of one JSON secret (ARN:json-key::version-id).
  coordinator_secrets = [
    { name = "FLOE_AUTH_TOKEN", valueFrom = aws_secretsmanager_secret.generated["auth_token"].arn },
    { name = "FLOE_WORKER_TOKEN", valueFrom = aws_secretsmanager_secret.generated["worker_token"].arn },
    { name = "FLOE_TASK_SIGNING_KEY", valueFrom = aws_secretsmanager_secret.generated["task_signing_key"].arn },
    { name = "FLOE_TLS_CERT_PEM", valueFrom = "${aws_secretsmanager_secret.coordinator_tls.arn}:cert::${aws_secretsmanager_secret_version.coordinator_tls.version_id}" },
    { name = "FLOE_TLS_KEY_PEM", valueFrom = "${aws_secretsmanager_secret.coordinator_tls.arn}:key::${aws_secretsmanager_secret_version.coordinator_tls.version_id}" },
  ]

  coordinator_container = {
    name      = "coordinator"
    image     = var.image
    essential = true
    # The image's entrypoint is floe-coordinator.
    command = [
      "serve",
      "--listen", "0.0.0.0:50051",
      "--state-dir", "/var/lib/floe",
      "--sqs-queue", var.queue_name,
      "--max-attempts", tostring(var.max_attempts),
      "--catalog", "glue",
      "--warehouse", local.warehouse_root,
      "--bronze", local.bronze_root,
    ]
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    portMappings           = [{ name = "grpc", containerPort = 50051, protocol = "tcp" }]
    environment            = concat(local.floe_environment, [{ name = "OTEL_SERVICE_NAME", value = "floe-coordinator" }])
    secrets                = local.coordinator_secrets
    mountPoints = [
      { sourceVolume = "state", containerPath = "/var/lib/floe", readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    healthCheck = {
      command     = ["CMD", "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/50051"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    stopTimeout = 30
    dependsOn   = [{ containerName = "otel-collector", condition = "START" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.floe["coordinator"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "coordinator"
      }
    }
  }

  worker_container = {
    name       = "worker"
    image      = var.image
    essential  = true
    entryPoint = ["floe-worker"]
    command = [
      # TLS, checked against the private CA of tls.tf (FLOE_TLS_CA_PEM below).
      "--coordinator", "https://${local.coordinator_host}:50051",
      "--sqs-queue", var.queue_name,
      "--catalog", "glue",
      "--warehouse", local.warehouse_root,
      "--concurrency", tostring(var.worker_concurrency),
      "--visibility-seconds", tostring(var.visibility_timeout_seconds),
      "--grace-seconds", "100",
    ]
    # A Spot interruption gives two minutes: ECS sends SIGTERM and waits
    # stopTimeout (Fargate's maximum, 120 s) before SIGKILL. On SIGTERM the worker
    # stops leasing, lets in-flight tasks finish for --grace-seconds (100) and
    # releases the rest back to the queue, leaving 20 s to exit cleanly.
    stopTimeout            = 120
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    environment = concat(local.floe_environment, [
      { name = "OTEL_SERVICE_NAME", value = "floe-worker" },
      # The CA certificate is public: a plain value, no secret to read.
      { name = "FLOE_TLS_CA_PEM", value = tls_self_signed_cert.ca.cert_pem },
      # Every task input must lie under the Bronze prefixes the worker role may
      # read: a task naming anything else is refused.
      { name = "FLOE_BRONZE_ROOT", value = local.worker_bronze_roots },
    ])
    # No operator token and no TLS key: see auth.tf.
    secrets     = local.worker_secrets
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    # The collector starts first and, depending on nothing, is stopped last.
    dependsOn = [{ containerName = "otel-collector", condition = "START" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.floe["worker"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "worker"
      }
    }
  }

  coordinator_collector = merge(local.collector_container, {
    environment = [{ name = "AOT_CONFIG_CONTENT", value = yamlencode(local.coordinator_collector_config) }]
  })

  worker_collector = merge(local.collector_container, {
    environment = [{ name = "AOT_CONFIG_CONTENT", value = yamlencode(local.worker_collector_config) }]
  })
}

# ---------------------------------------------------------------- coordinator

resource "aws_ecs_task_definition" "coordinator" {
  family                   = "${var.name}-coordinator"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.coordinator_cpu
  memory                   = var.coordinator_memory
  execution_role_arn       = aws_iam_role.execution["coordinator"].arn
  task_role_arn            = aws_iam_role.coordinator.arn
  container_definitions    = jsonencode([local.coordinator_container, local.coordinator_collector])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "state"

    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.coordinator.id
      transit_encryption = "ENABLED"

      authorization_config {
        access_point_id = aws_efs_access_point.coordinator.id
        iam             = "ENABLED"
      }
    }
  }

  # Task-local scratch space (the root file system is read-only).
  volume {
    name = "tmp"
  }
}

resource "aws_ecs_service" "coordinator" {
  name             = "${var.name}-coordinator"
  cluster          = aws_ecs_cluster.floe.id
  task_definition  = aws_ecs_task_definition.coordinator.arn
  desired_count    = 1
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  # One writer of the ledger: stop the old task before starting the new one.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 1
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.coordinator.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.coordinator.arn
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The execution role's policy and the secrets' values must exist before a task
  # starts (the TLS secret's version is referenced by the task definition already).
  depends_on = [
    aws_ecs_cluster_capacity_providers.floe,
    aws_efs_mount_target.coordinator,
    aws_iam_role_policy.coordinator,
    aws_iam_role_policy.execution["coordinator"],
    aws_iam_role_policy_attachment.execution["coordinator"],
    aws_secretsmanager_secret_version.generated["auth_token"],
    aws_secretsmanager_secret_version.generated["worker_token"],
    aws_secretsmanager_secret_version.generated["task_signing_key"],
  ]
}

# ---------------------------------------------------------------- workers

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.execution["worker"].arn
  task_role_arn            = aws_iam_role.worker.arn
  container_definitions    = jsonencode([local.worker_container, local.worker_collector])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_ecs_service" "worker" {
  name             = "${var.name}-worker"
  cluster          = aws_ecs_cluster.floe.id
  task_definition  = aws_ecs_task_definition.worker.arn
  desired_count    = 0 # autoscaling.tf owns it from here on
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  # Workers are stateless and every commit is idempotent: Spot is the default.
  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
    base              = 0
  }

  dynamic "capacity_provider_strategy" {
    for_each = var.worker_on_demand_weight > 0 ? [var.worker_on_demand_weight] : []

    content {
      capacity_provider = "FARGATE"
      weight            = capacity_provider_strategy.value
      base              = 0
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  depends_on = [
    aws_ecs_cluster_capacity_providers.floe,
    aws_iam_role_policy.worker,
    aws_iam_role_policy.execution["worker"],
    aws_iam_role_policy_attachment.execution["worker"],
    aws_secretsmanager_secret_version.generated["worker_token"],
    aws_secretsmanager_secret_version.generated["task_signing_key"],
  ]

  lifecycle {
    ignore_changes = [desired_count]
  }
}
