# The Glue database of the Iceberg tables. Floe's workers create the tables on
# their first commit (CreateTable) and commit with UpdateTable + VersionId; since
# the database exists, they never need glue:CreateDatabase.
resource "aws_glue_catalog_database" "floe" {
  name         = var.glue_database
  description  = "Floe ${var.name}: Iceberg tables written by Floe's workers"
  location_uri = "${local.warehouse_root}/${var.glue_database}.db"
}

# The Glue database of the Gold models' tables ([[models]] in a contract).
resource "aws_glue_catalog_database" "gold" {
  name         = var.gold_glue_database
  description  = "Floe ${var.name}: Gold tables rebuilt by Floe's workers from Silver"
  location_uri = "${local.warehouse_root}/${var.gold_glue_database}.db"
}
