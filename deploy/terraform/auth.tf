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

# The three differ only in name and description, so they are one set of
# resources over this map (like the execution roles in iam.tf): a secret cannot
# drift from the others' encryption, alphabet or lifecycle. The key names the
# instance (aws_secretsmanager_secret.generated["worker_token"]), name_suffix
# ends the secret's name (<name>/<suffix>).
locals {
  generated_secrets = {
    # Rotated by put-secret-value of "NEW,OLD" plus a forced deployment of the
    # coordinator (deploy/README.md).
    auth_token = {
      name_suffix = "auth-token"
      description = "Floe ${var.name}: operator bearer token of the coordinator's gRPC API (FLOE_AUTH_TOKEN), coordinator only"
    }
    # Rotated by put-secret-value of "NEW,OLD" plus forced deployments of the
    # coordinator, then the workers.
    worker_token = {
      name_suffix = "worker-token"
      description = "Floe ${var.name}: bearer token of the workers' calls to the coordinator (FLOE_WORKER_TOKEN)"
    }
    # Rotated by put-secret-value of "NEW,OLD" plus forced deployments of the
    # workers, then the coordinator: a key the workers do not know yet makes them
    # dead-letter every task.
    task_signing_key = {
      name_suffix = "task-signing-key"
      description = "Floe ${var.name}: HMAC key of the task messages on SQS (FLOE_TASK_SIGNING_KEY)"
    }
  }
}

resource "aws_secretsmanager_secret" "generated" {
  for_each = local.generated_secrets

  name        = "${var.name}/${each.value.name_suffix}"
  description = each.value.description
  kms_key_id  = aws_kms_key.floe.arn

  #checkov:skip=CKV2_AWS_57:ECS reads these secrets only when a container starts and the coordinator and its callers (the CLI, every worker) must agree on each, so a rotation Lambda cannot rotate one alone; rotate by put-secret-value of "NEW,OLD" plus forced deployments in the order of each secret (deploy/README.md).
}

# Letters and digits only (a value must be printable ASCII without spaces, and
# this keeps it safe to paste into a shell); 64 characters, about 380 bits.
data "aws_secretsmanager_random_password" "generated" {
  for_each = local.generated_secrets

  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each = local.generated_secrets

  secret_id     = aws_secretsmanager_secret.generated[each.key].id
  secret_string = data.aws_secretsmanager_random_password.generated[each.key].random_password

  # The data source draws a new password on every plan: keep the first one (and
  # any value an operator has put since) instead of rotating on each apply.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

# The operator token was released as aws_secretsmanager_secret.auth_token and
# its version: without these blocks Terraform would destroy that secret and make
# a new one with a new value, locking out every operator and CI job that holds
# the current token (and Secrets Manager keeps a deleted name for its recovery
# window, so the new secret could not even take it). Moved, the secret and its
# value stay as they are. The worker token and the signing key were never
# released under another address, so they need none.
moved {
  from = aws_secretsmanager_secret.auth_token
  to   = aws_secretsmanager_secret.generated["auth_token"]
}

moved {
  from = aws_secretsmanager_secret_version.auth_token
  to   = aws_secretsmanager_secret_version.generated["auth_token"]
}
