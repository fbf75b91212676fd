# A workgroup for querying Floe's tables: engine v3 (Iceberg), results encrypted
# with the deployment's key in the warehouse bucket, outside the tables' prefix.
resource "aws_athena_workgroup" "floe" {
  name          = var.name
  description   = "Queries over Floe's Iceberg tables (${var.glue_database}, ${var.gold_glue_database})"
  force_destroy = false

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${aws_s3_bucket.warehouse.bucket}/athena-results/"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.floe.arn
      }
    }
  }
}
