# The coordinator's --state-dir: the run ledger (SQLite). It must survive a task
# replacement, so it lives on EFS (encrypted with the deployment's key, TLS and IAM
# authorization on mount) behind an access point that maps every client to uid
# 10001, the image's user. Only one coordinator task ever mounts it (the service
# runs 1 task and stops the old one before starting a new one).
resource "aws_efs_file_system" "coordinator" {
  creation_token   = "${var.name}-coordinator-state"
  encrypted        = true
  kms_key_id       = aws_kms_key.floe.arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"
}

# Daily backups in AWS Backup's default EFS plan (35 days).
resource "aws_efs_backup_policy" "coordinator" {
  file_system_id = aws_efs_file_system.coordinator.id

  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_efs_mount_target" "coordinator" {
  for_each = toset(var.subnet_ids)

  file_system_id  = aws_efs_file_system.coordinator.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

resource "aws_efs_access_point" "coordinator" {
  file_system_id = aws_efs_file_system.coordinator.id

  posix_user {
    uid = 10001
    gid = 10001
  }

  root_directory {
    path = "/floe"

    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
}

data "aws_iam_policy_document" "efs" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["elasticfilesystem:*"]
    resources = [aws_efs_file_system.coordinator.arn]

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
    sid       = "CoordinatorThroughItsAccessPoint"
    effect    = "Allow"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.coordinator.arn]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.coordinator.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.coordinator.arn]
    }
  }
}

resource "aws_efs_file_system_policy" "coordinator" {
  file_system_id = aws_efs_file_system.coordinator.id
  policy         = data.aws_iam_policy_document.efs.json
}
