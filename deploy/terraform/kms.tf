# One customer-managed key for the deployment's data at rest: both data buckets,
# the three queues (S3 may use it to notify the Bronze events queue), the coordinator's EFS volume, the log groups, the alarm topic,
# Athena's results and the secrets (the tokens and the task signing key of
# auth.tf, the coordinator's TLS key of tls.tf). IAM policies grant its use (the
# key policy delegates to IAM).
resource "aws_kms_key" "floe" {
  description             = "Floe ${var.name}: S3, SQS, EFS, CloudWatch Logs, SNS, Athena results"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersViaIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsTheLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        Sid       = "CloudWatchAlarmsPublishToTheEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "TheBronzeBucketNotifiesTheEncryptedEventsQueue"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnEquals    = { "aws:SourceArn" = "arn:${local.partition}:s3:::${local.bronze_bucket}" }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "floe" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.floe.key_id
}
