#!/usr/bin/env python3
"""Structural checks of deploy/ (no pytest, no terraform, no network needed).

    bash scripts/deploy-check.sh                # makes the venv, runs checkov, then this
    .venv-deploy/hcl2/bin/python tests/py/test_deploy.py [--deploy DIR]

Parses every .tf file under DIR/terraform (default: <repo>/deploy) with python-hcl2
and asserts what checkov does not know about Floe: the task roles are least
privilege (no "*" action or resource, the worker writes only the warehouse prefix,
reads Bronze only, uses only the task queue and its DLQ), every bucket is locked
down, the queue dead-letters, the worker drains a Spot interruption, the gRPC auth
token reaches the coordinator and the workers only as an ECS secret (KMS-encrypted,
readable by the execution role alone, on that one secret), and the image runs as a
non-root user. Prints "ok   <name>" or "FAIL <name>" per check and ends
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
                     "iam.tf", "ecs.tf", "autoscaling.tf", "logs.tf", "otel.tf", "outputs.tf", "auth.tf"):
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


# ----------------------------------------------------------------- auth token

LOCAL_REF = re.compile(r"\blocal\.(\w+)")
SECRET_ARN = re.compile(r"^\$\{aws_secretsmanager_secret\.(\w+)\.arn\}$")
KMS_KEY = re.compile(r"^\$\{aws_kms_key\.floe\.(arn|id|key_id)\}$")
TOKEN = "FLOE_AUTH_TOKEN"


def resolve(m: Module, value):
    """A `${local.x}` reference as the value of local.x (recursively); anything else as is."""
    seen = set()
    while isinstance(value, str):
        ref = re.fullmatch(r"\$\{local\.(\w+)\}", value)
        if not ref or ref.group(1) in seen:
            break
        seen.add(ref.group(1))
        assert ref.group(1) in m.locals, f"no local.{ref.group(1)}"
        value = m.locals[ref.group(1)]
    return value


def text_with_locals(m: Module, value) -> str:
    """The text of an expression plus that of every local it reaches, so a name
    hidden in `concat(local.x, ...)` or `merge(local.y, ...)` is still seen."""
    out, todo, seen = [], [value], set()
    while todo:
        text = str(todo.pop())
        out.append(text)
        for name in LOCAL_REF.findall(text):
            if name not in seen and name in m.locals:
                seen.add(name)
                todo.append(m.locals[name])
    return "\n".join(out)


def token_secret(m: Module) -> str:
    """The name of the aws_secretsmanager_secret both Floe containers take FLOE_AUTH_TOKEN from."""
    names = set()
    for local in ("coordinator_container", "worker_container"):
        c = m.locals.get(local)
        assert isinstance(c, dict), f"local.{local} missing"
        secrets = resolve(m, c.get("secrets"))
        assert isinstance(secrets, list), f"{local}: `secrets` is not a list: {secrets!r}"
        entries = [s for s in secrets if isinstance(s, dict) and s.get("name") == TOKEN]
        assert len(entries) == 1, f"{local}: expected one {TOKEN} in `secrets`, got {entries}"
        ref = SECRET_ARN.match(str(entries[0].get("valueFrom", "")))
        assert ref, f"{local}: {TOKEN} valueFrom is not a Secrets Manager secret's ARN: {entries[0].get('valueFrom')!r}"
        m.resource("aws_secretsmanager_secret", ref.group(1))
        names.add(ref.group(1))
    assert len(names) == 1, f"the coordinator and the workers must share one token secret: {sorted(names)}"
    return names.pop()


def check_token_is_an_ecs_secret(m: Module) -> None:
    token_secret(m)
    for local in ("coordinator_container", "worker_container"):
        env = m.locals[local].get("environment")
        assert TOKEN not in text_with_locals(m, env), f"{local}: {TOKEN} must come from `secrets`, not `environment`"
    for local in ("coordinator_collector", "worker_collector", "collector_container"):
        assert TOKEN not in text_with_locals(m, m.locals.get(local)), f"{local}: the collector sidecar must not get {TOKEN}"
    for td in ("coordinator", "worker"):
        body = m.resource("aws_ecs_task_definition", td)
        assert body.get("execution_role_arn") == "${aws_iam_role.execution.arn}", \
            f"task {td}: the secret is read by aws_iam_role.execution, not {body.get('execution_role_arn')!r}"


def execution_statements(m: Module) -> list[dict]:
    m.resource("aws_iam_role", "execution")
    refs = ("${aws_iam_role.execution.id}", "${aws_iam_role.execution.name}")
    out = []
    for body in m.resources.get("aws_iam_role_policy", {}).values():
        if body.get("role") in refs:
            doc = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", str(body.get("policy", "")))
            assert doc, f"execution role inline policy is not a policy document: {body.get('policy')!r}"
            out += statements(m, doc.group(1))
    return out


def check_execution_role_reads_only_the_token(m: Module) -> None:
    arn = f"${{aws_secretsmanager_secret.{token_secret(m)}.arn}}"
    attached = [b.get("policy_arn") for b in m.resources.get("aws_iam_role_policy_attachment", {}).values()
                if str(b.get("role", "")).startswith("${aws_iam_role.execution.")]
    assert all(str(a).endswith(":iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy") for a in attached), \
        f"execution role: unexpected managed policies {attached}"
    body = m.resource("aws_iam_role", "execution")
    assert "managed_policy_arns" not in body and "inline_policy" not in body, "execution role: extra policies"
    sts = execution_statements(m)
    reads = kms = False
    for st in sts:
        sid, actions, resources = st.get("sid", "?"), elements(st.get("actions")), elements(st.get("resources"))
        assert st.get("effect", "Allow") == "Allow", f"execution/{sid}: only Allow statements expected"
        for bad in ("not_actions", "not_resources", "not_principals"):
            assert bad not in st, f"execution/{sid}: {bad} grants everything else"
        assert actions and resources, f"execution/{sid}: no actions or no resources"
        for a in actions:
            assert "*" not in a, f"execution/{sid}: wildcard action {a!r}"
        for r in resources:
            assert "*" not in r, f"execution/{sid}: wildcard resource {r!r}"
        if any(a.startswith("secretsmanager:") for a in actions):
            assert actions == ["secretsmanager:GetSecretValue"], f"execution/{sid}: only GetSecretValue, got {actions}"
            assert resources == [arn], f"execution/{sid}: must name only the token secret {arn}, got {resources}"
            reads = True
        if any(a.startswith("kms:") for a in actions):
            assert actions == ["kms:Decrypt"], f"execution/{sid}: only kms:Decrypt, got {actions}"
            assert len(resources) == 1 and KMS_KEY.match(resources[0]), f"execution/{sid}: only the module's key, got {resources}"
            via = [c for c in st.get("condition", []) if c.get("variable") == "kms:ViaService"]
            assert via and all(v.startswith("secretsmanager.") for v in elements(via[0].get("values"))), \
                f"execution/{sid}: kms:Decrypt must be limited to Secrets Manager (kms:ViaService)"
            ctx = [c for c in st.get("condition", []) if c.get("variable") == "kms:EncryptionContext:SecretARN"]
            assert all(elements(c.get("values")) == [arn] for c in ctx), f"execution/{sid}: encryption context of another secret"
            kms = True
        assert all(a.split(":")[0] in ("secretsmanager", "kms") for a in actions), \
            f"execution/{sid}: unexpected actions {actions} (the managed policy covers ECR and logs)"
    assert reads, "the execution role cannot read the token secret"
    assert kms, "the execution role cannot decrypt the token secret (kms:Decrypt on the key)"


def check_token_secret_encrypted_and_kept(m: Module) -> None:
    name = token_secret(m)
    secret = m.resource("aws_secretsmanager_secret", name)
    assert KMS_KEY.match(str(secret.get("kms_key_id", ""))), \
        f"secret {name}: must be encrypted with aws_kms_key.floe, got kms_key_id {secret.get('kms_key_id')!r}"
    versions = [v for v in m.resources.get("aws_secretsmanager_secret_version", {}).values()
                if v.get("secret_id") in (f"${{aws_secretsmanager_secret.{name}.id}}", f"${{aws_secretsmanager_secret.{name}.arn}}")]
    assert len(versions) == 1, f"secret {name}: expected one secret version, got {len(versions)}"
    value = str(versions[0].get("secret_string", ""))
    assert value.startswith("${data.aws_secretsmanager_random_password."), \
        f"secret {name}: the value must be generated by Secrets Manager, got {value!r}"
    ignored = [i for lc in versions[0].get("lifecycle", []) for i in listify(lc.get("ignore_changes"))]
    assert "secret_string" in ignored, f"secret {name}: without ignore_changes the token changes on every apply"
    outputs = {k: v for doc in m.parsed.values() for block in doc.get("output", []) for k, v in block.items()}
    token_outputs = [k for k, v in outputs.items() if f"aws_secretsmanager_secret.{name}" in str(v.get("value"))]
    assert token_outputs, "no output names the token secret"
    for k in token_outputs:
        assert outputs[k].get("value") == f"${{aws_secretsmanager_secret.{name}.arn}}", \
            f"output {k} must be the secret's ARN, not its value: {outputs[k].get('value')!r}"
    for k, v in outputs.items():
        leaks = ("aws_secretsmanager_secret_version.", "aws_secretsmanager_random_password.")
        assert not any(leak in str(v.get("value")) for leak in leaks), f"output {k} exposes the token's value"
    for doc in m.parsed.values():  # generated without another provider
        for block in doc.get("terraform", []):
            for req in listify(block.get("required_providers")):
                assert set(req) <= {"aws"}, f"extra providers: {sorted(req)}"


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
    check("auth: coordinator and worker take FLOE_AUTH_TOKEN from ECS secrets, not environment",
          lambda: check_token_is_an_ecs_secret(m))
    check("auth: execution role may GetSecretValue on the token secret only, kms:Decrypt via Secrets Manager",
          lambda: check_execution_role_reads_only_the_token(m))
    check("auth: token secret uses the module's KMS key, is generated once, output as an ARN",
          lambda: check_token_secret_encrypted_and_kept(m))
    check("docker: final stage runs as non-root USER 10001", lambda: check_dockerfile_user(deploy))
    check("checkov: every inline skip names a check and a reason", lambda: check_skips_are_justified(deploy))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
