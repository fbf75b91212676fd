# Security groups and the coordinator's private DNS name.
#
# Workers find the coordinator through Cloud Map (coordinator.<namespace>, an A
# record of the single coordinator task's IP) rather than an internal NLB: there is
# exactly one coordinator task, which terminates TLS itself (its certificate names
# coordinator.<namespace>, tls.tf), workers reconnect on failure and the 10 s TTL
# follows a replaced task, so an NLB would only add a hop, health-check lag and an
# hourly charge.
# Even without it workers keep committing: they report to the coordinator but
# receive from SQS and commit through Glue themselves.

resource "aws_service_discovery_private_dns_namespace" "floe" {
  name        = var.service_discovery_namespace
  description = "Floe ${var.name}: the coordinator's name for the workers"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "coordinator" {
  name = "coordinator"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.floe.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_security_group" "coordinator" {
  name        = "${var.name}-coordinator"
  description = "Floe coordinator: gRPC from workers and clients; HTTPS to AWS APIs; NFS to its EFS volume"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "Floe workers: no inbound; HTTPS to AWS APIs, gRPC to the coordinator"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-coordinator-state"
  description = "Floe coordinator's EFS volume: NFS from the coordinator only"
  vpc_id      = var.vpc_id
}

# ---------------------------------------------------------------- coordinator

resource "aws_vpc_security_group_ingress_rule" "coordinator_grpc_from_workers" {
  security_group_id            = aws_security_group.coordinator.id
  description                  = "gRPC reports from workers"
  referenced_security_group_id = aws_security_group.worker.id
  ip_protocol                  = "tcp"
  from_port                    = 50051
  to_port                      = 50051
}

resource "aws_vpc_security_group_ingress_rule" "coordinator_grpc_from_clients" {
  for_each = toset(var.client_security_group_ids)

  security_group_id            = aws_security_group.coordinator.id
  description                  = "gRPC from floe-coordinator CLI clients (submit, status, ...)"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 50051
  to_port                      = 50051
}

resource "aws_vpc_security_group_egress_rule" "coordinator_https" {
  security_group_id = aws_security_group.coordinator.id
  description       = "HTTPS to AWS APIs (S3, SQS, Glue, CloudWatch, X-Ray, ECR) via NAT or VPC endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "coordinator_nfs" {
  security_group_id            = aws_security_group.coordinator.id
  description                  = "NFS to the coordinator's EFS volume (run ledger)"
  referenced_security_group_id = aws_security_group.efs.id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

# ---------------------------------------------------------------- worker

resource "aws_vpc_security_group_egress_rule" "worker_https" {
  security_group_id = aws_security_group.worker.id
  description       = "HTTPS to AWS APIs (S3, SQS, Glue, CloudWatch, X-Ray, ECR) via NAT or VPC endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "worker_grpc" {
  security_group_id            = aws_security_group.worker.id
  description                  = "gRPC to the coordinator"
  referenced_security_group_id = aws_security_group.coordinator.id
  ip_protocol                  = "tcp"
  from_port                    = 50051
  to_port                      = 50051
}

# ---------------------------------------------------------------- EFS

resource "aws_vpc_security_group_ingress_rule" "efs_nfs_from_coordinator" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the coordinator"
  referenced_security_group_id = aws_security_group.coordinator.id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}
