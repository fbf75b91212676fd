# The task queue and its dead letter queue, named as Floe expects (--sqs-queue NAME
# and NAME-dead). The coordinator calls CreateQueue on both at start-up with
# MessageRetentionPeriod = 14 days and RedrivePolicy = {deadLetterTargetArn,
# maxReceiveCount = --max-attempts}; SQS returns the existing queue when those
# values match, so they are set identically here.
resource "aws_sqs_queue" "dead" {
  name                      = local.dead_queue_name
  message_retention_seconds = local.queue_retention_seconds
  kms_master_key_id         = aws_kms_key.floe.arn
}

resource "aws_sqs_queue" "tasks" {
  name                       = var.queue_name
  message_retention_seconds  = local.queue_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  receive_wait_time_seconds  = 20
  kms_master_key_id          = aws_kms_key.floe.arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead.arn
    maxReceiveCount     = var.max_attempts
  })
}

# Only the task queue may dead-letter into the DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dead" {
  queue_url = aws_sqs_queue.dead.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.tasks.arn]
  })
}
