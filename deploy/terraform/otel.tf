# OpenTelemetry: an AWS Distro for OpenTelemetry collector runs as a sidecar in
# each coordinator and worker task (a sidecar per worker task is simpler than
# routing every worker to one collector: no extra port across tasks, and each
# collector scrapes only localhost). Each collector
# - scrapes its Floe container's Prometheus endpoint, localhost:9090/metrics
#   (FLOE_METRICS_LISTEN=127.0.0.1:9090: the loopback of the task), and
#   writes the selected metrics with the awsemf exporter to CloudWatch namespace
#   "Floe" with the dimension deployment = var.name (the autoscaling policy reads
#   floe_backlog_per_worker from there);
# - receives OTLP (HTTP/protobuf, localhost:4318: the protocol Floe exports) and
#   exports traces to X-Ray.
# Both exporters assume the telemetry role (see iam.tf). The config is passed
# inline in AOT_CONFIG_CONTENT.
locals {
  metrics_namespace = "Floe"

  collector_common = {
    extensions = {
      health_check = {}
    }
    processors = {
      batch = {}
    }
  }

  collector_exporters = {
    awsxray = {
      region   = var.region
      role_arn = aws_iam_role.telemetry.arn
    }
  }

  # Coordinator metrics: task states, queue depth, workers, backlog per worker.
  coordinator_collector_config = merge(local.collector_common, {
    receivers = {
      otlp = { protocols = { http = { endpoint = "0.0.0.0:4318" } } } # no security group opens 4318: only the task itself reaches it
      prometheus = {
        config = {
          scrape_configs = [{
            job_name        = "floe-coordinator"
            scrape_interval = "30s"
            metrics_path    = "/metrics"
            static_configs  = [{ targets = ["127.0.0.1:9090"], labels = { deployment = var.name } }]
          }]
        }
      }
    }
    exporters = merge(local.collector_exporters, {
      awsemf = {
        region                  = var.region
        role_arn                = aws_iam_role.telemetry.arn
        namespace               = local.metrics_namespace
        log_group_name          = aws_cloudwatch_log_group.floe["metrics"].name
        log_stream_name         = "coordinator"
        dimension_rollup_option = "NoDimensionRollup"
        metric_declarations = [
          {
            dimensions            = [["deployment", "state"]]
            metric_name_selectors = ["^floe_tasks$"]
          },
          {
            dimensions            = [["deployment"]]
            metric_name_selectors = ["^floe_queue_(visible|in_flight|dead)$", "^floe_workers$", "^floe_backlog_per_worker$", "^floe_pipelines_stale$"]
          },
          {
            dimensions            = [["deployment", "pipeline"]]
            metric_name_selectors = ["^floe_freshness_missed$", "^floe_last_load_age_seconds$", "^floe_newest_file_age_seconds$", "^floe_newest_partition_age_seconds$", "^floe_files_pending$"]
          },
        ]
      }
    })
    service = {
      extensions = ["health_check"]
      pipelines = {
        metrics = { receivers = ["prometheus"], processors = ["batch"], exporters = ["awsemf"] }
        traces  = { receivers = ["otlp"], processors = ["batch"], exporters = ["awsxray"] }
      }
    }
  })

  # Worker metrics: rows by outcome, tasks by result, bytes read, commit latency and
  # retries, lease extensions.
  worker_collector_config = merge(local.collector_common, {
    receivers = {
      otlp = { protocols = { http = { endpoint = "0.0.0.0:4318" } } } # no security group opens 4318: only the task itself reaches it
      prometheus = {
        config = {
          scrape_configs = [{
            job_name        = "floe-worker"
            scrape_interval = "30s"
            metrics_path    = "/metrics"
            static_configs  = [{ targets = ["127.0.0.1:9090"], labels = { deployment = var.name } }]
          }]
        }
      }
    }
    exporters = merge(local.collector_exporters, {
      awsemf = {
        region                  = var.region
        role_arn                = aws_iam_role.telemetry.arn
        namespace               = local.metrics_namespace
        log_group_name          = aws_cloudwatch_log_group.floe["metrics"].name
        log_stream_name         = "worker"
        dimension_rollup_option = "NoDimensionRollup"
        metric_declarations = [
          {
            dimensions            = [["deployment", "outcome"]]
            metric_name_selectors = ["^floe_rows_total$"]
          },
          {
            dimensions            = [["deployment", "result"]]
            metric_name_selectors = ["^floe_tasks_finished_total$"]
          },
          {
            dimensions            = [["deployment"]]
            metric_name_selectors = ["^floe_bytes_read_total$", "^floe_commit_seconds.*$", "^floe_commit_retries_total$", "^floe_lease_extensions_total$"]
          },
        ]
      }
    })
    service = {
      extensions = ["health_check"]
      pipelines = {
        metrics = { receivers = ["prometheus"], processors = ["batch"], exporters = ["awsemf"] }
        traces  = { receivers = ["otlp"], processors = ["batch"], exporters = ["awsxray"] }
      }
    }
  })

  # The sidecar's container definition, shared by both task definitions.
  collector_container = {
    name                   = "otel-collector"
    image                  = var.otel_collector_image
    essential              = false # telemetry down must not stop Floe
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.floe["otel"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "otel"
      }
    }
  }
}
