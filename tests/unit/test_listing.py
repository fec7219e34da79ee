"""List* defaults (read from each operation's documentation), filters and NextToken positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.aws.errors import ValidationException
from emulator.services.listing import list_defaults, list_summaries

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("operation", "sort_by", "sort_order", "max_results"),
    [
        # The botocore documentation strings: "The default is <code>Ascending</code>." ...
        ("ListTrainingJobs", "CreationTime", "Ascending", 10),
        ("ListModels", "CreationTime", "Descending", 10),
        ("ListEndpointConfigs", "CreationTime", "Descending", 10),
        ("ListEndpoints", "CreationTime", "Descending", 10),
        ("ListTransformJobs", "CreationTime", "Descending", 10),
        ("ListMonitoringSchedules", "CreationTime", "Descending", 10),
    ],
)
def test_defaults_come_from_the_operation_documentation(
    operation: str, sort_by: str, sort_order: str, max_results: int
) -> None:
    defaults = list_defaults(operation)
    assert (defaults.sort_by, defaults.sort_order, defaults.max_results) == (
        sort_by,
        sort_order,
        max_results,
    )


def jobs(count: int, status: str = "Completed") -> list[dict[str, Any]]:
    return [
        {
            "TrainingJobName": f"job-{i:02d}",
            "CreationTime": T0 + timedelta(minutes=i),
            "LastModifiedTime": T0 + timedelta(minutes=i),
            "TrainingJobStatus": status,
        }
        for i in range(count)
    ]


def names(page: list[dict[str, Any]], key: str = "TrainingJobName") -> list[str]:
    return [s[key] for s in page]


def train_list(items: list[dict[str, Any]], **request: Any) -> tuple[list[dict[str, Any]], Any]:
    return list_summaries(
        items, request, name_key="TrainingJobName", status_key="TrainingJobStatus"
    )


def test_training_jobs_default_oldest_first_ten_a_page() -> None:
    page, token = train_list(jobs(12))
    assert names(page) == [f"job-{i:02d}" for i in range(10)]
    rest, end = train_list(jobs(12), NextToken=token)
    assert names(rest) == ["job-10", "job-11"] and end is None


def test_models_default_newest_first() -> None:
    models = [
        {"ModelName": f"m-{i}", "ModelArn": "a", "CreationTime": T0 + timedelta(minutes=i)}
        for i in range(3)
    ]
    page, _ = list_summaries(models, {}, name_key="ModelName")
    assert names(page, "ModelName") == ["m-2", "m-1", "m-0"]


def test_a_token_names_a_position_so_new_items_neither_repeat_nor_hide_others() -> None:
    items = jobs(4)
    first, token = train_list(items, MaxResults=2, SortOrder="Descending")
    assert names(first) == ["job-03", "job-02"]
    # A newer job appears between the two requests: the second page continues where the first
    # stopped (an offset would have repeated job-02).
    newer = {**items[0], "TrainingJobName": "job-99", "CreationTime": T0 + timedelta(hours=1)}
    second, end = train_list([*items, newer], MaxResults=2, SortOrder="Descending", NextToken=token)
    assert names(second) == ["job-01", "job-00"] and end is None


def test_name_filter_applies_before_paging_so_no_empty_page_carries_a_token() -> None:
    items = jobs(30)
    page, token = train_list(items, NameContains="JOB-2", MaxResults=5)
    assert names(page) == [f"job-2{i}" for i in range(5)]
    rest, end = train_list(items, NameContains="JOB-2", MaxResults=5, NextToken=token)
    assert names(rest) == [f"job-2{i}" for i in range(5, 10)] and end is None


def test_training_jobs_status_filter_applies_to_the_page_as_documented() -> None:
    items = jobs(3, "Completed") + [
        {**j, "TrainingJobName": f"f-{i}", "TrainingJobStatus": "Failed"}
        for i, j in enumerate(jobs(3))
    ]
    # f-0/job-00 share a time; names break the tie: f-0, job-00, f-1, job-01, ...
    page, token = train_list(items, StatusEquals="Failed", MaxResults=2)
    assert names(page) == ["f-0"] and token is not None
    all_failed = train_list(items, StatusEquals="Failed", MaxResults=100)[0]
    assert names(all_failed) == ["f-0", "f-1", "f-2"]


def test_other_lists_filter_status_before_paging() -> None:
    endpoints = [
        {
            "EndpointName": f"e-{i}",
            "CreationTime": T0 + timedelta(minutes=i),
            "LastModifiedTime": T0,
            "EndpointStatus": "InService" if i % 2 else "Failed",
        }
        for i in range(6)
    ]
    page, token = list_summaries(
        endpoints,
        {"StatusEquals": "InService", "MaxResults": 3},
        name_key="EndpointName",
        status_key="EndpointStatus",
    )
    assert names(page, "EndpointName") == ["e-5", "e-3", "e-1"] and token is None


def test_creation_time_after_is_inclusive_where_documented() -> None:
    models = [{"ModelName": "m", "ModelArn": "a", "CreationTime": T0}]
    assert list_summaries(models, {"CreationTimeAfter": T0}, name_key="ModelName")[0] == models
    assert train_list(jobs(1), CreationTimeAfter=T0)[0] == []


def test_filters_for_features_no_job_here_uses_match_nothing() -> None:
    assert train_list(jobs(2), WarmPoolStatusEquals="Available")[0] == []
    assert train_list(jobs(2), TrainingPlanArnEquals="arn:aws:sagemaker:x")[0] == []


@pytest.mark.parametrize("token", ["garbage", "eyJvZmZzZXQiOiAyfQ=="])
def test_a_token_that_names_no_position_is_refused(token: str) -> None:
    with pytest.raises(ValidationException, match="Invalid pagination token"):
        train_list(jobs(2), NextToken=token)


def test_a_token_from_another_sort_is_refused_not_a_500() -> None:
    _, token = train_list(jobs(3), MaxResults=1, SortBy="Name")
    with pytest.raises(ValidationException):
        train_list(jobs(3), NextToken=token, SortBy="CreationTime")
