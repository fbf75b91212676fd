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

# Queue policies. Identity policies (iam.tf) grant what each role does; these cap
# what any principal of the account may do, whatever its own policies say (an
# administrator's role, a CI role, another workload's role):
# - only the coordinator's task role sends to the task queue. With the signatures
#   (auth.tf) a forged task would be refused by the workers anyway; this keeps it
#   off the queue in the first place. An operator's SendMessage is refused too:
#   tasks are queued by the coordinator, which records them in its ledger.
# - only the workers (a refused task message, iam.tf) and the coordinator send to
#   the dead letter queue. SQS's own redrive from the task queue is not a
#   SendMessage of one of the account's principals: the redrive allow policy above
#   governs it.
# - every call without TLS is refused, on both queues.
# The deny is keyed on aws:PrincipalAccount = this account, so it names the
# account's principals only: requests made by SQS itself carry no principal and
# are not caught by it, and other accounts have no grant at all (no Allow here).
#
# Both queues get the same two statements, from one definition over this map: only
# the queue and the roles left to send to it differ. The Sid names those senders.
locals {
  queue_policies = {
    tasks = {
      arn       = aws_sqs_queue.tasks.arn
      url       = aws_sqs_queue.tasks.id
      sends_sid = "OnlyTheCoordinatorSendsTasks"
      senders   = [aws_iam_role.coordinator.arn]
    }
    dead = {
      arn       = aws_sqs_queue.dead.arn
      url       = aws_sqs_queue.dead.id
      sends_sid = "OnlyFloeSendsDeadLetters"
      senders   = [aws_iam_role.worker.arn, aws_iam_role.coordinator.arn]
    }
  }
}

data "aws_iam_policy_document" "queue" {
  for_each = local.queue_policies

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value.arn]

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
    sid       = each.value.sends_sid
    effect    = "Deny"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.arn]

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
      values   = each.value.senders
    }
  }
}

resource "aws_sqs_queue_policy" "queue" {
  for_each = local.queue_policies

  queue_url = each.value.url
  policy    = data.aws_iam_policy_document.queue[each.key].json
}
