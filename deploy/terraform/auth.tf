# The bearer token of the coordinator's gRPC API. The coordinator refuses calls
# without it, and it will not listen on 0.0.0.0 without one; workers (and the CLI)
# send it on every call. Both read it from FLOE_AUTH_TOKEN, which ECS fills from
# this secret when a container starts (the `secrets` of the container definitions
# in ecs.tf, read by the task execution role: see iam.tf).
#
# The value is generated once, by Secrets Manager (GetRandomPassword: no extra
# provider), and encrypted with the deployment's key. It is also kept in the
# Terraform state, like every secret Terraform writes: protect the state. Rotate it
# with `aws secretsmanager put-secret-value` and a new deployment of both services
# (deploy/README.md); Terraform then leaves the new value alone.
resource "aws_secretsmanager_secret" "auth_token" {
  name        = "${var.name}/auth-token"
  description = "Floe ${var.name}: bearer token of the coordinator's gRPC API (FLOE_AUTH_TOKEN)"
  kms_key_id  = aws_kms_key.floe.arn

  #checkov:skip=CKV2_AWS_57:ECS reads the token only when a container starts and the coordinator and every worker must hold the same value, so a rotation Lambda cannot rotate it alone; rotate by put-secret-value plus a forced deployment of both services (deploy/README.md).
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
