# Alarms that need a person, published to an encrypted SNS topic.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.floe.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# A task was delivered var.max_attempts times without success and SQS moved it to
# the dead letter queue (the coordinator then drains it into the ledger as `dead`
# and fails the run), or a worker moved there a task message whose signature did
# not verify (forged, or signed with a key the worker was not given: see the
# rotation order in deploy/README.md). Maximum over 5 minutes, so a message
# drained quickly still counts.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Floe: a task was dead-lettered to ${local.dead_queue_name}; see `floe-coordinator status` for its error."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Tasks in the ledger's `failed` state (floe_tasks{state="failed"}, a coordinator
# gauge exported to namespace Floe by its collector).
resource "aws_cloudwatch_metric_alarm" "failed_tasks" {
  alarm_name          = "${var.name}-failed-tasks"
  alarm_description   = "Floe: a task failed (floe_tasks{state=\"failed\"} > 0); see `floe-coordinator status`."
  namespace           = local.metrics_namespace
  metric_name         = "floe_tasks"
  dimensions          = { deployment = var.name, state = "failed" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# A registered pipeline misses its contract's [freshness] expectation (e.g. no
# partition for yesterday by 06:00): floe_pipelines_stale counts them, and
# `floe-coordinator pipeline list` says which and why (floe_freshness_missed
# has a `pipeline` dimension for dashboards).
resource "aws_cloudwatch_metric_alarm" "stale_pipelines" {
  alarm_name          = "${var.name}-stale-pipelines"
  alarm_description   = "Floe: a pipeline's data is older than its contract's [freshness] allows; see `floe-coordinator pipeline list`."
  namespace           = local.metrics_namespace
  metric_name         = "floe_pipelines_stale"
  dimensions          = { deployment = var.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
