# Continuous loads (`source.events` in a contract): the Bronze bucket notifies an
# SQS queue of every object created under the Bronze prefixes, and the
# coordinator appends the new files. The coordinator deletes a notification
# only after it recorded the file in its ledger, so a notification is never
# lost; a file notified twice is loaded once. Contracts name the queue:
#   [source]
#   events = "<var.bronze_events_queue_name>"
resource "aws_sqs_queue" "bronze_events" {
  name                      = var.bronze_events_queue_name
  message_retention_seconds = local.queue_retention_seconds
  # Long enough for the coordinator to look the objects up and record them.
  visibility_timeout_seconds = 60
  kms_master_key_id          = aws_kms_key.floe.arn
}

resource "aws_s3_bucket_notification" "bronze" {
  bucket = aws_s3_bucket.bronze.id

  dynamic "queue" {
    for_each = toset(var.bronze_prefixes)
    content {
      id            = "floe-${replace(queue.value, "/", "-")}"
      queue_arn     = aws_sqs_queue.bronze_events.arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = "${queue.value}/"
    }
  }

  depends_on = [aws_sqs_queue_policy.bronze_events]
}

# Only the Bronze bucket (of this account) sends; only the coordinator reads;
# nothing without TLS.
data "aws_iam_policy_document" "bronze_events" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.bronze_events.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "TheBronzeBucketNotifies"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.bronze_events.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.bronze.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "OnlyTheBucketSendsEvents"
    effect    = "Deny"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.bronze_events.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.coordinator.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "bronze_events" {
  queue_url = aws_sqs_queue.bronze_events.id
  policy    = data.aws_iam_policy_document.bronze_events.json
}

# Notifications waiting longer than this: the coordinator is not taking them
# (down, or its role cannot read the queue), so new files are not loaded.
resource "aws_cloudwatch_metric_alarm" "bronze_events_waiting" {
  alarm_name          = "${var.name}-bronze-events-waiting"
  alarm_description   = "Floe: S3 notifications of new Bronze files wait on ${var.bronze_events_queue_name} for over 15 minutes; is the coordinator running?"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.bronze_events.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 900
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
