#!/usr/bin/env python3
"""Policy test for template.yaml (run by scripts/check_deploy.sh with its venv's python).

Fails when:
  - the enrichment function (binary enrich-alarm) cannot be found, has no role of its own, shares
    its role with another function, or its role grants no statement at all;
  - anything attached to that role (inline policies, AWS::IAM::Policy / ManagedPolicy resources,
    SAM `Policies`, managed policy ARNs) grants a SageMaker action that is not read-only
    (Describe*, List*, Get*, Search*), a wildcard that could include one, NotAction/NotResource;
  - the function's Timeout cannot hold the enrichment deadline (SAGEALARM_ENRICH_DEADLINE_MS, its
    parameter's MaxValue) plus an alarm storm's delivery (200 messages to one Slack channel at
    Slack's one per second), or exceeds 900 s;
  - it grants an action on Resource "*" (or "arn:...:*") whose service supports resource-level
    scoping - only the actions in UNSCOPABLE may use "*";
  - it grants an Application Auto Scaling action that is not Describe* (the enrichment function
    only reads scalable targets, policies and activities);
  - the function lacks an action the enrichment code calls (so the test is not satisfied by an
    empty policy);
  - a parameter default, an allowed value, an environment variable or any other string in the
    template looks like a secret value (Slack webhook URL, PagerDuty routing key, Slack token),
    or a parameter asks for a secret value instead of a reference.
  - any other function's role (slack-actions, ...) grants a SageMaker write; the remediation function
    (binary remediate-endpoint), the one exception, grants a write outside REMEDIATION_WRITES, an
    endpoint update not conditioned on the opt-in tag (aws:ResourceTag/sagealarm:remediate), or
    lacks an action its code calls;
  - a function URL with AuthType NONE fronts anything but slack-actions (which checks Slack's
    request signature itself).
Both the template as written and its SAM translation (samtranslator, offline) are checked.

Usage: check_template.py [TEMPLATE]      check a template (default: template.yaml)
       check_template.py --self-test     run the checks on deliberately bad in-memory templates
                                         and fail unless each one is caught (and a good one passes)
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from typing import Any, Iterator

from cfnlint.decode import decode  # CloudFormation YAML: !Ref, !Sub, !GetAtt, !If ... as Fn:: dicts

ENRICH_BINARY = "enrich-alarm"
ENRICH_LOGICAL_ID = "EnrichAlarmFunction"
REMEDIATE_BINARY = "remediate-endpoint"
SLACK_ACTIONS_BINARY = "slack-actions"

# The only SageMaker writes in the stack, and only in the remediation function's role.
REMEDIATION_WRITES = {
    "sagemaker:updateendpointweightsandcapacities",
    "sagemaker:updateendpoint",
    "sagemaker:createendpointconfig",
    "sagemaker:addtags",
}
# Those that change a live endpoint: IAM must also require the opt-in tag on it.
OPT_IN_CONDITION = "aws:resourcetag/sagealarm:remediate"
TAG_CONDITIONED = {"sagemaker:updateendpointweightsandcapacities", "sagemaker:updateendpoint"}
REMEDIATION_REQUIRED = REMEDIATION_WRITES | {
    "sagemaker:describeendpoint",
    "sagemaker:describeendpointconfig",
    "sagemaker:listtags",
    "application-autoscaling:describescalabletargets",
    "cloudwatch:describealarms",
    "ssm:getparameter",
    "logs:putlogevents",
}

# Actions that support no resource type in the IAM Service Authorization Reference, so a policy
# must say Resource "*". Every other action must be scoped to ARNs.
UNSCOPABLE = {
    # CloudWatch: metric reads have no resource type (metrics are not resources with ARNs).
    "cloudwatch:getmetricdata",
    "cloudwatch:listmetrics",
    # SageMaker: "except for ListTags, resource-level restrictions are not available on List-
    # calls"; the function lists the inference components of the alarm's endpoint.
    "sagemaker:listinferencecomponents",
    # Application Auto Scaling: Describe* actions support no resource type (the remediation
    # function reads the target; the enrichment function reads targets, policies, activities).
    "application-autoscaling:describescalabletargets",
    "application-autoscaling:describescalingpolicies",
    "application-autoscaling:describescalingactivities",
}

# What the enrichment function calls; the role must grant each (else enrichment fails at 3 a.m.).
REQUIRED_ACTIONS = {
    "sagemaker:describeendpoint",
    "sagemaker:describeendpointconfig",
    "sagemaker:listinferencecomponents",
    "sagemaker:describeinferencecomponent",
    "cloudwatch:listmetrics",
    "cloudwatch:getmetricdata",
    "logs:filterlogevents",
    "application-autoscaling:describescalabletargets",
    "application-autoscaling:describescalingpolicies",
    "application-autoscaling:describescalingactivities",
    "ssm:getparameter",
    "secretsmanager:getsecretvalue",
    "sqs:sendmessage",  # the on-failure destination sends with the function's role
    "logs:putlogevents",
}

# The function's timeout must hold the enrichment deadline plus delivery in an alarm storm, else
# Lambda kills it mid-delivery and its retry re-sends what was already delivered. Delivery (shared/
# src/notify/http.rs) honours Slack's 429 + Retry-After until the invocation's deadline; 200 alarms
# to one channel at one message per second drain in ~200 s (shared/tests/storm.rs), plus the last
# request's timeout and margin (10 + 2 s, RetryPolicy::default) and a cold start (5 s): 217 s on
# top of the deadline. Lambda's maximum: 900 s.
STORM_ALARMS_PER_CHANNEL = 200
DELIVERY_WORST_CASE_S = STORM_ALARMS_PER_CHANNEL * 1 + 10 + 2 + 5
LAMBDA_MAX_TIMEOUT_S = 900
DEADLINE_ENV = "SAGEALARM_ENRICH_DEADLINE_MS"
DEFAULT_DEADLINE_MS = 10000

SAGEMAKER_READ = re.compile(r"^(describe|list|get|search)[a-z0-9]*\*?$")
AUTOSCALING_READ = re.compile(r"^describe[a-z0-9]*\*?$")

SECRET_VALUE_PATTERNS = [
    ("Slack webhook URL", re.compile(r"hooks\.slack(-gov)?\.com/(services|workflows|triggers)/", re.I)),
    ("PagerDuty routing key (32 hex)", re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")),
    ("PagerDuty routing key (R0...)", re.compile(r"\bR0[0-9A-Z]{30}\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}")),
]
# A parameter whose name says it carries a secret value (references end in Name/Prefix/Arn/Id).
SECRET_PARAM_NAME = re.compile(r"(webhook|routingkey|integrationkey|token|password|apikey|secretvalue)", re.I)
REFERENCE_SUFFIX = re.compile(r"(name|prefix|arn|id|path)$", re.I)


# ------------------------------------------------------------------------------------------------
def as_list(v: Any) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [v]


def branches(v: Any) -> Iterator[Any]:
    """Every value an Fn::If may produce (both branches, recursively), AWS::NoValue dropped."""
    if isinstance(v, dict) and set(v) == {"Fn::If"}:
        args = v["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            for b in args[1:]:
                yield from branches(b)
            return
    if isinstance(v, dict) and v == {"Ref": "AWS::NoValue"}:
        return
    yield v


def flat(v: Any) -> list:
    """A list-valued property, with Fn::If branches and nested lists flattened."""
    out = []
    for b in branches(v):
        if b is None:
            continue
        if isinstance(b, list):
            for item in b:
                out.extend(flat(item))
        else:
            out.append(b)
    return out


def ref_target(v: Any) -> str | None:
    """Logical id a Ref / GetAtt points at."""
    if isinstance(v, dict):
        if "Ref" in v and isinstance(v["Ref"], str):
            return v["Ref"]
        if "Fn::GetAtt" in v:
            ga = v["Fn::GetAtt"]
            if isinstance(ga, list) and ga:
                return str(ga[0])
            if isinstance(ga, str):
                return ga.split(".")[0]
    return None


def strings(v: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(v, dict):
        for k, x in v.items():
            yield from strings(x, f"{path}.{k}" if path else str(k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from strings(x, f"{path}[{i}]")
    elif isinstance(v, str):
        yield path, v


class Checker:
    def __init__(self, template: dict, label: str):
        self.t = template
        self.label = label
        self.failures: list[str] = []
        self.notes: list[str] = []

    # --- helpers --------------------------------------------------------------------------
    @property
    def resources(self) -> dict:
        return self.t.get("Resources") or {}

    @property
    def parameters(self) -> dict:
        return self.t.get("Parameters") or {}

    def fail(self, msg: str) -> None:
        self.failures.append(msg)

    def param_may_be_star(self, name: str) -> bool:
        p = self.parameters.get(name)
        if p is None:
            return False  # pseudo parameter or resource attribute
        pat = p.get("AllowedPattern")
        allowed = p.get("AllowedValues")
        if allowed is not None:
            return any("*" in str(a) for a in allowed)
        if pat is None:
            return True
        try:
            return re.fullmatch(pat, "*") is not None or re.fullmatch(pat, "x*") is not None
        except re.error:
            return True

    def resource_strings(self, r: Any) -> list[str | None]:
        """Concrete-enough renderings of a Resource entry; None when it names one resource."""
        out: list[str | None] = []
        for b in branches(r):
            if isinstance(b, str):
                out.append(b)
            elif isinstance(b, dict) and "Fn::Sub" in b:
                s = b["Fn::Sub"]
                s = s[0] if isinstance(s, list) else s
                rendered = re.sub(
                    r"\$\{([^}!]+)\}",
                    lambda m: "*" if self.param_may_be_star(m.group(1)) else "x",
                    str(s),
                )
                out.append(rendered)
            elif isinstance(b, dict) and "Ref" in b:
                out.append("*" if self.param_may_be_star(b["Ref"]) else None)
            else:
                out.append(None)  # GetAtt of a resource: one ARN
        return out

    @staticmethod
    def unscoped(res: str | None) -> bool:
        if res is None:
            return False
        return res.strip() == "*" or re.fullmatch(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*", res.strip()) is not None

    # --- finding the function and what is attached to it ----------------------------------
    def enrich_functions(self) -> list[str]:
        found = []
        for lid, r in self.resources.items():
            if r.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                continue
            binary = ((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
            if binary == ENRICH_BINARY or lid == ENRICH_LOGICAL_ID:
                found.append(lid)
        return found

    def statements_for(self, fn: str) -> list[tuple[str, dict]]:
        """(where, statement) for everything attached to the function's role."""
        props = self.resources[fn].get("Properties") or {}
        stmts: list[tuple[str, dict]] = []

        for i, pol in enumerate(flat(props.get("Policies"))):
            where = f"{fn}.Policies[{i}]"
            if isinstance(pol, dict) and "Statement" in pol:
                for s in flat(pol["Statement"]):
                    stmts.append((where, s))
            else:
                self.fail(f"{where}: {json.dumps(pol)[:80]} is a managed policy or SAM policy template; "
                          "it cannot be checked offline - write the statements inline in the role")

        role_val = props.get("Role")
        if role_val is None:
            if not props.get("Policies"):
                self.fail(f"{fn}: has no Role of its own (SAM would generate one with managed policies)")
            else:
                self.fail(f"{fn}: has no Role of its own (give it an explicit AWS::IAM::Role)")
            return stmts
        role_ids = {ref_target(b) for b in branches(role_val)}
        if None in role_ids or any(rid not in self.resources for rid in role_ids):
            self.fail(f"{fn}: Role {json.dumps(role_val)} is not a role defined in this template")
            return stmts
        for rid in role_ids:
            role = self.resources[rid]
            if role.get("Type") != "AWS::IAM::Role":
                self.fail(f"{fn}: Role points at {rid} ({role.get('Type')}), not an AWS::IAM::Role")
                continue
            # The role is the enrichment function's alone (the remediation function gets its own).
            for other, r in self.resources.items():
                if other != fn and r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                    if rid in {ref_target(b) for b in branches((r.get("Properties") or {}).get("Role"))}:
                        self.fail(f"{rid}: also used by function {other}; each function's role must be its own")
            rprops = role.get("Properties") or {}
            for i, pol in enumerate(flat(rprops.get("Policies"))):
                doc = (pol or {}).get("PolicyDocument") or {}
                for s in flat(doc.get("Statement")):
                    stmts.append((f"{rid}.Policies[{i}]", s))
            for arn in flat(rprops.get("ManagedPolicyArns")):
                target = ref_target(arn)
                if target and self.resources.get(target, {}).get("Type") == "AWS::IAM::ManagedPolicy":
                    continue  # collected below with the other attached policies
                self.fail(f"{rid}: managed policy {json.dumps(arn)} cannot be checked offline - use inline statements")
            # Separate policy resources attached to the role.
            for pid, pr in self.resources.items():
                if pr.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                    continue
                pp = pr.get("Properties") or {}
                roles = flat(pp.get("Roles")) + flat(pp.get("RoleName"))
                attached = any(ref_target(x) == rid for x in roles) or any(
                    ref_target(x) == pid for x in flat(rprops.get("ManagedPolicyArns")))
                if attached:
                    for s in flat((pp.get("PolicyDocument") or {}).get("Statement")):
                        stmts.append((pid, s))
        return stmts

    # --- the checks -------------------------------------------------------------------------
    def check_statement(self, where: str, s: Any, granted: set[str], writes: frozenset = frozenset()) -> None:
        if not isinstance(s, dict):
            self.fail(f"{where}: statement is not an object: {json.dumps(s)[:80]}")
            return
        sid = s.get("Sid", "?")
        tag = f"{where} {sid}"
        if s.get("Effect") != "Allow":
            return
        if "NotAction" in s:
            self.fail(f"{tag}: Allow with NotAction grants everything else (SageMaker writes included)")
        if "NotResource" in s:
            self.fail(f"{tag}: Allow with NotResource is unscoped")
        actions = [a for a in flat(s.get("Action")) if a is not None]
        resources = flat(s.get("Resource"))
        rendered = [x for r in resources for x in self.resource_strings(r)]
        star = any(self.unscoped(x) for x in rendered)
        for a in actions:
            if not isinstance(a, str):
                self.fail(f"{tag}: action {json.dumps(a)} is not a literal; cannot be checked")
                continue
            al = a.lower()
            granted.add(al)
            service, _, name = al.partition(":")
            if al == "*" or "*" in service or "?" in service:
                self.fail(f"{tag}: action {a} includes every service, SageMaker writes included")
                continue
            if service == "sagemaker" and not SAGEMAKER_READ.match(name):
                if not writes:
                    self.fail(f"{tag}: {a} is not read-only (SageMaker actions here must be Describe*/List*/Get*/Search*)")
                elif al not in writes:
                    self.fail(f"{tag}: {a} is not one of the remediation writes ({', '.join(sorted(writes))})")
                elif al in TAG_CONDITIONED and OPT_IN_CONDITION not in json.dumps(s.get("Condition") or {}).lower():
                    self.fail(f"{tag}: {a} without a Condition on {OPT_IN_CONDITION} - IAM must enforce the opt-in too")
            # Capacity context only reads: registering, deregistering or changing a scalable target
            # or policy would let this role resize endpoints through Application Auto Scaling.
            if service == "application-autoscaling" and not AUTOSCALING_READ.match(name):
                self.fail(f"{tag}: {a} is not read-only (Application Auto Scaling actions here must be Describe*)")
            if star and al not in UNSCOPABLE:
                self.fail(f"{tag}: {a} on Resource '*' - its service supports resource-level permissions; "
                          f"scope it (only {', '.join(sorted(UNSCOPABLE))} may use '*')")
        if not actions:
            self.fail(f"{tag}: Allow statement without Action")

    def check_iam(self) -> int:
        fns = self.enrich_functions()
        if not fns:
            self.fail(f"found no enrichment function (Binary: {ENRICH_BINARY} or logical id {ENRICH_LOGICAL_ID})")
            return 0
        total = 0
        for fn in fns:
            stmts = self.statements_for(fn)
            allow = [(w, s) for w, s in stmts if isinstance(s, dict) and s.get("Effect") == "Allow"]
            if not allow:
                self.fail(f"{fn}: its role grants no Allow statement at all (nothing was checked)")
            granted: set[str] = set()
            for where, s in stmts:
                self.check_statement(where, s, granted)
            missing = sorted(REQUIRED_ACTIONS - granted)
            if missing:
                self.fail(f"{fn}: its role lacks actions the enrichment code calls: {', '.join(missing)}")
            total += len(allow)
            self.notes.append(f"{fn}: {len(allow)} Allow statements, {len(granted)} actions checked")
        return total

    def functions(self) -> dict[str, str]:
        """Every function, logical id -> its cargo-lambda binary (or '')."""
        out = {}
        for lid, r in self.resources.items():
            if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                out[lid] = str(((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") or "")
        return out

    def check_other_functions(self) -> int:
        """Every function but the enrichment one: SageMaker writes only in the remediation role."""
        enrich = set(self.enrich_functions())
        total = 0
        for fn, binary in self.functions().items():
            if fn in enrich:
                continue
            remediation = binary == REMEDIATE_BINARY
            stmts = self.statements_for(fn)
            granted: set[str] = set()
            for where, st in stmts:
                self.check_statement(where, st, granted, frozenset(REMEDIATION_WRITES) if remediation else frozenset())
            if remediation:
                missing = sorted(REMEDIATION_REQUIRED - granted)
                if missing:
                    self.fail(f"{fn}: its role lacks actions the remediation code calls: {', '.join(missing)}")
            total += sum(1 for _, st in stmts if isinstance(st, dict) and st.get("Effect") == "Allow")
            self.notes.append(f"{fn} ({binary or '?'}): {len(granted)} actions checked")
        return total

    def check_function_urls(self) -> None:
        fns = self.functions()
        for lid, r in self.resources.items():
            props = r.get("Properties") or {}
            if r.get("Type") == "AWS::Serverless::Function":
                auth, target = (props.get("FunctionUrlConfig") or {}).get("AuthType"), lid
            elif r.get("Type") == "AWS::Lambda::Url":
                auth, target = props.get("AuthType"), ref_target(props.get("TargetFunctionArn"))
            else:
                continue
            if auth == "NONE" and fns.get(target or "") != SLACK_ACTIONS_BINARY:
                self.fail(f"{lid}: a function URL with AuthType NONE fronts {target}; only slack-actions (which checks Slack's signature) may be public")

    def check_timeout(self) -> None:
        for fn in self.enrich_functions():
            props = self.resources[fn].get("Properties") or {}
            glob = (self.t.get("Globals") or {}).get("Function") or {}
            timeout = props.get("Timeout", glob.get("Timeout", 3))
            if not isinstance(timeout, int):
                self.fail(f"{fn}: Timeout {json.dumps(timeout)} is not a literal number of seconds; cannot be checked")
                continue
            env = ((props.get("Environment") or {}).get("Variables") or {})
            dl = env.get(DEADLINE_ENV, DEFAULT_DEADLINE_MS)
            target = ref_target(dl)
            if target in self.parameters:
                p = self.parameters[target]
                dl = p.get("MaxValue")
                if dl is None:
                    self.fail(f"{fn}: {DEADLINE_ENV} comes from parameter {target}, which has no MaxValue")
                    continue
            try:
                deadline_s = int(str(dl)) / 1000
            except ValueError:
                self.fail(f"{fn}: {DEADLINE_ENV} {json.dumps(dl)} is not a number of milliseconds")
                continue
            need = deadline_s + DELIVERY_WORST_CASE_S
            if timeout < need or timeout > LAMBDA_MAX_TIMEOUT_S:
                self.fail(f"{fn}: Timeout {timeout} s must be between the enrichment deadline "
                          f"({deadline_s:g} s) + delivery's worst case ({DELIVERY_WORST_CASE_S} s) = {need:g} s "
                          f"and {LAMBDA_MAX_TIMEOUT_S} s")
            else:
                self.notes.append(f"{fn}: Timeout {timeout} s >= deadline {deadline_s:g} s + delivery {DELIVERY_WORST_CASE_S} s")

    def check_secrets(self) -> None:
        for name, p in self.parameters.items():
            for field in ("Default", "AllowedValues"):
                for path, val in strings(p.get(field), f"Parameters.{name}.{field}"):
                    self._scan(path, val)
            if SECRET_PARAM_NAME.search(name) and not REFERENCE_SUFFIX.search(name):
                self.fail(f"Parameters.{name}: looks like it takes a secret value; take a reference "
                          "(SSM parameter name / Secrets Manager name) instead")
        for lid, r in self.resources.items():
            env = (((r.get("Properties") or {}).get("Environment") or {}).get("Variables")) or {}
            for k, v in env.items():
                for b in branches(v):
                    target = ref_target(b)
                    if target in self.parameters and SECRET_PARAM_NAME.search(target) and not REFERENCE_SUFFIX.search(target):
                        self.fail(f"{lid}.Environment.{k}: holds parameter {target}, a secret value")
        genv = (((self.t.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
        for path, val in strings(genv, "Globals.Function.Environment.Variables"):
            self._scan(path, val)
        # Every other string too: environment values, outputs, descriptions, policies.
        for path, val in strings({k: v for k, v in self.t.items() if k != "Parameters"}):
            self._scan(path, val)

    def _scan(self, path: str, val: str) -> None:
        for what, pat in SECRET_VALUE_PATTERNS:
            if pat.search(val):
                self.fail(f"{path}: looks like a secret value ({what}); templates hold references only")

    def run(self) -> list[str]:
        n = self.check_iam() + self.check_other_functions()
        self.check_function_urls()
        self.check_timeout()
        self.check_secrets()
        if n == 0 and not self.failures:
            self.fail("checked no policy statement")
        return self.failures


def sam_translate(template: dict) -> dict:
    """The template as CloudFormation sees it after the SAM transform (offline)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform  # installed with aws-sam-cli

    t = copy.deepcopy(json.loads(json.dumps(template)))
    for r in (t.get("Resources") or {}).values():
        if r.get("Type") == "AWS::Serverless::Function":
            r.setdefault("Properties", {})["CodeUri"] = "s3://placeholder-bucket/code.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    pseudo = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    return transform(t, pseudo, NoManagedPolicies())


def check(template: dict, label: str) -> tuple[list[str], list[str]]:
    c = Checker(template, label)
    failures = c.run()
    return failures, c.notes


# ------------------------------------------------------------------------------------------------
def good_template() -> dict:
    """A minimal template that passes: the self-test's baseline (each bad case changes one thing)."""
    sub = lambda s: {"Fn::Sub": s}  # noqa: E731
    return {
        "Transform": "AWS::Serverless-2016-10-31",
        "Parameters": {
            "RoutesParameterName": {"Type": "String", "Default": "/sagealarm/routes", "AllowedPattern": "^/[A-Za-z0-9/_.-]+$"},
            "SecretsManagerPrefix": {"Type": "String", "Default": "sagealarm/", "AllowedPattern": "^[A-Za-z0-9/_+=.@-]+$"},
        },
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Logs": {"Type": "AWS::Logs::LogGroup"},
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
                        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": {"Fn::GetAtt": ["Logs", "Arn"]}},
                        {"Sid": "Routes", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${RoutesParameterName}")},
                        {"Sid": "Secrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sub("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretsManagerPrefix}*")},
                        {"Sid": "Describe", "Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeInferenceComponent"],
                         "Resource": [sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/*"),
                                      sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint-config/*"),
                                      sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:inference-component/*")]},
                        {"Sid": "Unscopable", "Effect": "Allow", "Action": ["sagemaker:ListInferenceComponents", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], "Resource": "*"},
                        {"Sid": "Autoscaling", "Effect": "Allow", "Action": ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
                                                                            "application-autoscaling:DescribeScalingActivities"], "Resource": "*"},
                        {"Sid": "EndpointLogs", "Effect": "Allow", "Action": "logs:FilterLogEvents", "Resource": sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/sagemaker/Endpoints/*")},
                        {"Sid": "Dlq", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}},
                    ]}}],
                },
            },
            "EnrichAlarmFunction": {
                "Type": "AWS::Serverless::Function",
                "Metadata": {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": ENRICH_BINARY}},
                "Properties": {"CodeUri": ".", "Handler": "bootstrap", "Runtime": "provided.al2023", "Architectures": ["arm64"],
                               "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Timeout": 300,
                               "Environment": {"Variables": {"SAGEALARM_ROUTES_SSM": {"Ref": "RoutesParameterName"},
                                                             "SAGEALARM_ENRICH_DEADLINE_MS": "10000"}}},
            },
        },
    }


def statements(t: dict) -> list:
    return t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def self_test() -> int:
    def add_stmt(s):
        def f(t):
            statements(t).append(s)
        return f

    def set_param(name, p):
        def f(t):
            t["Parameters"][name] = p
        return f

    def set_env(k, v):
        def f(t):
            t["Resources"]["EnrichAlarmFunction"]["Properties"]["Environment"]["Variables"][k] = v
        return f

    def remove_function(t):
        del t["Resources"]["EnrichAlarmFunction"]

    def empty_role(t):
        t["Resources"]["Role"]["Properties"]["Policies"] = []

    def no_role(t):
        del t["Resources"]["EnrichAlarmFunction"]["Properties"]["Role"]

    def shared_role(t):
        other = copy.deepcopy(t["Resources"]["EnrichAlarmFunction"])
        other["Metadata"]["BuildProperties"]["Binary"] = "remediate"
        t["Resources"]["RemediateFunction"] = other

    def managed_policy(t):
        t["Resources"]["Role"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]

    def separate_policy(t):
        t["Resources"]["Extra"] = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "x", "Roles": [{"Ref": "Role"}],
                                   "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sagemaker:UpdateEndpoint", "Resource": {"Fn::Sub": "arn:aws:sagemaker:r:1:endpoint/x"}}]}}}

    def write_in_if(t):
        statements(t).append({"Fn::If": ["Cond", {"Ref": "AWS::NoValue"},
                                          {"Effect": "Allow", "Action": "sagemaker:UpdateEndpointWeightsAndCapacities", "Resource": {"Fn::Sub": "arn:aws:sagemaker:r:1:endpoint/x"}}]})

    def missing_action(t):
        st = statements(t)
        st[:] = [s for s in st if s.get("Sid") != "EndpointLogs"]

    def timeout(seconds):
        def f(t):
            t["Resources"]["EnrichAlarmFunction"]["Properties"]["Timeout"] = seconds
        return f

    def sam_policy_template(t):
        t["Resources"]["EnrichAlarmFunction"]["Properties"]["Policies"] = [{"SageMakerCreateEndpointPolicy": {}}]

    def other_function(binary, statements_, url=None):
        def f(t):
            t["Resources"]["OtherRole"] = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statements_}}]}}
            props = {"Role": {"Fn::GetAtt": ["OtherRole", "Arn"]}}
            if url:
                props["FunctionUrlConfig"] = {"AuthType": url}
            t["Resources"]["OtherFunction"] = {"Type": "AWS::Serverless::Function", "Metadata": {"BuildProperties": {"Binary": binary}}, "Properties": props}
        return f

    def public_url(t):
        t["Resources"]["EnrichAlarmFunction"]["Properties"]["FunctionUrlConfig"] = {"AuthType": "NONE"}

    ep = {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/x"}
    update = {"Effect": "Allow", "Action": "sagemaker:UpdateEndpoint", "Resource": ep}
    cases = [
        ("SageMaker write in the Slack actions role", other_function(SLACK_ACTIONS_BINARY, [update]), "not read-only"),
        ("remediation endpoint update without the opt-in tag condition", other_function(REMEDIATE_BINARY, [update]), OPT_IN_CONDITION),
        ("remediation write outside its set", other_function(REMEDIATE_BINARY, [{"Effect": "Allow", "Action": "sagemaker:DeleteEndpoint", "Resource": ep}]), "not one of the remediation writes"),
        ("remediation role missing what its code calls", other_function(REMEDIATE_BINARY, [{**update, "Condition": {"Null": {"aws:ResourceTag/sagealarm:remediate": "false"}}}]), "lacks actions the remediation code calls"),
        ("public function URL on the enrichment function", public_url, "AuthType NONE"),
        ("SageMaker write action", add_stmt({"Effect": "Allow", "Action": "sagemaker:UpdateEndpointWeightsAndCapacities", "Resource": ep}), "not read-only"),
        ("SageMaker write hidden in an Fn::If branch", write_in_if, "not read-only"),
        ("sagemaker:* wildcard", add_stmt({"Effect": "Allow", "Action": "sagemaker:*", "Resource": ep}), "not read-only"),
        ("Action '*'", add_stmt({"Effect": "Allow", "Action": "*", "Resource": ep}), "every service"),
        ("NotAction", add_stmt({"Effect": "Allow", "NotAction": "iam:*", "Resource": ep}), "NotAction"),
        ("write in a separate AWS::IAM::Policy", separate_policy, "not read-only"),
        ("Application Auto Scaling write", add_stmt({"Effect": "Allow", "Action": "application-autoscaling:RegisterScalableTarget", "Resource": "*"}), "not read-only"),
        ("application-autoscaling:* wildcard", add_stmt({"Effect": "Allow", "Action": "application-autoscaling:*", "Resource": "*"}), "not read-only"),
        ("scopable DescribeEndpoint on '*'", add_stmt({"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": "*"}), "Resource '*'"),
        ("FilterLogEvents on '*'", add_stmt({"Effect": "Allow", "Action": "logs:FilterLogEvents", "Resource": ["*"]}), "Resource '*'"),
        ("GetSecretValue on arn:...:*", add_stmt({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:*"}), "Resource '*'"),
        ("resource from an unconstrained parameter",
         lambda t: (set_param("Anything", {"Type": "String", "Default": "x"})(t),
                    add_stmt({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": {"Ref": "Anything"}})(t)), "Resource '*'"),
        ("AWS managed policy attached", managed_policy, "cannot be checked offline"),
        ("SAM policy template", sam_policy_template, "cannot be checked offline"),
        ("no enrichment function", remove_function, "found no enrichment function"),
        ("role with no statement", empty_role, "grants no Allow statement"),
        ("function without a role of its own", no_role, "no Role of its own"),
        ("role shared with another function", shared_role, "role must be its own"),
        ("missing a needed action", missing_action, "lacks actions"),
        ("Timeout 60 s (too short for deadline + delivery retries)", timeout(60), "Timeout 60 s must be"),
        ("Timeout 120 s (too short for an alarm storm to one Slack channel)", timeout(120), "Timeout 120 s must be"),
        ("Timeout over Lambda's maximum", timeout(1200), "Timeout 1200 s must be"),
        ("Slack webhook as a parameter default", set_param("SlackWebhookUrl", {"Type": "String", "Default": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX"}), "Slack webhook URL"),
        ("PagerDuty key as a parameter default", set_param("PagerDutyRoutingKeyName", {"Type": "String", "Default": "0123456789abcdef0123456789abcdef"}), "routing key"),
        ("secret-value parameter", set_param("PagerDutyRoutingKey", {"Type": "String", "NoEcho": True}), "takes a secret value"),
        ("routing key in an environment variable", set_env("PD_KEY", "0123456789ABCDEF0123456789ABCDEF"), "routing key"),
        ("webhook in an environment variable", set_env("SLACK", "https://hooks.slack.com/services/T1/B1/abc"), "Slack webhook URL"),
        ("secret parameter in an environment variable",
         lambda t: (set_param("SlackWebhook", {"Type": "String", "NoEcho": True})(t), set_env("SLACK", {"Ref": "SlackWebhook"})(t)), "holds parameter"),
    ]

    ok = True
    base = good_template()
    f, _ = check(base, "good")
    if f:
        ok = False
        print(f"FAIL self-test: the good baseline template fails: {f}")
    else:
        print("ok   self-test: the good baseline template passes")
    try:
        f2, _ = check(sam_translate(base), "good/SAM")
        if f2:
            ok = False
            print(f"FAIL self-test: the good baseline fails after the SAM transform: {f2}")
        else:
            print("ok   self-test: the good baseline passes after the SAM transform")
    except Exception as e:  # noqa: BLE001
        ok = False
        print(f"FAIL self-test: SAM transform of the baseline: {e}")

    for name, mutate, expect in cases:
        t = copy.deepcopy(base)
        mutate(t)
        failures, _ = check(t, name)
        hit = [x for x in failures if expect in x]
        if hit:
            print(f"ok   self-test: caught {name}: {hit[0][:110]}")
        else:
            ok = False
            print(f"FAIL self-test: {name} was NOT caught (expected '{expect}'; got {failures})")
    print(f"self-test: {len(cases)} bad templates, {'all caught' if ok else 'NOT all caught'}")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if "--self-test" in argv:
        return self_test()
    path = next((a for a in argv if not a.startswith("-")), "template.yaml")
    template, matches = decode(path)
    if template is None or matches:
        print(f"FAIL {path}: cannot be read: {[str(m) for m in matches]}")
        return 1
    rc = 0
    for label, t in (("as written", template), ("after the SAM transform", None)):
        if t is None:
            try:
                t = sam_translate(template)
            except Exception as e:  # noqa: BLE001
                print(f"FAIL {path} {label}: {e}")
                rc = 1
                continue
        failures, notes = check(t, label)
        for n in notes:
            print(f"     {path} {label}: {n}")
        if failures:
            rc = 1
            for x in failures:
                print(f"FAIL {path} {label}: {x}")
        else:
            print(f"ok   {path} {label}: SageMaker writes only in the remediation role (tag-conditioned), others read-only, scoped where the services allow; timeout fits; no public URL but slack-actions; no secret values")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
