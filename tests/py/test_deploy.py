#!/usr/bin/env python3
"""Structural checks of deploy/ (no pytest, no terraform, no network needed).

    bash scripts/deploy-check.sh                # makes the venv, runs checkov, then this
    .venv-deploy/hcl2/bin/python tests/py/test_deploy.py [--deploy DIR]

Parses every .tf file under DIR/terraform (default: <repo>/deploy) with python-hcl2
and asserts what checkov does not know about Floe: the task roles are least
privilege (no "*" action or resource, the worker writes only the warehouse prefix,
reads Bronze only, uses only the task queue and its DLQ), every bucket is locked
down, the queue dead-letters, the worker drains a Spot interruption, and the image
runs as a non-root user. Prints "ok   <name>" or "FAIL <name>" per check and ends
with "N passed, M failed"; exit code 0 only when nothing failed.
"""
from __future__ import annotations

import argparse
import re
import sys
import traceback
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[2]

passed = 0
failed = 0


def check(name: str, fn) -> None:
    global passed, failed
    try:
        fn()
    except Exception:  # noqa: BLE001 - report and go on
        failed += 1
        print(f"FAIL {name}")
        traceback.print_exc(limit=3)
    else:
        passed += 1
        print(f"ok   {name}")


# ----------------------------------------------------------------- HCL model

def unquote(value):
    """python-hcl2 8 keeps the quotes of string literals ('"x"'); drop them and the
    parser's bookkeeping keys, recursively."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return value[1:-1].replace('\\"', '"')
        return value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


class Module:
    def __init__(self, tf_dir: Path):
        self.files = sorted(tf_dir.glob("*.tf"))
        self.parsed: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        for f in self.files:
            try:
                with f.open() as fh:
                    self.parsed[f.name] = unquote(hcl2.load(fh))
            except Exception as e:  # noqa: BLE001 - recorded, asserted by a check
                self.errors[f.name] = f"{type(e).__name__}: {e}"
        self.resources: dict[str, dict[str, dict]] = {}
        self.data: dict[str, dict[str, dict]] = {}
        self.locals: dict = {}
        for doc in self.parsed.values():
            for kind, index in (("resource", self.resources), ("data", self.data)):
                for block in doc.get(kind, []):
                    for rtype, by_name in block.items():
                        for name, body in by_name.items():
                            assert name not in index.setdefault(rtype, {}), f"duplicate {rtype}.{name}"
                            index[rtype][name] = body
            for block in doc.get("locals", []):
                self.locals.update(block)

    def resource(self, rtype: str, name: str) -> dict:
        assert name in self.resources.get(rtype, {}), f"no resource {rtype}.{name}"
        return self.resources[rtype][name]

    def of_bucket(self, rtype: str, bucket: str) -> list[dict]:
        """The `rtype` resources whose `bucket` is aws_s3_bucket.<bucket>."""
        ref = re.compile(rf"^\$\{{aws_s3_bucket\.{re.escape(bucket)}\.(id|bucket)\}}$")
        return [b for b in self.resources.get(rtype, {}).values() if ref.match(str(b.get("bucket", "")))]


def listify(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


FOR_EXPR = re.compile(r'^\$\{\[for \w+ in [^:]+ : "(.*)"\]\}$', re.S)


def elements(value) -> list[str]:
    """The strings of a list attribute; a `[for p in LIST : "TEMPLATE"]` expression
    counts as its template (what every element looks like)."""
    out = []
    for v in listify(value):
        m = FOR_EXPR.match(v) if isinstance(v, str) else None
        out.append(m.group(1).replace('\\"', '"') if m else v)
    return out


def statements(module: Module, doc: str) -> list[dict]:
    docs = module.data.get("aws_iam_policy_document", {})
    assert doc in docs, f"no data.aws_iam_policy_document.{doc}"
    st = docs[doc].get("statement", [])
    assert st, f"policy document {doc} has no statement"
    return st


# ----------------------------------------------------------------- checks

DATA_ROLES = {"worker": "worker", "coordinator": "coordinator"}  # role -> its policy document


def check_parses(m: Module) -> None:
    assert m.files, "no .tf file found"
    assert not m.errors, f"files that do not parse: {m.errors}"
    for required in ("versions.tf", "variables.tf", "storage.tf", "queue.tf", "glue.tf", "athena.tf",
                     "iam.tf", "ecs.tf", "autoscaling.tf", "logs.tf", "otel.tf", "outputs.tf"):
        assert required in m.parsed, f"missing {required}"


def check_role_policies_are_only_the_documents(m: Module) -> None:
    """The data roles get exactly their policy document: no other inline policy, no
    managed policy, so checking the documents checks the roles."""
    for role, doc in DATA_ROLES.items():
        m.resource("aws_iam_role", role)
        ref = f"${{aws_iam_role.{role}.id}}"
        inline = [b for b in m.resources.get("aws_iam_role_policy", {}).values()
                  if b.get("role") in (ref, f"${{aws_iam_role.{role}.name}}")]
        assert len(inline) == 1, f"role {role}: expected one inline policy, got {len(inline)}"
        assert inline[0].get("policy") == f"${{data.aws_iam_policy_document.{doc}.json}}", \
            f"role {role}: inline policy is not data.aws_iam_policy_document.{doc}: {inline[0].get('policy')}"
        attached = [b for b in m.resources.get("aws_iam_role_policy_attachment", {}).values()
                    if str(b.get("role", "")).startswith(f"${{aws_iam_role.{role}.")]
        assert not attached, f"role {role} has managed policies attached: {attached}"
        body = m.resource("aws_iam_role", role)
        assert "managed_policy_arns" not in body and "inline_policy" not in body, f"role {role}: extra policies"


def check_no_wildcards(m: Module) -> None:
    for doc in DATA_ROLES.values():
        for st in statements(m, doc):
            sid = st.get("sid", "?")
            assert st.get("effect", "Allow") == "Allow", f"{doc}/{sid}: only Allow statements expected"
            for bad in ("not_actions", "not_resources", "not_principals"):
                assert bad not in st, f"{doc}/{sid}: {bad} grants everything else"
            actions = elements(st.get("actions"))
            resources = elements(st.get("resources"))
            assert actions, f"{doc}/{sid}: no actions"
            assert resources, f"{doc}/{sid}: no resources"
            for a in actions:
                assert a != "*" and not a.endswith(":*") and "*" not in a, f"{doc}/{sid}: wildcard action {a!r}"
            for r in resources:
                assert r.strip() != "*", f"{doc}/{sid}: resource '*'"
                assert not re.fullmatch(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*", r), f"{doc}/{sid}: wildcard ARN {r!r}"


S3_READ = {"s3:GetObject", "s3:ListBucket"}
WAREHOUSE_OBJECTS = "${aws_s3_bucket.warehouse.arn}/${var.warehouse_prefix}/*"


def check_worker_s3(m: Module) -> None:
    s3 = [st for st in statements(m, "worker") if any(a.startswith("s3:") for a in elements(st.get("actions")))]
    assert s3, "worker has no S3 statement"
    reads_bronze = writes_warehouse = False
    for st in s3:
        sid, actions, resources = st.get("sid", "?"), elements(st.get("actions")), elements(st.get("resources"))
        assert all(a.startswith("s3:") for a in actions), f"{sid}: mixes S3 and other actions"
        on_bronze = [r for r in resources if "aws_s3_bucket.bronze" in r]
        if on_bronze:
            assert set(actions) <= S3_READ, f"{sid}: Bronze access must be read-only, got {actions}"
            reads_bronze |= "s3:GetObject" in actions
        writes = [a for a in actions if a not in S3_READ]
        if writes:
            assert resources == [WAREHOUSE_OBJECTS], \
                f"{sid}: S3 writes {writes} must target only {WAREHOUSE_OBJECTS}, got {resources}"
            writes_warehouse |= "s3:PutObject" in writes
        for r in resources:
            assert re.match(r"^\$\{aws_s3_bucket\.(bronze|warehouse)\.arn\}", r), f"{sid}: unexpected S3 resource {r!r}"
            if "/" in r:  # object ARNs stay under a prefix
                assert r.endswith("}/*") and r.count("/") == 2, f"{sid}: object ARN not under one prefix: {r!r}"
        if "s3:ListBucket" in actions:
            conds = [c for c in st.get("condition", []) if c.get("variable") == "s3:prefix"]
            assert conds, f"{sid}: s3:ListBucket without an s3:prefix condition"
    assert reads_bronze, "worker cannot read Bronze"
    assert writes_warehouse, "worker cannot write the warehouse"


QUEUES = {"${aws_sqs_queue.tasks.arn}", "${aws_sqs_queue.dead.arn}"}


def check_worker_sqs(m: Module) -> None:
    sqs = [st for st in statements(m, "worker") if any(a.startswith("sqs:") for a in elements(st.get("actions")))]
    assert sqs, "worker has no SQS statement"
    got = set()
    for st in sqs:
        sid, actions, resources = st.get("sid", "?"), elements(st.get("actions")), elements(st.get("resources"))
        assert all(a.startswith("sqs:") for a in actions), f"{sid}: mixes SQS and other actions"
        assert resources and set(resources) <= QUEUES, f"{sid}: SQS resources must be the task queue/DLQ: {resources}"
        if "${aws_sqs_queue.dead.arn}" in resources:
            assert set(actions) <= {"sqs:GetQueueUrl", "sqs:GetQueueAttributes"}, \
                f"{sid}: the worker only finds the DLQ, got {actions}"
        got |= set(actions)
    need = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"}
    assert need <= got, f"worker lacks {need - got}"


def check_buckets(m: Module) -> None:
    buckets = m.resources.get("aws_s3_bucket", {})
    assert {"bronze", "warehouse", "logs"} <= set(buckets), f"buckets: {sorted(buckets)}"
    for name in buckets:
        pab = m.of_bucket("aws_s3_bucket_public_access_block", name)
        assert len(pab) == 1, f"{name}: {len(pab)} public access blocks"
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            assert pab[0].get(k) is True, f"{name}: {k} is {pab[0].get(k)!r}"
        ver = m.of_bucket("aws_s3_bucket_versioning", name)
        assert len(ver) == 1, f"{name}: {len(ver)} versioning resources"
        assert ver[0]["versioning_configuration"][0].get("status") == "Enabled", f"{name}: versioning not Enabled"
        sse = m.of_bucket("aws_s3_bucket_server_side_encryption_configuration", name)
        assert len(sse) == 1, f"{name}: {len(sse)} SSE configurations"
        default = sse[0]["rule"][0]["apply_server_side_encryption_by_default"][0]
        algo = default.get("sse_algorithm")
        assert algo in ("aws:kms", "AES256"), f"{name}: sse_algorithm {algo!r}"
        if name != "logs":  # server access log targets only support SSE-S3
            assert algo == "aws:kms" and "aws_kms_key" in str(default.get("kms_master_key_id")), \
                f"{name}: data bucket must use the customer-managed KMS key"
        own = m.of_bucket("aws_s3_bucket_ownership_controls", name)
        assert own and own[0]["rule"][0].get("object_ownership") == "BucketOwnerEnforced", f"{name}: ACLs not disabled"
        pol = m.of_bucket("aws_s3_bucket_policy", name)
        assert len(pol) == 1, f"{name}: no bucket policy"
        doc = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", pol[0].get("policy", ""))
        assert doc, f"{name}: bucket policy is not a policy document"
        tls = [st for st in statements(m, doc.group(1)) if st.get("effect") == "Deny"
               and any(c.get("variable") == "aws:SecureTransport" and elements(c.get("values")) == ["false"]
                       for c in st.get("condition", []))]
        assert tls, f"{name}: no TLS-only (deny aws:SecureTransport=false) statement"


def check_queue_redrive(m: Module) -> None:
    tasks, dead = m.resource("aws_sqs_queue", "tasks"), m.resource("aws_sqs_queue", "dead")
    assert tasks.get("name") == "${var.queue_name}", f"task queue name {tasks.get('name')!r}"
    assert dead.get("name") == "${local.dead_queue_name}" and m.locals.get("dead_queue_name") == "${var.queue_name}-dead", \
        "the DLQ must be named <queue>-dead, as Floe expects"
    redrive = str(tasks.get("redrive_policy", ""))
    assert re.search(r"deadLetterTargetArn\s*=\s*aws_sqs_queue\.dead\.arn", redrive), f"redrive target: {redrive!r}"
    assert re.search(r"maxReceiveCount\s*=\s*var\.max_attempts", redrive), f"maxReceiveCount: {redrive!r}"
    for q in (tasks, dead):
        assert "aws_kms_key" in str(q.get("kms_master_key_id")), "queue not encrypted with the KMS key"
        # The coordinator's CreateQueue passes this retention: a different value makes it fail.
        assert q.get("message_retention_seconds") == "${local.queue_retention_seconds}" \
            and m.locals.get("queue_retention_seconds") == 1209600, "retention must be 1209600 (14 days)"


def check_worker_spot_drain(m: Module) -> None:
    td = m.resource("aws_ecs_task_definition", "worker")
    assert "local.worker_container" in str(td.get("container_definitions")), "worker task does not use local.worker_container"
    c = m.locals.get("worker_container")
    assert isinstance(c, dict), "local.worker_container missing"
    assert c.get("stopTimeout") == 120, f"worker stopTimeout {c.get('stopTimeout')!r}"
    cmd = c.get("command", [])
    assert "--grace-seconds" in cmd, "worker has no --grace-seconds"
    grace = int(cmd[cmd.index("--grace-seconds") + 1])
    assert 0 < grace < c["stopTimeout"], f"--grace-seconds {grace} must end before stopTimeout"
    assert c.get("entryPoint") == ["floe-worker"], f"worker entryPoint {c.get('entryPoint')!r}"
    assert c.get("readonlyRootFilesystem") is True, "worker root file system not read-only"
    assert str(c.get("user", "")).split(":")[0] not in ("", "0", "root"), f"worker user {c.get('user')!r}"
    svc = m.resource("aws_ecs_service", "worker")
    assert svc.get("task_definition") == "${aws_ecs_task_definition.worker.arn}", "worker service runs another task"
    strategy = svc.get("capacity_provider_strategy", [])
    spot = [s for s in strategy if s.get("capacity_provider") == "FARGATE_SPOT"]
    assert spot and spot[0].get("weight", 0) >= 1, f"worker service has no FARGATE_SPOT strategy: {strategy}"
    assert spot[0].get("base", 0) == 0, "FARGATE_SPOT base must be 0 (scale from zero)"


def check_containers_locked_down(m: Module) -> None:
    """checkov cannot see into container definitions built from locals (it passes
    CKV_AWS_336 either way), so check read-only root and non-root user here."""
    for td, containers in (("coordinator", ("coordinator_container", "coordinator_collector")),
                           ("worker", ("worker_container", "worker_collector"))):
        defs = str(m.resource("aws_ecs_task_definition", td).get("container_definitions"))
        for local in containers:
            assert f"local.{local}" in defs, f"task {td} does not use local.{local}"
    for local in ("coordinator_container", "worker_container", "collector_container"):
        c = m.locals.get(local)
        assert isinstance(c, dict), f"local.{local} missing"
        assert c.get("readonlyRootFilesystem") is True, f"{local}: root file system not read-only"
        assert str(c.get("user", "")).split(":")[0] not in ("", "0", "root"), f"{local}: user {c.get('user')!r}"
        assert c.get("privileged") in (None, False), f"{local}: privileged"
        log = c.get("logConfiguration", {})
        assert log.get("logDriver") == "awslogs", f"{local}: log driver {log.get('logDriver')!r}"
    assert "--max-attempts" in m.locals["coordinator_container"]["command"], \
        "the coordinator's --max-attempts must be passed (it must equal the redrive maxReceiveCount)"


def check_coordinator_on_demand(m: Module) -> None:
    svc = m.resource("aws_ecs_service", "coordinator")
    providers = [s.get("capacity_provider") for s in svc.get("capacity_provider_strategy", [])]
    assert providers == ["FARGATE"], f"coordinator must run on FARGATE only: {providers}"
    assert svc.get("desired_count") == 1 and svc.get("deployment_maximum_percent") == 100, \
        "exactly one coordinator (one ledger writer)"


def check_autoscaling(m: Module) -> None:
    target = m.resource("aws_appautoscaling_target", "workers")
    assert target.get("min_capacity") == 0 and target.get("max_capacity") == "${var.max_workers}"
    tt = m.resource("aws_appautoscaling_policy", "backlog_per_worker")
    spec = tt["target_tracking_scaling_policy_configuration"][0]
    metric = spec["customized_metric_specification"][0]
    assert metric.get("metric_name") == "floe_backlog_per_worker" and "metrics_namespace" in str(metric.get("namespace"))
    assert m.locals.get("metrics_namespace") == "Floe"
    assert spec.get("target_value") == "${var.backlog_per_worker_target}"
    alarms = m.resources.get("aws_cloudwatch_metric_alarm", {})
    sqs_alarms = [a for a in alarms.values()
                  if "ApproximateNumberOfMessagesVisible" in str(a) and "aws_appautoscaling_policy" in str(a.get("alarm_actions"))]
    assert len(sqs_alarms) >= 2, "step scaling on the SQS metric needs a scale-out and a scale-in alarm"


def check_dockerfile_user(deploy: Path) -> None:
    lines, cur = [], ""
    for raw in (deploy / "Dockerfile").read_text().splitlines():
        s = raw.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        cur += s[:-1] + " " if s.endswith("\\") else s
        if not s.endswith("\\"):
            lines.append(cur.strip())
            cur = ""
    stages: list[list[str]] = []
    for ln in lines:
        if ln.upper().startswith("FROM "):
            stages.append([])
        assert stages, "instruction before FROM"
        stages[-1].append(ln)
    assert len(stages) >= 2, "Dockerfile is not multi-stage"
    final = stages[-1]
    assert final[0].split()[1] == "debian:bookworm-slim", f"final stage base: {final[0]}"
    users = [ln.split(None, 1)[1].strip() for ln in final if ln.upper().startswith("USER ")]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"final stage runs as {user!r}"
    assert user == "10001", f"final stage USER {user!r}, expected 10001"


SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def check_skips_are_justified(deploy: Path) -> None:
    found = 0
    for f in sorted(deploy.rglob("*")):
        if ".terraform" in f.parts or not f.is_file() or not (f.suffix == ".tf" or f.name == "Dockerfile"):
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = SKIP.search(line)
            if m:
                found += 1
                reason = (m.group(2) or "").strip()
                assert m.group(1).startswith("CKV"), f"{f.name}:{n}: not a check id: {m.group(1)}"
                assert len(reason) >= 30, f"{f.name}:{n}: {m.group(1)} skipped without a real reason"
    assert found, "expected the documented skips (S3 log bucket, X-Ray, log retention)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deploy", type=Path, default=ROOT / "deploy", help="the deploy/ folder to check")
    args = ap.parse_args()
    deploy = args.deploy.resolve()
    m = Module(deploy / "terraform")

    check("terraform: every .tf file parses", lambda: check_parses(m))
    check("iam: data roles carry only their policy documents", lambda: check_role_policies_are_only_the_documents(m))
    check("iam: no '*' or 'service:*' action, no '*' resource", lambda: check_no_wildcards(m))
    check("iam: worker writes only the warehouse prefix, reads Bronze", lambda: check_worker_s3(m))
    check("iam: worker SQS only on the task queue and DLQ", lambda: check_worker_sqs(m))
    check("s3: every bucket blocks public access, is versioned, encrypted, TLS-only", lambda: check_buckets(m))
    check("sqs: task queue dead-letters to <queue>-dead after max_attempts", lambda: check_queue_redrive(m))
    check("ecs: worker drains Spot (stopTimeout 120, grace < 120) on FARGATE_SPOT", lambda: check_worker_spot_drain(m))
    check("ecs: one coordinator on on-demand FARGATE", lambda: check_coordinator_on_demand(m))
    check("ecs: containers read-only, non-root, awslogs", lambda: check_containers_locked_down(m))
    check("autoscaling: target tracking on floe_backlog_per_worker + SQS steps", lambda: check_autoscaling(m))
    check("docker: final stage runs as non-root USER 10001", lambda: check_dockerfile_user(deploy))
    check("checkov: every inline skip names a check and a reason", lambda: check_skips_are_justified(deploy))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
