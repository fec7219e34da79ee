"""The console's JSON endpoints against a real server, on each runtime: what its pages show comes
from the same validated operations as boto3's answers, and its actions change state only through
them."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx

from sdk.session import boto_session
from tests.api.conftest import (
    Aws,
    Trained,
    blobs,
    channel,
    deploy,
    unique,
    upload_csv,
)
from tests.api.test_tuning import _config, _definition, _wait

UI = "/_emulator/ui"
CONSOLE = {"X-Emulator-Console": "1"}


def _get(aws: Aws, path: str, **params: Any) -> Any:
    response = httpx.get(aws.url + UI + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_trained_job_is_listed_described_and_its_log_and_artifact_read(
    aws: Aws, kmeans_trained: Trained
) -> None:
    name = kmeans_trained.job
    aws.sm.add_tags(
        ResourceArn=aws.sm.describe_training_job(TrainingJobName=name)["TrainingJobArn"],
        Tags=[{"Key": "team", "Value": "console"}],
    )
    listed = _get(aws, "/api/training-jobs", q=name)["items"]
    assert [item["TrainingJobName"] for item in listed] == [name]
    assert listed[0]["TrainingJobStatus"] == "Completed"
    assert _get(aws, "/api/training-jobs", q="no-such-job-anywhere")["items"] == []

    shown = _get(aws, f"/api/training-jobs/{name}")
    described = aws.sm.describe_training_job(TrainingJobName=name)
    assert shown["describe"]["HyperParameters"] == described["HyperParameters"]
    assert shown["describe"]["SecondaryStatusTransitions"][-1]["Status"] == "Completed"
    assert {"Key": "team", "Value": "console"} in shown["tags"]

    logs = _get(aws, f"/api/training-jobs/{name}/logs")
    messages = [event["message"] for event in logs["events"]]
    assert any("#quality_metric" in m for m in messages), messages[-20:]
    again = _get(aws, f"/api/training-jobs/{name}/logs", cursor=json.dumps(logs["cursor"]))
    assert again["events"] == []  # the cursor moved past every line
    assert again["TrainingJobStatus"] == "Completed"  # the page stops asking

    metrics = _get(aws, f"/api/training-jobs/{name}/metrics")
    assert isinstance(metrics["MetricDataResults"], list)
    for series in metrics["MetricDataResults"]:
        assert len(series["Timestamps"]) == len(series["Values"])
        assert series["MetricStat"]["Metric"]["Namespace"] == "/aws/sagemaker/TrainingJobs"

    bucket, _, key = kmeans_trained.model_data[len("s3://") :].partition("/")
    download = httpx.get(aws.url + UI + "/api/artifact", params={"bucket": bucket, "key": key})
    assert download.status_code == 200
    expected = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert download.content == expected
    assert "attachment" in download.headers["content-disposition"]

    page = httpx.get(aws.url + UI + f"/training-jobs/{name}")
    assert page.status_code == 200
    assert name in page.text and "feature_dim" in page.text


def test_published_metrics_come_back_in_get_metric_data_s_shape(
    aws: Aws, kmeans_trained: Trained
) -> None:
    name = kmeans_trained.job
    job = aws.sm.describe_training_job(TrainingJobName=name)
    began = job["TrainingStartTime"]
    cloudwatch = boto_session(aws.url, aws.region).client("cloudwatch")
    marker = f"console:test-{uuid.uuid4().hex[:6]}"
    cloudwatch.put_metric_data(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricData=[
            {
                "MetricName": marker,
                "Dimensions": [{"Name": "Host", "Value": f"{name}/algo-1"}],
                "Timestamp": began + timedelta(seconds=offset),
                "Value": value,
            }
            for offset, value in ((1, 3.0), (3, 2.0), (5, 1.5))
        ],
    )
    shown = _get(aws, f"/api/training-jobs/{name}/metrics")
    series = [r for r in shown["MetricDataResults"] if r["Label"].startswith(marker)]
    assert len(series) == 1, shown
    assert series[0]["Label"] == f"{marker} (algo-1)"
    assert series[0]["Values"] == [3.0, 2.0, 1.5]
    assert series[0]["Timestamps"] == sorted(series[0]["Timestamps"])
    assert series[0]["MetricStat"]["Stat"] == "Average"


def test_an_unknown_resource_is_an_aws_shaped_error(aws: Aws) -> None:
    response = httpx.get(aws.url + UI + "/api/models/no-such-model")
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"
    assert httpx.get(aws.url + UI + "/api/nothing-of-that-kind").status_code == 404
    assert httpx.get(aws.url + UI + "/api/models", params={"region": "x!"}).status_code == 400
    page = httpx.get(aws.url + UI + "/models/no-such-model")
    assert page.status_code == 400 and "Could not find model" in page.text


def test_an_endpoint_answers_the_test_request_and_is_deleted_through_the_console(
    aws: Aws, kmeans_trained: Trained
) -> None:
    endpoint = deploy(aws, kmeans_trained.model_data, "kmeans")
    shown = _get(aws, f"/api/endpoints/{endpoint}")
    assert shown["describe"]["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    page = httpx.get(aws.url + UI + f"/endpoints/{endpoint}")
    assert page.status_code == 200 and "AllTraffic" in page.text

    url = aws.url + UI + f"/api/endpoints/{endpoint}/invocations"
    rows = "\n".join(",".join(str(float(x)) for x in row) for row in kmeans_trained.data[:3])
    ask = {"Body": rows, "ContentType": "text/csv", "Accept": "application/json"}
    refused = httpx.post(url, json=ask)
    assert refused.status_code == 403
    answer = httpx.post(url, json=ask, headers=CONSOLE, timeout=60)
    assert answer.status_code == 200, answer.text
    predictions = json.loads(answer.json()["Body"])["predictions"]
    assert len(predictions) == 3 and "closest_cluster" in predictions[0]
    assert answer.json()["InvokedProductionVariant"] == "AllTraffic"

    bad = httpx.post(url, json={**ask, "ContentType": "x" * 2000}, headers=CONSOLE)
    assert bad.status_code == 400 and bad.json()["__type"] == "ValidationError"

    deadline = time.monotonic() + 60
    while True:  # the invocation metrics, once the emulator publishes them
        metrics = _get(aws, f"/api/endpoints/{endpoint}/metrics")
        names = {r["MetricStat"]["Metric"]["MetricName"] for r in metrics["MetricDataResults"]}
        if not names or "Invocations" in names or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if names:
        assert "Invocations" in names

    aws.sm.delete_endpoint_config(EndpointConfigName=endpoint)  # AWS allows it while in use
    assert httpx.get(aws.url + UI + f"/endpoints/{endpoint}").status_code == 200

    deleted = httpx.post(aws.url + UI + f"/api/endpoints/{endpoint}/delete", headers=CONSOLE)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["operation"] == "DeleteEndpoint"
    left = [e["EndpointName"] for e in aws.sm.list_endpoints(NameContains=endpoint)["Endpoints"]]
    assert left in ([], [endpoint])  # gone, or Deleting
    again = httpx.post(aws.url + UI + f"/api/models/{endpoint}/stop", headers=CONSOLE)
    assert again.status_code == 404  # a model cannot be stopped


def test_a_tuning_job_lists_every_child_with_its_values_and_the_best(aws: Aws) -> None:
    data, _ = blobs(n=300, d=4, k=3, seed=5)
    name = unique("console-grid")[:32]
    train = upload_csv(aws, data[:200], f"data/{name}/train")
    test = upload_csv(aws, data[200:], f"data/{name}/test")
    channels = [
        channel(train, "train", content_type="text/csv;label_size=0"),
        channel(test, "test", content_type="text/csv;label_size=0"),
    ]
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=_config(
            "Grid", {"CategoricalParameterRanges": [{"Name": "k", "Values": ["2", "3"]}]}, None, 2
        ),
        TrainingJobDefinition=_definition(
            aws, channels, {"feature_dim": "4", "mini_batch_size": "100"}
        ),
    )
    described = _wait(aws, name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    shown = _get(aws, f"/api/tuning-jobs/{name}/children")
    assert shown["TunedParameters"] == ["k"]
    assert sorted(c["TunedHyperParameters"]["k"] for c in shown["Children"]) == ["2", "3"]
    assert all(isinstance(c["ObjectiveValue"], float) for c in shown["Children"])
    best = described["BestTrainingJob"]["TrainingJobName"]
    assert shown["BestTrainingJob"] == best
    assert [c["TrainingJobName"] for c in shown["Children"] if c["Best"]] == [best]
    assert shown["Objective"]["MetricName"] == "test:msd"
