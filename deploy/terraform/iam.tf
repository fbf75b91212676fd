# IAM, least privilege. Three kinds of role:
# - task roles (coordinator, worker): what Floe itself does; every statement names
#   its resources (no "*" action, no "*" resource), derived from the calls in the
#   code (queue/src/sqs, lake/src/storage/s3.rs, lake/src/catalog/glue, lake/src/maintenance/).
# - telemetry: assumed by the OTel collector sidecars (awsemf/awsxray `role_arn`) to
#   write metrics and traces. X-Ray has no resource-level permissions, so its
#   actions need Resource "*": they live in this separate role, not in the task roles.
# - task execution, one role per service: ECS pulls the image and ships logs (AWS
#   managed policy), and reads that service's secrets into its containers (inline,
#   those secrets only: the workers' role cannot read the operator token or the
#   coordinator's TLS key).
#
# s3:ListBucket is limited by s3:prefix. A consequence: a HeadObject/GetObject of a
# key that does not exist returns AccessDenied rather than NotFound (S3 evaluates
# ListBucket with no prefix for it); Floe retries both through redelivery.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasks"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }
  }
}

# ---------------------------------------------------------------- worker

# A worker receives tasks from SQS, reads Bronze (HeadObject + ranged GetObject),
# writes Parquet + Iceberg metadata under the warehouse prefix, creates the table
# on its first commit and commits with UpdateTable. It never sends to the task
# queue (only the coordinator does, queue.tf), never deletes an object and never
# lists Bronze.
data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "TaskQueue"
    actions   = ["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"]
    resources = [aws_sqs_queue.tasks.arn]
  }

  # A task message without a valid signature (FLOE_TASK_SIGNING_KEY) is not run:
  # the worker sends it to the dead letter queue itself, then deletes it from the
  # task queue, so it is neither retried nor lost.
  statement {
    sid       = "DeadLetterRefusedTasks"
    actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [aws_sqs_queue.dead.arn]
  }

  statement {
    sid       = "ReadBronze"
    actions   = ["s3:GetObject"]
    resources = [for p in var.bronze_prefixes : "${aws_s3_bucket.bronze.arn}/${p}/*"]
  }

  statement {
    sid       = "ListBronzePrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.bronze.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in var.bronze_prefixes : "${p}/*"]
    }
  }

  statement {
    sid       = "WriteTables"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.warehouse.arn}/${var.warehouse_prefix}/*"]
  }

  statement {
    sid       = "ListTables"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.warehouse.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.warehouse_prefix}/*"]
    }
  }

  statement {
    sid     = "Catalog"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
    resources = [
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog",
      aws_glue_catalog_database.floe.arn,
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${var.glue_database}/*",
      aws_glue_catalog_database.gold.arn,
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${var.gold_glue_database}/*",
    ]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.floe.arn]
  }

  statement {
    sid       = "Telemetry"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.telemetry.arn]
  }
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  description        = "Floe worker tasks"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "worker" {
  name   = "floe-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# ---------------------------------------------------------------- coordinator

# The coordinator creates-or-finds both queues, sends tasks, drains dead letters,
# lists Bronze to plan, reads the tables to reconcile its ledger, and runs rollback
# and scheduled maintenance (compact writes, expire/remove-orphans delete and list
# under the warehouse prefix). Its ledger is on EFS.
data "aws_iam_policy_document" "coordinator" {
  statement {
    sid = "Queues"
    actions = [
      "sqs:CreateQueue",
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
    ]
    resources = [aws_sqs_queue.tasks.arn, aws_sqs_queue.dead.arn]
  }

  # Continuous loads (events.tf): reads the Bronze bucket's notifications and
  # looks each notified object up (HeadObject).
  statement {
    sid       = "BronzeEvents"
    actions   = ["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"]
    resources = [aws_sqs_queue.bronze_events.arn]
  }

  statement {
    sid       = "LookUpNotifiedBronze"
    actions   = ["s3:GetObject"]
    resources = [for p in var.bronze_prefixes : "${aws_s3_bucket.bronze.arn}/${p}/*"]
  }

  statement {
    sid       = "ListBronzePrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.bronze.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in var.bronze_prefixes : "${p}/*"]
    }
  }

  statement {
    sid       = "MaintainTables"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.warehouse.arn}/${var.warehouse_prefix}/*"]
  }

  statement {
    sid       = "ListTables"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.warehouse.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.warehouse_prefix}/*"]
    }
  }

  statement {
    sid     = "Catalog"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"]
    resources = [
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog",
      aws_glue_catalog_database.floe.arn,
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${var.glue_database}/*",
      aws_glue_catalog_database.gold.arn,
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${var.gold_glue_database}/*",
    ]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.floe.arn]
  }

  statement {
    sid       = "LedgerVolume"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.coordinator.arn]

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.coordinator.arn]
    }
  }

  statement {
    sid       = "Telemetry"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.telemetry.arn]
  }
}

resource "aws_iam_role" "coordinator" {
  name               = "${var.name}-coordinator"
  description        = "Floe coordinator task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "coordinator" {
  name   = "floe-coordinator"
  role   = aws_iam_role.coordinator.id
  policy = data.aws_iam_policy_document.coordinator.json
}

# ---------------------------------------------------------------- telemetry

data "aws_iam_policy_document" "telemetry_assume" {
  statement {
    sid     = "CollectorSidecars"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.coordinator.arn, aws_iam_role.worker.arn]
    }
  }
}

data "aws_iam_policy_document" "telemetry" {
  statement {
    sid       = "EmbeddedMetricFormat"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.floe["metrics"].arn, "${aws_cloudwatch_log_group.floe["metrics"].arn}:log-stream:*"]
  }

  # X-Ray's write and sampling actions support no resource-level permissions.
  statement {
    sid = "Traces"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "xray:GetSamplingStatisticSummaries",
    ]
    resources = ["*"] #checkov:skip=CKV_AWS_356:X-Ray's PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions; this role holds nothing else but one log group.
  }
}

resource "aws_iam_role" "telemetry" {
  name               = "${var.name}-telemetry"
  description        = "Assumed by Floe's OTel collector sidecars to write EMF metrics and X-Ray traces"
  assume_role_policy = data.aws_iam_policy_document.telemetry_assume.json
}

resource "aws_iam_role_policy" "telemetry" {
  name   = "floe-telemetry"
  role   = aws_iam_role.telemetry.id
  policy = data.aws_iam_policy_document.telemetry.json
}

# ---------------------------------------------------------------- task execution

# One execution role per service, so that each may read only the secrets its own
# containers get (ecs.tf): ECS reads them with the service's role when it starts a
# Floe container (the `secrets` of the container definitions) and Secrets Manager
# decrypts them with the deployment's key on the role's behalf: GetSecretValue on
# those secrets, and kms:Decrypt on the key only through Secrets Manager and only
# for those secrets.
#
# | secret (auth.tf, tls.tf) | execution["coordinator"] | execution["worker"] |
# |--------------------------|--------------------------|---------------------|
# | auth_token               | yes                      | no                  |
# | worker_token             | yes                      | yes                 |
# | task_signing_key         | yes                      | yes                 |
# | coordinator_tls          | yes                      | no                  |
#
# The two roles differ only in these secrets, so they are one set of resources over
# this map: a service's role cannot grow a permission the other's lacks, other than
# a secret listed here. The key is the service, in the role's name
# (<name>-<service>-execution) and in its policy's name and Sids.
locals {
  execution_roles = {
    coordinator = {
      description = "ECS agent for Floe's coordinator task: pull the image, write container logs, read the coordinator's secrets"
      secrets = [
        aws_secretsmanager_secret.generated["auth_token"].arn,
        aws_secretsmanager_secret.generated["worker_token"].arn,
        aws_secretsmanager_secret.generated["task_signing_key"].arn,
        aws_secretsmanager_secret.coordinator_tls.arn,
      ]
    }
    worker = {
      description = "ECS agent for Floe's worker tasks: pull the image, write container logs, read the workers' secrets"
      secrets = [
        aws_secretsmanager_secret.generated["worker_token"].arn,
        aws_secretsmanager_secret.generated["task_signing_key"].arn,
      ]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each = local.execution_roles

  name               = "${var.name}-${each.key}-execution"
  description        = each.value.description
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  for_each = local.execution_roles

  role       = aws_iam_role.execution[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution" {
  for_each = local.execution_roles

  statement {
    sid       = "Read${title(each.key)}Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = each.value.secrets
  }

  statement {
    sid       = "Decrypt${title(each.key)}Secrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.floe.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = each.value.secrets
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.execution_roles

  name   = "floe-${each.key}-execution"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}
