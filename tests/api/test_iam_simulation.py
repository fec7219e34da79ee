"""IAM's policy simulator through the emulator: IAM is not enforced, so every action is allowed on
every resource, in AWS's response shape, with its pagination and its NoSuchEntity."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, start_emulator
from tests.conftest import boto_kwargs

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with start_emulator(tmp_path_factory.mktemp("iam-simulation"), "process") as running:
        yield running


@pytest.fixture
def iam(server: EmulatorServer) -> Any:
    return boto3.client("iam", **boto_kwargs(server.url))


def test_principal_policy_of_a_role_allows_every_action(iam: Any) -> None:
    name = f"sim-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    answer = iam.simulate_principal_policy(
        PolicySourceArn=role, ActionNames=["sagemaker:CreateTrainingJob", "s3:GetObject"]
    )
    assert answer["IsTruncated"] is False
    assert "Marker" not in answer
    results = answer["EvaluationResults"]
    assert [r["EvalActionName"] for r in results] == ["sagemaker:CreateTrainingJob", "s3:GetObject"]
    for result in results:
        assert result["EvalResourceName"] == "*"
        assert result["EvalDecision"] == "allowed"
        assert result["MatchedStatements"] == []
        assert result["MissingContextValues"] == []
        assert "ResourceSpecificResults" not in result


@pytest.mark.parametrize("kind", ["user", "group"])
def test_principal_policy_of_a_user_or_group(iam: Any, kind: str) -> None:
    name = f"sim-{uuid.uuid4().hex[:8]}"
    if kind == "user":
        arn = iam.create_user(UserName=name)["User"]["Arn"]
    else:
        arn = iam.create_group(GroupName=name)["Group"]["Arn"]
    answer = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:PutObject"])
    assert answer["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_resources_get_one_result_per_action_with_per_resource_decisions(iam: Any) -> None:
    resources = ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]
    answer = iam.simulate_custom_policy(
        PolicyInputList=[POLICY], ActionNames=["s3:GetObject"], ResourceArns=resources
    )
    (result,) = answer["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    specific = result["ResourceSpecificResults"]
    assert [r["EvalResourceName"] for r in specific] == resources
    assert {r["EvalResourceDecision"] for r in specific} == {"allowed"}


def test_pagination_with_max_items_and_marker(iam: Any) -> None:
    actions = [f"s3:Action{i}" for i in range(5)]
    seen: list[str] = []
    first = iam.simulate_custom_policy(PolicyInputList=[POLICY], ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True
    seen += [r["EvalActionName"] for r in first["EvaluationResults"]]
    marker = first["Marker"]
    while marker:
        page = iam.simulate_custom_policy(
            PolicyInputList=[POLICY], ActionNames=actions, MaxItems=2, Marker=marker
        )
        assert len(page["EvaluationResults"]) <= 2
        seen += [r["EvalActionName"] for r in page["EvaluationResults"]]
        marker = page.get("Marker") if page["IsTruncated"] else None
    assert seen == actions
    paginated = iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[POLICY], ActionNames=actions, PaginationConfig={"PageSize": 3}
    )
    assert [r["EvalActionName"] for r in paginated.build_full_result()["EvaluationResults"]] == (
        actions
    )


def test_unknown_principal_is_no_such_entity(iam: Any) -> None:
    with pytest.raises(ClientError) as raised:
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/missing-role", ActionNames=["s3:*"]
        )
    assert raised.value.response["Error"]["Code"] == "NoSuchEntity"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_max_items_over_1000_is_refused(iam: Any) -> None:
    with pytest.raises(ClientError) as raised:
        iam.simulate_custom_policy(PolicyInputList=[POLICY], ActionNames=["s3:*"], MaxItems=1001)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
