# Worker autoscaling: 0 to var.max_workers tasks.
#
# Two kinds of policy, because target tracking alone cannot start from zero: it
# sizes the fleet in proportion to the current capacity, and with zero tasks there
# is nothing to scale (the coordinator's floe_backlog_per_worker is waiting tasks /
# max(workers, 1), so it does report the backlog; it is also missing altogether
# while the coordinator or its collector is down). So
# - target tracking on floe_backlog_per_worker (namespace Floe, published by the
#   coordinator's collector) sizes the fleet while workers run. Its scale-in is
#   disabled: with nothing *waiting* the metric is 0 even while every worker is busy
#   with in-flight tasks, and target tracking would then stop busy workers;
# - step scaling on the task queue's SQS metrics covers the two edges:
#   * out from zero: tasks visible while the service wants no task → 1 worker
#     (target tracking takes over as soon as it reports);
#   * in to zero: no task visible or in flight for var.scale_in_idle_minutes → 0.
#   The scale-in alarm counts in-flight tasks too (ApproximateNumberOfMessagesNotVisible),
#   so a long last task is never cut short.

resource "aws_appautoscaling_target" "workers" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.floe.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 0
  max_capacity       = var.max_workers
}

resource "aws_appautoscaling_policy" "backlog_per_worker" {
  name               = "${var.name}-backlog-per-worker"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.workers.service_namespace
  resource_id        = aws_appautoscaling_target.workers.resource_id
  scalable_dimension = aws_appautoscaling_target.workers.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_worker_target
    disable_scale_in   = true
    scale_out_cooldown = 60

    customized_metric_specification {
      namespace   = local.metrics_namespace
      metric_name = "floe_backlog_per_worker"
      statistic   = "Average"

      dimensions {
        name  = "deployment"
        value = var.name
      }
    }
  }
}

resource "aws_appautoscaling_policy" "scale_out_from_zero" {
  name               = "${var.name}-scale-out-from-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.workers.service_namespace
  resource_id        = aws_appautoscaling_target.workers.resource_id
  scalable_dimension = aws_appautoscaling_target.workers.scalable_dimension

  step_scaling_policy_configuration {
    # Exact, not a change: repeating it while the first task starts is harmless.
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 1
    }
  }
}

resource "aws_appautoscaling_policy" "scale_in_to_zero" {
  name               = "${var.name}-scale-in-to-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.workers.service_namespace
  resource_id        = aws_appautoscaling_target.workers.resource_id
  scalable_dimension = aws_appautoscaling_target.workers.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 300
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = 0
    }
  }
}

# Tasks are waiting (ApproximateNumberOfMessagesVisible > 0) and the worker service
# wants no task (Container Insights' DesiredTaskCount == 0). Fires once per start:
# when desired becomes 1 the expression drops back to 0.
resource "aws_cloudwatch_metric_alarm" "tasks_waiting_no_workers" {
  alarm_name          = "${var.name}-tasks-waiting-no-workers"
  alarm_description   = "Floe: tasks are queued and no worker is wanted; scales the worker service out from zero."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_out_from_zero.arn]

  metric_query {
    id          = "waiting_no_workers"
    expression  = "IF(FILL(visible, 0) > 0 AND FILL(desired, 0) == 0, 1, 0)"
    label       = "tasks waiting with no worker"
    return_data = true
  }

  metric_query {
    id = "visible"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = aws_sqs_queue.tasks.name }
    }
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      period      = 60
      stat        = "Maximum"
      dimensions  = { ClusterName = aws_ecs_cluster.floe.name, ServiceName = aws_ecs_service.worker.name }
    }
  }
}

# No task waiting or in flight for var.scale_in_idle_minutes: stop every worker.
resource "aws_cloudwatch_metric_alarm" "queue_idle" {
  alarm_name          = "${var.name}-queue-idle"
  alarm_description   = "Floe: the task queue has been empty (nothing visible, nothing in flight); scales the workers in to zero."
  comparison_operator = "LessThanThreshold"
  threshold           = 0.5 # i.e. == 0; below the threshold keeps the step bounds unambiguous
  evaluation_periods  = var.scale_in_idle_minutes
  datapoints_to_alarm = var.scale_in_idle_minutes
  # An idle queue stops publishing metrics after a while: missing means empty.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_appautoscaling_policy.scale_in_to_zero.arn]

  metric_query {
    id          = "tasks"
    expression  = "FILL(visible, 0) + FILL(in_flight, 0)"
    label       = "tasks waiting or in flight"
    return_data = true
  }

  metric_query {
    id = "visible"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = aws_sqs_queue.tasks.name }
    }
  }

  metric_query {
    id = "in_flight"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = aws_sqs_queue.tasks.name }
    }
  }
}
