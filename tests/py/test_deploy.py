#!/usr/bin/env python3
"""Structural checks of deploy/ (no pytest, no terraform, no network needed).

    bash scripts/deploy-check.sh                # makes the venv, runs checkov, then this
    .venv-deploy/hcl2/bin/python tests/py/test_deploy.py [--deploy DIR]

Parses every .tf file under DIR/terraform (default: <repo>/deploy) with python-hcl2
and DIR/compose.yaml with PyYAML, and asserts what checkov does not know about
Floe: the task roles are least privilege (no "*" action or resource, the worker
writes only the warehouse prefix, reads Bronze only, receives from the task queue
and sends only to its DLQ), every bucket is locked down, the queue dead-letters and
its policies refuse plain HTTP and senders other than Floe's roles, the worker
drains a Spot interruption, each secret (operator token, worker token, task signing
key, the coordinator's TLS key) reaches only the services that need it and only as
an ECS secret (KMS-encrypted, readable by that service's own execution role alone),
workers reach the coordinator over TLS with the CA of the module and only read
Bronze (FLOE_BRONZE_ROOT), every `moved` block takes a removed address to a
declared instance (so the released operator token is kept, not replaced), the
Compose stack splits the same secrets the same way, and the image runs as a
non-root user. Prints "ok   <name>" or "FAIL <name>" per
check and ends with "N passed, M failed"; exit code 0 only when nothing failed.
"""
from __future__ import annotations

import argparse
import re
import sys
import traceback
from pathlib import Path

import hcl2
import yaml

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


EACH_VALUE = re.compile(r"\$\{each\.value(?:\.(\w+))?\}")
EACH_KEY = re.compile(r"\beach\.key\b")


def instance(value, key: str, item):
    """A block body of `for_each = local.MAP` as its instance `key`, where `item` is
    MAP[key] as written in the locals: `${each.value}` / `${each.value.FIELD}` alone
    becomes that value (a list stays a list), inside a longer string its text;
    `each.key` becomes the key, bare in `${...}` ("aws_iam_role.execution[each.key]"
    -> `aws_iam_role.execution["coordinator"]`, the form other files write)."""
    if isinstance(value, list):
        return [instance(v, key, item) for v in value]
    if isinstance(value, dict):
        return {k: instance(v, key, item) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def field(ref: re.Match):
        if ref.group(1) is None:
            return item
        assert isinstance(item, dict) and ref.group(1) in item, f"each.value.{ref.group(1)}: no such field in {item!r}"
        return item[ref.group(1)]

    whole = EACH_VALUE.fullmatch(value)
    if whole:
        return field(whole)
    value = EACH_VALUE.sub(lambda ref: str(field(ref)), value)
    value = value.replace("${each.key}", key)
    return EACH_KEY.sub(f'"{key}"', value)


class Module:
    """Resources and data sources by type, then name; a block with `for_each =
    local.MAP` (MAP an object literal of the locals) is indexed as its instances,
    `NAME["KEY"]`, each with `each.key`/`each.value` replaced (see `instance`)."""

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
            for block in doc.get("locals", []):
                self.locals.update(block)
        for doc in self.parsed.values():
            for kind, index in (("resource", self.resources), ("data", self.data)):
                for block in doc.get(kind, []):
                    for rtype, by_name in block.items():
                        for name, body in by_name.items():
                            for key, inst in self.instances(name, body).items():
                                assert key not in index.setdefault(rtype, {}), f"duplicate {rtype}.{key}"
                                index[rtype][key] = inst

    def instances(self, name: str, body: dict) -> dict[str, dict]:
        ref = re.fullmatch(r"\$\{local\.(\w+)\}", str(body.get("for_each", "")))
        items = self.locals.get(ref.group(1)) if ref else None
        if not isinstance(items, dict):  # no for_each, or one over something else: the block as written
            return {name: body}
        body = {k: v for k, v in body.items() if k != "for_each"}
        return {f'{name}["{key}"]': instance(body, key, item) for key, item in items.items()}

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


# `${data.aws_iam_policy_document.NAME.json}`, NAME possibly an instance (`queue["dead"]`).
POLICY_DOCUMENT = re.compile(r'\$\{data\.aws_iam_policy_document\.(\w+(?:\["\w+"\])?)\.json\}')


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
                     "iam.tf", "ecs.tf", "autoscaling.tf", "logs.tf", "otel.tf", "outputs.tf", "auth.tf", "tls.tf"):
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
            # It finds the DLQ and moves there the task messages it refuses (bad signature).
            assert set(actions) <= {"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"}, \
                f"{sid}: the worker only finds and sends to the DLQ, got {actions}"
            got |= {f"dead:{a}" for a in actions}
        if "${aws_sqs_queue.tasks.arn}" in resources:
            # Only the coordinator queues tasks.
            assert "sqs:SendMessage" not in actions, f"{sid}: the worker must not send to the task queue"
        got |= set(actions)
    need = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl",
            "dead:sqs:SendMessage"}
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
        doc = re.fullmatch(POLICY_DOCUMENT, pol[0].get("policy", ""))
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


# ----------------------------------------------------------------- secrets and TLS

LOCAL_REF = re.compile(r"\blocal\.(\w+)")
# `${aws_secretsmanager_secret.NAME.arn}`, NAME possibly an instance (`generated["auth_token"]`).
SECRET_ARN = re.compile(r'^\$\{aws_secretsmanager_secret\.(\w+(?:\["\w+"\])?)\.arn\}')
KMS_KEY = re.compile(r"^\$\{aws_kms_key\.floe\.(arn|id|key_id)\}$")
ENV_PAIR = re.compile(r'\{\s*name\s*=\s*"(\w+)"\s*,\s*value\s*=\s*(.*?)\s*\}', re.S)

# Variable -> the aws_secretsmanager_secret it comes from, per Floe container. The
# generated ones are instances of one for_each over local.generated_secrets (auth.tf).
OPERATOR_TOKEN, WORKER_TOKEN, SIGNING_KEY = "FLOE_AUTH_TOKEN", "FLOE_WORKER_TOKEN", "FLOE_TASK_SIGNING_KEY"
TLS_CERT, TLS_KEY = "FLOE_TLS_CERT_PEM", "FLOE_TLS_KEY_PEM"
AUTH_SECRET, WORKER_SECRET, SIGNING_SECRET = ('generated["auth_token"]', 'generated["worker_token"]',
                                              'generated["task_signing_key"]')
TOKEN_SECRETS = {OPERATOR_TOKEN: AUTH_SECRET, WORKER_TOKEN: WORKER_SECRET, SIGNING_KEY: SIGNING_SECRET}
WANTED_SECRETS = {
    "coordinator_container": {OPERATOR_TOKEN: AUTH_SECRET, WORKER_TOKEN: WORKER_SECRET,
                              SIGNING_KEY: SIGNING_SECRET, TLS_CERT: "coordinator_tls", TLS_KEY: "coordinator_tls"},
    "worker_container": {WORKER_TOKEN: WORKER_SECRET, SIGNING_KEY: SIGNING_SECRET},
}
SECRET_NAMES = (OPERATOR_TOKEN, WORKER_TOKEN, SIGNING_KEY, TLS_KEY, "FLOE_TLS_KEY")
EXECUTION_ROLES = {"coordinator": 'execution["coordinator"]', "worker": 'execution["worker"]'}  # task -> role


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


def container_secrets(m: Module, local: str) -> dict[str, str]:
    """The `secrets` of a container definition local: variable -> valueFrom."""
    c = m.locals.get(local)
    assert isinstance(c, dict), f"local.{local} missing"
    secrets = resolve(m, c.get("secrets"))
    assert isinstance(secrets, list) and all(isinstance(s, dict) for s in secrets), \
        f"{local}: `secrets` is not a list of {{name, valueFrom}}: {secrets!r}"
    names = [s.get("name") for s in secrets]
    assert len(names) == len(set(names)), f"{local}: a variable twice in `secrets`: {names}"
    return {s["name"]: str(s.get("valueFrom", "")) for s in secrets}


def container_environment(m: Module, local: str) -> dict[str, str]:
    """The `environment` of a container definition local: variable -> value
    expression, through `concat(local.x, [{name = ..., value = ...}])`."""
    env: dict[str, str] = {}
    todo = [m.locals[local].get("environment")]
    while todo:
        value = resolve(m, todo.pop())
        if isinstance(value, list):
            for e in value:
                if isinstance(e, dict):
                    env[e["name"]] = str(e.get("value"))
                else:
                    todo.append(e)
        elif isinstance(value, str):
            for name, expr in ENV_PAIR.findall(value):
                env[name] = expr.strip('"')
            todo += [f"${{local.{n}}}" for n in LOCAL_REF.findall(value) if n in m.locals
                     and isinstance(m.locals[n], list)]
    return env


def secret_of(value_from: str) -> str:
    ref = SECRET_ARN.match(value_from)
    assert ref, f"valueFrom is not a Secrets Manager secret's ARN: {value_from!r}"
    return ref.group(1)


def check_secrets_per_service(m: Module) -> None:
    """Each Floe container gets exactly its secrets, from ECS `secrets`: the workers
    neither the operator token nor the TLS key."""
    for local, want in WANTED_SECRETS.items():
        got = container_secrets(m, local)
        assert set(got) == set(want), f"{local}: secrets {sorted(got)}, expected {sorted(want)}"
        for name, secret in want.items():
            assert secret_of(got[name]) == secret, \
                f"{local}: {name} must come from aws_secretsmanager_secret.{secret}, got {got[name]!r}"
            m.resource("aws_secretsmanager_secret", secret)
    worker = container_secrets(m, "worker_container")
    assert OPERATOR_TOKEN not in worker, "the workers must not get the operator token"
    assert not any("TLS" in n for n in worker), f"the workers must not get the TLS certificate or key: {sorted(worker)}"
    assert "coordinator_tls" not in str(worker) and "auth_token" not in str(worker), \
        f"a worker secret points at the operator token or the TLS secret: {worker}"
    # Same secret on both sides, three distinct secrets.
    coordinator = container_secrets(m, "coordinator_container")
    for name in (WORKER_TOKEN, SIGNING_KEY):
        assert worker[name] == coordinator[name], f"{name}: the coordinator and the workers read different secrets"
    assert len({coordinator[n] for n in TOKEN_SECRETS}) == 3, "operator token, worker token and signing key must be distinct secrets"
    # The TLS pair: two keys of the one secret, pinned to the version Terraform wrote.
    for name, key in ((TLS_CERT, "cert"), (TLS_KEY, "key")):
        assert coordinator[name] == ("${aws_secretsmanager_secret.coordinator_tls.arn}:" + key +
                                     "::${aws_secretsmanager_secret_version.coordinator_tls.version_id}"), \
            f"{name}: expected <arn>:{key}::<version_id>, got {coordinator[name]!r}"


def check_no_secret_in_environment(m: Module) -> None:
    for local in WANTED_SECRETS:
        env = m.locals[local].get("environment")
        text = text_with_locals(m, env)
        for name in SECRET_NAMES + ("private_key", "random_password", "secret_version"):
            assert name not in text, f"{local}: {name} must come from `secrets`, not `environment`"
    for local in ("coordinator_collector", "worker_collector", "collector_container"):
        text = text_with_locals(m, m.locals.get(local))
        for name in SECRET_NAMES + ("aws_secretsmanager_secret", "private_key"):
            assert name not in text, f"{local}: the collector sidecar must not get {name}"


def check_workers_use_tls(m: Module) -> None:
    w = m.locals["worker_container"]
    cmd = w.get("command", [])
    assert "--coordinator" in cmd, "worker has no --coordinator"
    url = cmd[cmd.index("--coordinator") + 1]
    assert url == "https://${local.coordinator_host}:50051", f"worker --coordinator must be https:// to the Cloud Map name: {url!r}"
    env = container_environment(m, "worker_container")
    assert env.get("FLOE_TLS_CA_PEM") == "tls_self_signed_cert.ca.cert_pem", \
        f"workers must trust the module's CA (FLOE_TLS_CA_PEM), got {env.get('FLOE_TLS_CA_PEM')!r}"
    assert "FLOE_AUTH_TOKEN" not in env and "FLOE_AUTH_TOKEN_FILE" not in env, "workers must not get the operator token"
    # The certificate names the host the workers dial and is signed by that CA.
    csr = m.resource("tls_cert_request", "coordinator")
    assert "${local.coordinator_host}" in elements(csr.get("dns_names")), f"certificate names: {csr.get('dns_names')}"
    assert csr.get("private_key_pem") == "${tls_private_key.coordinator.private_key_pem}"
    cert = m.resource("tls_locally_signed_cert", "coordinator")
    assert cert.get("ca_cert_pem") == "${tls_self_signed_cert.ca.cert_pem}" \
        and cert.get("ca_private_key_pem") == "${tls_private_key.ca.private_key_pem}", "coordinator cert not signed by the CA"
    assert "server_auth" in elements(cert.get("allowed_uses")), "coordinator certificate lacks server_auth"
    assert cert.get("early_renewal_hours"), "coordinator certificate is never renewed"
    ca = m.resource("tls_self_signed_cert", "ca")
    assert ca.get("is_ca_certificate") is True and "cert_signing" in elements(ca.get("allowed_uses")), "the CA cannot sign"
    # The coordinator's secret holds that certificate and its key.
    version = m.resource("aws_secretsmanager_secret_version", "coordinator_tls")
    assert version.get("secret_id") == "${aws_secretsmanager_secret.coordinator_tls.id}"
    value = str(version.get("secret_string"))
    assert "tls_locally_signed_cert.coordinator.cert_pem" in value and "tls_private_key.coordinator.private_key_pem" in value, \
        f"the TLS secret must hold the coordinator's certificate and key: {value!r}"
    lifecycle = [i for lc in version.get("lifecycle", []) for i in listify(lc.get("ignore_changes"))]
    assert "secret_string" not in lifecycle, "a renewed certificate must reach the secret"
    outputs = all_outputs(m)
    assert outputs.get("coordinator_address", {}).get("value") == "https://${local.coordinator_host}:50051", \
        "output coordinator_address must be the https:// address"
    assert outputs.get("tls_ca_cert_pem", {}).get("value") == "${tls_self_signed_cert.ca.cert_pem}", \
        "output tls_ca_cert_pem (the CLI's FLOE_TLS_CA_PEM) missing"


def check_workers_bronze_root(m: Module) -> None:
    env = container_environment(m, "worker_container")
    assert env.get("FLOE_BRONZE_ROOT") == "local.worker_bronze_roots", \
        f"workers need FLOE_BRONZE_ROOT = local.worker_bronze_roots, got {env.get('FLOE_BRONZE_ROOT')!r}"
    roots = str(m.locals.get("worker_bronze_roots"))
    # Every prefix the worker role may read (iam.tf ReadBronze), each ending in "/".
    assert re.search(r'for (\w+) in var\.bronze_prefixes : "s3://\$\{local\.bronze_bucket\}/\$\{\1\}/"', roots), \
        f"worker_bronze_roots must list s3://<bronze bucket>/<prefix>/ for every bronze_prefixes: {roots!r}"
    assert roots.startswith('${join(",",'), f"FLOE_BRONZE_ROOT is comma-separated: {roots!r}"


def execution_statements(m: Module, role: str) -> list[dict]:
    m.resource("aws_iam_role", role)
    refs = (f"${{aws_iam_role.{role}.id}}", f"${{aws_iam_role.{role}.name}}")
    out = []
    for body in m.resources.get("aws_iam_role_policy", {}).values():
        if body.get("role") in refs:
            doc = re.fullmatch(POLICY_DOCUMENT, str(body.get("policy", "")))
            assert doc, f"{role}: inline policy is not a policy document: {body.get('policy')!r}"
            out += statements(m, doc.group(1))
    return out


def check_execution_roles_read_only_their_secrets(m: Module) -> None:
    """Each task definition has its own execution role, which may read exactly the
    secrets of its containers: the workers' cannot read the operator token or the
    coordinator's TLS key."""
    roles = {}
    for td, role in EXECUTION_ROLES.items():
        body = m.resource("aws_ecs_task_definition", td)
        assert body.get("execution_role_arn") == f"${{aws_iam_role.{role}.arn}}", \
            f"task {td}: execution role must be aws_iam_role.{role}, got {body.get('execution_role_arn')!r}"
        roles[td] = role
    assert len(set(roles.values())) == 2, "the coordinator and the workers must not share an execution role"
    for td, role in roles.items():
        want = {f"${{aws_secretsmanager_secret.{s}.arn}}" for s in WANTED_SECRETS[f"{td}_container"].values()}
        attached = [b.get("policy_arn") for b in m.resources.get("aws_iam_role_policy_attachment", {}).values()
                    if str(b.get("role", "")).startswith(f"${{aws_iam_role.{role}.")]
        assert all(str(a).endswith(":iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy") for a in attached), \
            f"{role}: unexpected managed policies {attached}"
        body = m.resource("aws_iam_role", role)
        assert "managed_policy_arns" not in body and "inline_policy" not in body, f"{role}: extra policies"
        # deploy/README.md names them so.
        assert body.get("name") == f"${{var.name}}-{td}-execution", f"{role}: name {body.get('name')!r}"
        reads, kms = set(), False
        for st in execution_statements(m, role):
            sid, actions = st.get("sid", "?"), elements(st.get("actions"))
            resources = elements(resolve(m, st.get("resources")))
            assert st.get("effect", "Allow") == "Allow", f"{role}/{sid}: only Allow statements expected"
            for bad in ("not_actions", "not_resources", "not_principals"):
                assert bad not in st, f"{role}/{sid}: {bad} grants everything else"
            assert actions and resources, f"{role}/{sid}: no actions or no resources"
            for a in actions:
                assert "*" not in a, f"{role}/{sid}: wildcard action {a!r}"
            for r in resources:
                assert "*" not in r, f"{role}/{sid}: wildcard resource {r!r}"
            if any(a.startswith("secretsmanager:") for a in actions):
                assert actions == ["secretsmanager:GetSecretValue"], f"{role}/{sid}: only GetSecretValue, got {actions}"
                reads |= set(resources)
            if any(a.startswith("kms:") for a in actions):
                assert actions == ["kms:Decrypt"], f"{role}/{sid}: only kms:Decrypt, got {actions}"
                assert len(resources) == 1 and KMS_KEY.match(resources[0]), f"{role}/{sid}: only the module's key, got {resources}"
                via = [c for c in st.get("condition", []) if c.get("variable") == "kms:ViaService"]
                assert via and all(v.startswith("secretsmanager.") for v in elements(via[0].get("values"))), \
                    f"{role}/{sid}: kms:Decrypt must be limited to Secrets Manager (kms:ViaService)"
                ctx = [c for c in st.get("condition", []) if c.get("variable") == "kms:EncryptionContext:SecretARN"]
                assert ctx, f"{role}/{sid}: kms:Decrypt must be limited to its secrets (kms:EncryptionContext:SecretARN)"
                for c in ctx:
                    values = set(elements(resolve(m, c.get("values"))))
                    assert values <= want, f"{role}/{sid}: decrypts for other secrets {sorted(values - want)}"
                kms = True
            assert all(a.split(":")[0] in ("secretsmanager", "kms") for a in actions), \
                f"{role}/{sid}: unexpected actions {actions} (the managed policy covers ECR and logs)"
        assert reads == want, f"{role}: reads {sorted(reads)}, its containers need {sorted(want)}"
        assert kms, f"{role} cannot decrypt its secrets (kms:Decrypt on the key)"
    worker_reads = {r for st in execution_statements(m, roles["worker"]) for r in elements(resolve(m, st.get("resources")))}
    for forbidden in (AUTH_SECRET, "coordinator_tls"):
        assert f"${{aws_secretsmanager_secret.{forbidden}.arn}}" not in worker_reads, \
            f"the workers' execution role must not read aws_secretsmanager_secret.{forbidden}"


def all_outputs(m: Module) -> dict[str, dict]:
    return {k: v for doc in m.parsed.values() for block in doc.get("output", []) for k, v in block.items()}


def check_secrets_encrypted_and_kept(m: Module) -> None:
    for name in (*TOKEN_SECRETS.values(), "coordinator_tls"):
        secret = m.resource("aws_secretsmanager_secret", name)
        assert KMS_KEY.match(str(secret.get("kms_key_id", ""))), \
            f"secret {name}: must be encrypted with aws_kms_key.floe, got kms_key_id {secret.get('kms_key_id')!r}"
    outputs = all_outputs(m)
    for name in TOKEN_SECRETS.values():
        versions = [v for v in m.resources.get("aws_secretsmanager_secret_version", {}).values()
                    if v.get("secret_id") in (f"${{aws_secretsmanager_secret.{name}.id}}", f"${{aws_secretsmanager_secret.{name}.arn}}")]
        assert len(versions) == 1, f"secret {name}: expected one secret version, got {len(versions)}"
        value = str(versions[0].get("secret_string", ""))
        assert value == f"${{data.aws_secretsmanager_random_password.{name}.random_password}}", \
            f"secret {name}: the value must be generated by Secrets Manager, got {value!r}"
        password = m.data.get("aws_secretsmanager_random_password", {}).get(name, {})
        # Comma separates the values of a rotation: a generated value must not hold one.
        assert password.get("exclude_punctuation") is True and password.get("include_space") is False, \
            f"secret {name}: the generated value must be letters and digits only"
        assert int(password.get("password_length", 0)) >= 32, f"secret {name}: too short"
        ignored = [i for lc in versions[0].get("lifecycle", []) for i in listify(lc.get("ignore_changes"))]
        assert "secret_string" in ignored, f"secret {name}: without ignore_changes the value changes on every apply"
        named = [k for k, v in outputs.items() if f"aws_secretsmanager_secret.{name}." in str(v.get("value"))]
        assert named, f"no output names the secret {name} (operators rotate it by ARN)"
    for k, v in outputs.items():
        value = str(v.get("value"))
        if "aws_secretsmanager_secret." in value:
            assert SECRET_ARN.fullmatch(value), \
                f"output {k} must be a secret's ARN, not its value: {value!r}"
        leaks = ("aws_secretsmanager_secret_version.", "aws_secretsmanager_random_password.", "private_key")
        assert not any(leak in value for leak in leaks), f"output {k} exposes a secret value: {value!r}"
    providers = set()
    for doc in m.parsed.values():
        for block in doc.get("terraform", []):
            for req in listify(block.get("required_providers")):
                providers |= set(req)
    # The tokens come from Secrets Manager; tls makes the CA and the certificate offline.
    assert providers == {"aws", "tls"}, f"providers: {sorted(providers)}"


# ----------------------------------------------------------------- moved blocks

# `${TYPE.NAME}` or `${TYPE.NAME["KEY"]}`: a managed resource (moved blocks take no
# data source) or one instance of it.
RESOURCE_ADDRESS = re.compile(r'^\$\{(?!data\.|module\.)(\w+)\.(\w+(?:\["[\w-]+"\])?)\}$')

# Addresses that released versions of the module have applied: each must still be
# declared or be moved, or an upgrade destroys it (the operator token's secret and
# its value, which operators and CI jobs hold).
RELEASED = (("aws_secretsmanager_secret", "auth_token"), ("aws_secretsmanager_secret_version", "auth_token"))


def moved_blocks(m: Module) -> list[tuple[str, dict]]:
    return [(f, block) for f, doc in m.parsed.items() for block in doc.get("moved", [])]


def declared(m: Module, rtype: str, name: str) -> bool:
    """Whether the module declares resource `name` ("x") or instance `name` ("x[\"k\"]")
    of type `rtype`; a bare name also counts when it is declared with for_each."""
    names = m.resources.get(rtype, {})
    return name in names or ("[" not in name and any(n.startswith(f"{name}[") for n in names))


def check_moved_blocks(m: Module) -> None:
    """Every `moved` block goes from an address the module no longer declares to a
    resource instance it does declare, of the same type (a chain of moves ends at
    one); and every released address is still declared or moved."""
    moves: dict[tuple[str, str], tuple[str, str]] = {}
    for f, block in moved_blocks(m):
        ends = []
        for end in ("from", "to"):
            ref = RESOURCE_ADDRESS.fullmatch(str(block.get(end, "")))
            assert ref, f"{f}: moved.{end} is not a resource address: {block.get(end)!r}"
            ends.append((ref.group(1), ref.group(2)))
        (src_type, src), (dst_type, dst) = ends
        assert src_type == dst_type, f"{f}: moved from {src_type}.{src} to another type, {dst_type}.{dst}"
        assert not declared(m, src_type, src), f"{f}: moved from {src_type}.{src}, which is still declared"
        assert (src_type, src) not in moves, f"{f}: {src_type}.{src} moved twice"
        moves[(src_type, src)] = (dst_type, dst)
    for (rtype, src), dst in moves.items():
        seen = {(rtype, src)}
        while dst in moves:
            assert dst not in seen, f"moved blocks from {rtype}.{src} go round in a circle"
            seen.add(dst)
            dst = moves[dst]
        assert dst[1] in m.resources.get(rtype, {}), \
            f"moved from {rtype}.{src} to {rtype}.{dst[1]}, which the module does not declare"
    for rtype, name in RELEASED:
        assert declared(m, rtype, name) or (rtype, name) in moves, \
            f"{rtype}.{name} was released: keep it or add a moved block, or an upgrade destroys it"
    to_auth = {k: v for k, v in moves.items() if k in RELEASED}
    assert to_auth == {("aws_secretsmanager_secret", "auth_token"): ("aws_secretsmanager_secret", AUTH_SECRET),
                       ("aws_secretsmanager_secret_version", "auth_token"): ("aws_secretsmanager_secret_version",
                                                                              AUTH_SECRET)}, \
        f"the operator token's secret and version must move to their {AUTH_SECRET} instances: {to_auth}"


# ----------------------------------------------------------------- queue policies

def queue_policy(m: Module, queue: str) -> list[dict]:
    pols = [b for b in m.resources.get("aws_sqs_queue_policy", {}).values()
            if b.get("queue_url") in (f"${{aws_sqs_queue.{queue}.id}}", f"${{aws_sqs_queue.{queue}.url}}")]
    assert len(pols) == 1, f"queue {queue}: expected one aws_sqs_queue_policy, got {len(pols)}"
    doc = re.fullmatch(POLICY_DOCUMENT, str(pols[0].get("policy", "")))
    assert doc, f"queue {queue}: policy is not a policy document"
    return statements(m, doc.group(1))


def check_queue_policies(m: Module) -> None:
    senders = {"tasks": {"${aws_iam_role.coordinator.arn}"},
               "dead": {"${aws_iam_role.worker.arn}", "${aws_iam_role.coordinator.arn}"}}
    for queue, allowed in senders.items():
        arn = f"${{aws_sqs_queue.{queue}.arn}}"
        sts = queue_policy(m, queue)
        for st in sts:
            sid = st.get("sid", "?")
            assert elements(st.get("resources")) == [arn], f"{queue}/{sid}: resources must be the queue itself"
            if st.get("effect", "Allow") == "Allow":
                ids = [i for p in st.get("principals", []) for i in elements(p.get("identifiers"))]
                assert "*" not in ids, f"{queue}/{sid}: Allow to every principal"
        tls = [st for st in sts if st.get("effect") == "Deny" and "sqs:*" in elements(st.get("actions"))
               and any(c.get("variable") == "aws:SecureTransport" and c.get("test") == "Bool"
                       and elements(c.get("values")) == ["false"] for c in st.get("condition", []))]
        assert tls, f"queue {queue}: no deny of every action without TLS (aws:SecureTransport = false)"
        send = [st for st in sts if st.get("effect") == "Deny" and "sqs:SendMessage" in elements(st.get("actions"))
                and any(c.get("variable") == "aws:PrincipalArn" and c.get("test") == "ArnNotEquals"
                        for c in st.get("condition", []))]
        assert len(send) == 1, f"queue {queue}: no deny of SendMessage to other principals (ArnNotEquals aws:PrincipalArn)"
        conds = send[0].get("condition", [])
        exempt = {v for c in conds if c.get("variable") == "aws:PrincipalArn" for v in elements(c.get("values"))}
        assert exempt == allowed, f"queue {queue}: SendMessage must be left to {sorted(allowed)} only, got {sorted(exempt)}"
        ids = [i for p in send[0].get("principals", []) for i in elements(p.get("identifiers"))]
        account = [c for c in conds if c.get("variable") == "aws:PrincipalAccount"]
        assert ids == ["*"] and account and elements(account[0].get("values")) == ["${local.account_id}"], \
            f"queue {queue}: the SendMessage deny must cover every principal of the account"
    # The redrive from the task queue into the DLQ is still allowed.
    redrive = m.resource("aws_sqs_queue_redrive_allow_policy", "dead")
    assert "aws_sqs_queue.tasks.arn" in str(redrive.get("redrive_allow_policy")), "the DLQ no longer accepts the task queue's redrive"


def check_bronze_events(m: Module) -> None:
    queue = m.resource("aws_sqs_queue", "bronze_events")
    assert queue.get("name") == "${var.bronze_events_queue_name}", f"events queue name {queue.get('name')!r}"
    assert "aws_kms_key" in str(queue.get("kms_master_key_id")), "the events queue is not encrypted with the KMS key"
    note = m.resource("aws_s3_bucket_notification", "bronze")
    assert note.get("bucket") == "${aws_s3_bucket.bronze.id}", f"notification on {note.get('bucket')!r}"
    text = str(note)
    for want in ("aws_sqs_queue.bronze_events.arn", "s3:ObjectCreated:*", "var.bronze_prefixes"):
        assert want in text, f"the Bronze bucket's notification lacks {want}: {text}"
    sts = queue_policy(m, "bronze_events")
    arn = "${aws_sqs_queue.bronze_events.arn}"
    sends = [st for st in sts if st.get("effect", "Allow") == "Allow"]
    assert len(sends) == 1 and elements(sends[0].get("actions")) == ["sqs:SendMessage"], f"events queue grants: {sends}"
    ids = [i for p in sends[0].get("principals", []) for i in elements(p.get("identifiers"))]
    source = [c for c in sends[0].get("condition", []) if c.get("variable") == "aws:SourceArn"]
    assert ids == ["s3.amazonaws.com"] and source and elements(source[0].get("values")) == ["${aws_s3_bucket.bronze.arn}"], \
        "only the Bronze bucket may send to the events queue"
    assert any(st.get("effect") == "Deny" and any(c.get("variable") == "aws:SecureTransport" for c in st.get("condition", []))
               for st in sts), "the events queue must refuse plain HTTP"
    coordinator = [st for st in statements(m, "coordinator") if arn in elements(st.get("resources"))]
    got = {a for st in coordinator for a in elements(st.get("actions"))}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= got and "sqs:SendMessage" not in got, \
        f"the coordinator reads and deletes notifications, nothing more: {got}"
    assert not [st for st in statements(m, "worker") if arn in elements(st.get("resources"))], \
        "workers have nothing to do with the events queue"


def check_stale_pipelines_alarm(m: Module) -> None:
    alarm = m.resource("aws_cloudwatch_metric_alarm", "stale_pipelines")
    assert alarm.get("metric_name") == "floe_pipelines_stale", f"stale alarm on {alarm.get('metric_name')!r}"
    assert alarm.get("namespace") == "${local.metrics_namespace}" and alarm.get("threshold") == 0, f"stale alarm: {alarm}"
    otel = next(f for f in m.files if f.name == "otel.tf").read_text()
    assert "^floe_pipelines_stale$" in otel, "the coordinator's collector must export floe_pipelines_stale"


# ----------------------------------------------------------------- compose

def compose_services(deploy: Path) -> dict:
    with (deploy / "compose.yaml").open() as fh:
        doc = yaml.safe_load(fh)
    services = doc.get("services", {})
    assert {"coordinator", "worker", "certs"} <= set(services), f"compose services: {sorted(services)}"
    return services


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: str(v) for k, v in env.items()}


def required_host_var(value: str, name: str) -> bool:
    """`${NAME:?message}`: Compose refuses to run without it on the host."""
    return re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", value.replace("$$", "")) is not None


def check_compose_secrets(deploy: Path) -> None:
    s = compose_services(deploy)
    coordinator, worker = compose_env(s["coordinator"]), compose_env(s["worker"])
    for name in (OPERATOR_TOKEN, WORKER_TOKEN, SIGNING_KEY):
        assert required_host_var(coordinator.get(name, ""), name), \
            f"compose coordinator: {name} must be a required host variable, got {coordinator.get(name)!r}"
    for name in (WORKER_TOKEN, SIGNING_KEY):
        assert required_host_var(worker.get(name, ""), name), \
            f"compose worker: {name} must be a required host variable, got {worker.get(name)!r}"
    for name in (OPERATOR_TOKEN, "FLOE_AUTH_TOKEN_FILE", "FLOE_TLS_KEY", "FLOE_TLS_CERT", TLS_KEY):
        assert name not in worker, f"compose worker must not get {name}"
    assert "FLOE_AUTH_TOKEN" not in str(worker), "compose worker: the operator token reaches it"
    assert worker.get("FLOE_BRONZE_ROOT", "").startswith("s3://floe-lake/bronze"), \
        f"compose worker: FLOE_BRONZE_ROOT must be the Bronze root, got {worker.get('FLOE_BRONZE_ROOT')!r}"
    cmd = [str(c) for c in s["coordinator"].get("command", [])]
    assert "--bronze" in cmd and worker["FLOE_BRONZE_ROOT"].rstrip("/") == cmd[cmd.index("--bronze") + 1].rstrip("/"), \
        "compose worker: FLOE_BRONZE_ROOT differs from the coordinator's --bronze"
    for name, svc in s.items():
        if name not in ("coordinator", "worker"):
            assert not any(v in str(svc) for v in (OPERATOR_TOKEN, WORKER_TOKEN, SIGNING_KEY)), \
                f"compose {name}: gets a token or the signing key"


def volume_at(service: dict, target: str) -> str | None:
    """The volume a service mounts at `target` (short syntax SOURCE:TARGET[:ro])."""
    for v in service.get("volumes", []):
        parts = str(v).split(":")
        if len(parts) >= 2 and parts[1].rstrip("/") == target.rstrip("/"):
            return parts[0]
    return None


def check_compose_tls(deploy: Path) -> None:
    s = compose_services(deploy)
    coordinator, worker = compose_env(s["coordinator"]), compose_env(s["worker"])
    cmd = [str(c) for c in s["worker"].get("command", [])]
    url = cmd[cmd.index("--coordinator") + 1] if "--coordinator" in cmd else ""
    assert url.startswith("https://coordinator:"), f"compose worker: --coordinator must be https://coordinator:..., got {url!r}"
    ca, cert, key = worker.get("FLOE_TLS_CA", ""), coordinator.get("FLOE_TLS_CERT", ""), coordinator.get("FLOE_TLS_KEY", "")
    assert ca and cert and key, "compose: FLOE_TLS_CA (workers), FLOE_TLS_CERT and FLOE_TLS_KEY (coordinator) must be set"
    ca_volume = volume_at(s["worker"], str(Path(ca).parent))
    key_volume = volume_at(s["coordinator"], str(Path(key).parent))
    assert ca_volume and key_volume, "compose: the CA and the key must come from volumes"
    assert ca_volume != key_volume, "compose: the workers' CA volume must not hold the coordinator's key"
    assert key_volume not in str(s["worker"].get("volumes", [])), "compose worker mounts the coordinator's key volume"
    for name in ("coordinator", "worker"):
        for v in s[name].get("volumes", []):
            if str(v).split(":")[0] in (ca_volume, key_volume):
                assert str(v).endswith(":ro"), f"compose {name}: TLS volume {v!r} must be read-only"
        dep = s[name].get("depends_on", {})
        assert isinstance(dep, dict) and dep.get("certs", {}).get("condition") == "service_completed_successfully", \
            f"compose {name}: must wait for `certs` to complete"
    certs = s["certs"]
    script = "\n".join(str(c) for c in listify(certs.get("command")))
    assert "openssl" in script and "DNS:coordinator" in script, "compose certs: must make a certificate for `coordinator`"
    assert re.search(r"if \[ -s .*\bexit 0\b", script, re.S), "compose certs: must keep existing certificates (idempotent)"
    mounted = {str(v).split(":")[0] for v in certs.get("volumes", [])}
    assert {ca_volume, key_volume} <= mounted, f"compose certs: must write both TLS volumes, mounts {sorted(mounted)}"


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
    check("auth: coordinator gets operator + worker token, signing key, TLS cert/key; workers only worker token + signing key",
          lambda: check_secrets_per_service(m))
    check("auth: no secret in a container's environment, none in the collector sidecars",
          lambda: check_no_secret_in_environment(m))
    check("auth: one execution role per service, reading only its containers' secrets (workers: no operator token, no TLS key)",
          lambda: check_execution_roles_read_only_their_secrets(m))
    check("auth: secrets use the module's KMS key; tokens and key generated once, output as ARNs",
          lambda: check_secrets_encrypted_and_kept(m))
    check("terraform: moved blocks go from removed addresses to declared instances of the same type; "
          "the released operator token is moved, not replaced", lambda: check_moved_blocks(m))
    check("tls: workers dial https:// with the module's CA; the certificate names the coordinator's host",
          lambda: check_workers_use_tls(m))
    check("ecs: workers' FLOE_BRONZE_ROOT is every Bronze prefix they may read",
          lambda: check_workers_bronze_root(m))
    check("sqs: queue policies deny plain HTTP; only the coordinator sends tasks, only Floe's roles dead letters",
          lambda: check_queue_policies(m))
    check("sqs: the Bronze bucket notifies the events queue (KMS, TLS-only, only the bucket sends); "
          "the coordinator reads it, workers do not", lambda: check_bronze_events(m))
    check("alarms: stale pipelines (floe_pipelines_stale > 0), exported by the coordinator's collector",
          lambda: check_stale_pipelines_alarm(m))
    check("compose: coordinator gets the three secrets, workers no operator token, a Bronze root",
          lambda: check_compose_secrets(deploy))
    check("compose: workers dial https:// with the CA alone; certs made once, before both",
          lambda: check_compose_tls(deploy))
    check("docker: final stage runs as non-root USER 10001", lambda: check_dockerfile_user(deploy))
    check("checkov: every inline skip names a check and a reason", lambda: check_skips_are_justified(deploy))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
