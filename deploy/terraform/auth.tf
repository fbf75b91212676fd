# The shared secrets of the coordinator's gRPC API and of the task queue, one
# Secrets Manager secret each, so that each service is given only what it needs
# (least privilege: a worker that is taken over cannot act as an operator):
#
# | secret           | variable              | coordinator | workers |
# |------------------|-----------------------|-------------|---------|
# | auth_token       | FLOE_AUTH_TOKEN       | yes         | no      |
# | worker_token     | FLOE_WORKER_TOKEN     | yes         | yes     |
# | task_signing_key | FLOE_TASK_SIGNING_KEY | yes         | yes     |
#
# - auth_token, the OPERATOR token: every call of the API (submit, cancel,
#   rollback, status, ...). The coordinator refuses calls without a token and will
#   not listen on 0.0.0.0 without one; the CLI sends it (deploy/README.md).
# - worker_token: accepted by the coordinator on the worker calls only (lease,
#   extend, complete, fail, release, report progress), so a worker's credentials
#   cannot submit, cancel or roll back a run.
# - task_signing_key: the HMAC key with which the coordinator signs every task it
#   puts on SQS; a worker refuses a task message without a valid signature and
#   moves it to the dead letter queue, so a principal that can write to the queue
#   (queue.tf restricts that too) still cannot make the workers read or write
#   anything.
#
# ECS fills the variables from these secrets when a container starts (the
# `secrets` of the container definitions in ecs.tf), read by each service's own
# task execution role (iam.tf), which may read only that service's secrets.
#
# Each value is generated once, by Secrets Manager (GetRandomPassword: no extra
# provider), and encrypted with the deployment's key. It is also kept in the
# Terraform state, like every secret Terraform writes: protect the state. Every
# variable takes several values separated by commas (the first is the one a
# client sends and the key that signs; the coordinator accepts all of them), so a
# value is rotated without downtime by `aws secretsmanager put-secret-value` of
# "NEW,OLD", new deployments, then "NEW" alone (deploy/README.md); Terraform then
# leaves the new value alone. The generated values have no punctuation, hence no
# comma.

# ---------------------------------------------------------------- operator token

resource "aws_secretsmanager_secret" "auth_token" {
  name        = "${var.name}/auth-token"
  description = "Floe ${var.name}: operator bearer token of the coordinator's gRPC API (FLOE_AUTH_TOKEN), coordinator only"
  kms_key_id  = aws_kms_key.floe.arn

  #checkov:skip=CKV2_AWS_57:ECS reads the token only when a container starts and the coordinator and its callers must agree on it, so a rotation Lambda cannot rotate it alone; rotate by put-secret-value of "NEW,OLD" plus a forced deployment of the coordinator (deploy/README.md).
}

# Letters and digits only (the token must be printable ASCII without spaces, and
# this keeps it safe to paste into a shell); 64 characters, about 380 bits.
data "aws_secretsmanager_random_password" "auth_token" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "auth_token" {
  secret_id     = aws_secretsmanager_secret.auth_token.id
  secret_string = data.aws_secretsmanager_random_password.auth_token.random_password

  # The data source draws a new password on every plan: keep the first one (and
  # any value an operator has put since) instead of rotating on each apply.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

# ---------------------------------------------------------------- worker token

resource "aws_secretsmanager_secret" "worker_token" {
  name        = "${var.name}/worker-token"
  description = "Floe ${var.name}: bearer token of the workers' calls to the coordinator (FLOE_WORKER_TOKEN)"
  kms_key_id  = aws_kms_key.floe.arn

  #checkov:skip=CKV2_AWS_57:ECS reads the token only when a container starts and the coordinator and every worker must agree on it, so a rotation Lambda cannot rotate it alone; rotate by put-secret-value of "NEW,OLD" plus forced deployments of the coordinator, then the workers (deploy/README.md).
}

# Same alphabet and length as the operator token.
data "aws_secretsmanager_random_password" "worker_token" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "worker_token" {
  secret_id     = aws_secretsmanager_secret.worker_token.id
  secret_string = data.aws_secretsmanager_random_password.worker_token.random_password

  # As for the operator token: generated once, then left to the operators.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

# ---------------------------------------------------------------- task signing key

resource "aws_secretsmanager_secret" "task_signing_key" {
  name        = "${var.name}/task-signing-key"
  description = "Floe ${var.name}: HMAC key of the task messages on SQS (FLOE_TASK_SIGNING_KEY)"
  kms_key_id  = aws_kms_key.floe.arn

  #checkov:skip=CKV2_AWS_57:ECS reads the key only when a container starts, and a key the workers do not know yet makes them dead-letter every task, so a rotation Lambda cannot rotate it alone; rotate by put-secret-value of "NEW,OLD" plus forced deployments of the workers, then the coordinator (deploy/README.md).
}

# 64 letters and digits, about 380 bits, like the tokens.
data "aws_secretsmanager_random_password" "task_signing_key" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "task_signing_key" {
  secret_id     = aws_secretsmanager_secret.task_signing_key.id
  secret_string = data.aws_secretsmanager_random_password.task_signing_key.random_password

  # As for the tokens: generated once, then left to the operators.
  lifecycle {
    ignore_changes = [secret_string]
  }
}
