"""IAM helpers of the template tests: which statements a policy holder gets, what they let it do and on what."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from tests.template.template_support import as_list, policy_statements, referenced_names, walk

# What the AWS managed policies SAM attaches grant, as far as the tests need it (the SQS event's policy lets the
# batcher receive and delete messages itself: the top-up of a full batch, batcher.py).
AWS_MANAGED_GRANTS: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        }
    ],
}

# Verbs that only read; anything else changes or calls something.
_READ_VERBS = ("Get", "List", "Describe", "BatchGet", "Query", "Scan")
# Using a key (as KMSEncryptPolicy/KMSDecryptPolicy do) is not writing anything.
_KEY_USE_VERBS = ("Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey")


def is_read_action(action: str) -> bool:
    service, _, verb = action.partition(":")
    return verb.startswith(_READ_VERBS) or (service == "kms" and verb.startswith(_KEY_USE_VERBS))


def statement_targets(tpl: dict[str, Any], resource: Any) -> set[str]:
    """Logical ids of this template that a statement's Resource names (by Ref, GetAtt, ${X} or the resource's name)."""
    resources = tpl["Resources"]
    found = referenced_names(resource) & set(resources)
    names = {
        logical_id: name
        for logical_id, res in resources.items()
        if (name := (res.get("Properties") or {}).get("Name") or (res.get("Properties") or {}).get("StateMachineName"))
    }
    for item in walk(resource):
        found |= {logical_id for logical_id, name in names.items() if item == name}
    return found


def holder_statements(tpl: dict[str, Any], holder: str) -> Iterator[dict[str, Any]]:
    """Every statement a policy holder (a SAM function or state machine, or an IAM role) is granted.

    Covers inline statements (SAM `Statement` entries, expanded policy templates, role Policies), this template's
    customer managed policies (Ref) and the AWS managed policies in AWS_MANAGED_GRANTS.
    """
    props = tpl["Resources"][holder].get("Properties") or {}
    for policy in as_list(props.get("Policies")):
        if not isinstance(policy, dict):
            continue
        if isinstance(policy.get("Ref"), str):
            yield from _managed_statements(tpl, policy["Ref"])
        elif "Statement" in policy or "PolicyDocument" in policy:
            yield from policy_statements(policy)
    for arn in as_list(props.get("ManagedPolicyArns")):
        if isinstance(arn, dict) and isinstance(arn.get("Ref"), str):
            yield from _managed_statements(tpl, arn["Ref"])
        elif isinstance(arn, str):
            yield from AWS_MANAGED_GRANTS.get(arn.rsplit("/", 1)[-1], [])


def _managed_statements(tpl: dict[str, Any], logical_id: str) -> Iterator[dict[str, Any]]:
    managed = tpl["Resources"][logical_id]
    assert managed["Type"] == "AWS::IAM::ManagedPolicy", f"Policies: !Ref {logical_id} is not a managed policy"
    yield from policy_statements(managed["Properties"]["PolicyDocument"])


def allows(statement: dict[str, Any], action: str) -> bool:
    """Whether an Allow statement's Action (patterns with *) covers `action`."""
    patterns = [str(a).lower() for a in as_list(statement.get("Action"))]
    return statement.get("Effect") == "Allow" and any(fnmatch.fnmatchcase(action.lower(), p) for p in patterns)


def granted(tpl: dict[str, Any], holder: str, action: str, target: str) -> bool:
    """Whether holder may call `action` on the resource `target` (a logical id)."""
    for statement in holder_statements(tpl, holder):
        if not allows(statement, action):
            continue
        resource = statement.get("Resource")
        if "*" in as_list(resource) or target in statement_targets(tpl, resource):
            return True
    return False


def grants(tpl: dict[str, Any], holder: str) -> set[tuple[str, str]]:
    """(action pattern, logical id) of every Allow of holder on a resource of this template."""
    found: set[tuple[str, str]] = set()
    for statement in holder_statements(tpl, holder):
        if statement.get("Effect") != "Allow":
            continue
        targets = statement_targets(tpl, statement.get("Resource"))
        found |= {(str(action), target) for action in as_list(statement.get("Action")) for target in targets}
    return found
