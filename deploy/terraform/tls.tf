# TLS of the coordinator's gRPC API. Every call carries a bearer token (auth.tf)
# and the API carries run plans and progress, so they cross the network encrypted
# even inside the VPC's private subnets, and a worker checks that it talks to the
# coordinator before it sends its token.
#
# A private CA, made here, signs the coordinator's certificate for its Cloud Map
# name (local.coordinator_host, the host of the workers' --coordinator): no public
# CA signs a name of a private namespace, and an ACM Private CA would be a monthly
# charge for this one certificate.
# - the coordinator gets its certificate and key as FLOE_TLS_CERT_PEM and
#   FLOE_TLS_KEY_PEM from the secret coordinator_tls, which only its own
#   execution role may read (iam.tf);
# - the workers get the CA certificate, which is public, as a plain
#   FLOE_TLS_CA_PEM, and reach the coordinator at https://;
# - operators get it from `terraform output -raw tls_ca_cert_pem` for the CLI.
#
# The tls provider generates both private keys (the CA's and the coordinator's),
# so both are in the Terraform state in clear, like the tokens of auth.tf: protect
# the state (an encrypted backend that few can read). Whoever holds the CA key can
# impersonate the coordinator to the workers and collect their token. Nothing in
# AWS holds the CA key.
#
# Renewal: at a plan within early_renewal_hours of a certificate's end, the
# provider replaces it. The task definitions change with it (the coordinator's
# pins the secret's version, the workers' carry the CA certificate), so the same
# apply redeploys the services: apply at least once in every renewal window
# (the last 30 days of the coordinator's yearly certificate).

locals {
  # A year, renewed in its last 30 days.
  coordinator_cert_validity_hours = 365 * 24
  coordinator_cert_renewal_hours  = 30 * 24
  # Ten years, renewed in its last year; a new CA means a new coordinator
  # certificate too (tls_locally_signed_cert is replaced with it).
  ca_cert_validity_hours = 10 * 365 * 24
  ca_cert_renewal_hours  = 365 * 24
}

# ---------------------------------------------------------------- private CA

# ECDSA P-256: what the Floe test suite's certificates use, and short to carry in
# an environment variable.
resource "tls_private_key" "ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_self_signed_cert" "ca" {
  private_key_pem       = tls_private_key.ca.private_key_pem
  is_ca_certificate     = true
  validity_period_hours = local.ca_cert_validity_hours
  early_renewal_hours   = local.ca_cert_renewal_hours
  allowed_uses          = ["cert_signing", "crl_signing"]

  subject {
    common_name  = "Floe ${var.name} gRPC CA"
    organization = "Floe"
  }
}

# ---------------------------------------------------------------- coordinator

resource "tls_private_key" "coordinator" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_cert_request" "coordinator" {
  private_key_pem = tls_private_key.coordinator.private_key_pem
  # The name the workers dial; a client that dials another name (an IP, a tunnel)
  # sets FLOE_TLS_DOMAIN to this one.
  dns_names = [local.coordinator_host]

  subject {
    common_name  = local.coordinator_host
    organization = "Floe"
  }
}

resource "tls_locally_signed_cert" "coordinator" {
  cert_request_pem      = tls_cert_request.coordinator.cert_request_pem
  ca_private_key_pem    = tls_private_key.ca.private_key_pem
  ca_cert_pem           = tls_self_signed_cert.ca.cert_pem
  validity_period_hours = local.coordinator_cert_validity_hours
  early_renewal_hours   = local.coordinator_cert_renewal_hours
  # A TLS server only: it signs nothing and is no client.
  allowed_uses = ["digital_signature", "server_auth"]
}

# The certificate and its key as one JSON secret, {"cert": PEM, "key": PEM}: ECS
# injects each key of it into its own variable (`<arn>:cert::<version>`, ecs.tf),
# with one GetSecretValue permission. The key is PKCS#8, the PEM form every TLS
# library reads.
resource "aws_secretsmanager_secret" "coordinator_tls" {
  name        = "${var.name}/coordinator-tls"
  description = "Floe ${var.name}: the coordinator's gRPC TLS certificate and private key (FLOE_TLS_CERT_PEM, FLOE_TLS_KEY_PEM)"
  kms_key_id  = aws_kms_key.floe.arn

  #checkov:skip=CKV2_AWS_57:Terraform owns this value: it renews the certificate (early_renewal_hours) and the coordinator's task definition pins the new secret version, so the apply redeploys it; a rotation Lambda would write a certificate this module's CA did not sign.
}

resource "aws_secretsmanager_secret_version" "coordinator_tls" {
  secret_id = aws_secretsmanager_secret.coordinator_tls.id
  secret_string = jsonencode({
    cert = tls_locally_signed_cert.coordinator.cert_pem
    key  = tls_private_key.coordinator.private_key_pem_pkcs8
  })
}
