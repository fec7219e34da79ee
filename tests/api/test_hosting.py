"""Hosting through boto3: models, endpoint configs, endpoints, InvokeEndpoint, tags, errors."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from tests.api.conftest import (
    REGION,
    ROLE,
    Aws,
    Trained,
    deploy,
    load_model,
    unique,
    wait_endpoint,
)
from tests.sdk_recordio import read_records, write_dense_tensor

ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def pca_endpoint(aws: Aws, pca_trained: Trained) -> str:
    return deploy(aws, pca_trained.model_data, "pca")


@pytest.fixture(scope="module")
def kmeans_endpoint(aws: Aws, kmeans_trained: Trained) -> str:
    return deploy(aws, kmeans_trained.model_data, "kmeans")


def encode(rows: np.ndarray, content_type: str) -> bytes:
    if content_type == "text/csv":
        return "\n".join(",".join(repr(float(x)) for x in row) for row in rows).encode()
    if content_type == "application/json":
        return json.dumps({"instances": [{"features": row.tolist()} for row in rows]}).encode()
    if content_type == "application/jsonlines":
        return "\n".join(json.dumps({"features": row.tolist()}) for row in rows).encode()
    return write_dense_tensor(rows.astype(np.float32))


def decode(body: bytes, accept: str, keys: list[str]) -> list[dict[str, list[float]]]:
    """Responses as [{label: values}] whatever the format."""
    if accept == "application/json":
        top = json.loads(body)
        (items,) = top.values()
        return [{k: _as_list(item[k]) for k in keys} for item in items]
    if accept == "application/jsonlines":
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        return [{k: _as_list(line[k]) for k in keys} for line in lines]
    if accept == "text/csv":
        rows = [line.split(",") for line in body.decode().splitlines() if line.strip()]
        return [{k: [float(row[i])] for i, k in enumerate(keys)} for row in rows]
    return [
        {k: list(record.label[k].float32_tensor.values) for k in keys}
        for record in read_records(body)
    ]


def _as_list(value: Any) -> list[float]:
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


REQUEST_TYPES = [
    "text/csv",
    "application/json",
    "application/jsonlines",
    "application/x-recordio-protobuf",
]


@pytest.mark.parametrize("content_type", REQUEST_TYPES)
@pytest.mark.parametrize(
    "accept", ["application/json", "application/jsonlines", "application/x-recordio-protobuf"]
)
def test_pca_projections(
    aws: Aws,
    pca_trained: Trained,
    pca_endpoint: str,
    content_type: str,
    accept: str,
    tmp_path: Path,
) -> None:
    model = load_model(aws, pca_trained.model_data, tmp_path)
    rows = pca_trained.data[:7]
    response = aws.rt.invoke_endpoint(
        EndpointName=pca_endpoint,
        Body=encode(rows, content_type),
        ContentType=content_type,
        Accept=accept,
    )
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"].startswith(accept)
    result = decode(response["Body"].read(), accept, ["projection"])
    expected = (rows - model["mean"]) @ model["v"]
    got = np.array([r["projection"] for r in result])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("content_type", REQUEST_TYPES)
@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/jsonlines", "text/csv", "application/x-recordio-protobuf"],
)
def test_kmeans_predictions(
    aws: Aws,
    kmeans_trained: Trained,
    kmeans_endpoint: str,
    content_type: str,
    accept: str,
    tmp_path: Path,
) -> None:
    (centroids,) = load_model(aws, kmeans_trained.model_data, tmp_path)
    rows = kmeans_trained.data[:9]
    response = aws.rt.invoke_endpoint(
        EndpointName=kmeans_endpoint,
        Body=encode(rows, content_type),
        ContentType=content_type,
        Accept=accept,
    )
    result = decode(response["Body"].read(), accept, ["closest_cluster", "distance_to_cluster"])
    distances = np.linalg.norm(rows[:, None, :] - centroids[None], axis=2)
    assert [r["closest_cluster"][0] for r in result] == [float(i) for i in distances.argmin(1)]
    np.testing.assert_allclose(
        [r["distance_to_cluster"][0] for r in result], distances.min(1), rtol=1e-4, atol=1e-5
    )


def test_default_sdk_predictor_format(aws: Aws, kmeans_endpoint: str) -> None:
    """KMeansPredictor's defaults: RecordIO in, RecordIO out."""
    body = encode(np.zeros((1, 4), dtype=np.float32), "application/x-recordio-protobuf")
    response = aws.rt.invoke_endpoint(
        EndpointName=kmeans_endpoint,
        Body=body,
        ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf",
    )
    payload = response["Body"].read()
    assert payload[:4] == bytes.fromhex("0a23d7ce")


def test_container_error_is_model_error(aws: Aws, pca_endpoint: str) -> None:
    with pytest.raises(ClientError) as exc:
        aws.rt.invoke_endpoint(
            EndpointName=pca_endpoint,
            Body=b"1,2",
            ContentType="text/csv",
            Accept="application/json",
        )
    response = exc.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 400
    assert response["OriginalMessage"]
    assert response["LogStreamArn"].startswith(
        f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/sagemaker/Endpoints/{pca_endpoint}"
    )
    assert "Received client error (400)" in response["Error"]["Message"]


def test_unknown_endpoint(aws: Aws) -> None:
    with pytest.raises(ClientError) as exc:
        aws.rt.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1", ContentType="text/csv")
    assert _error(exc) == (
        "ValidationError",
        "Endpoint no-such-endpoint of account 123456789012 not found.",
    )


def test_describe_endpoint_and_logs(aws: Aws, pca_endpoint: str) -> None:
    d = aws.sm.describe_endpoint(EndpointName=pca_endpoint)
    assert d["EndpointArn"] == f"{ARN_PREFIX}:endpoint/{pca_endpoint.lower()}"
    assert d["EndpointConfigName"] == pca_endpoint
    (variant,) = d["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["CurrentInstanceCount"] == 1
    assert variant["DeployedImages"][0]["SpecifiedImage"] == image_uri("pca", REGION)
    streams = aws.logs.describe_log_streams(
        logGroupName=f"/aws/sagemaker/Endpoints/{pca_endpoint}"
    )["logStreams"]
    assert streams and all(s["logStreamName"].startswith("AllTraffic/") for s in streams)
    listed = aws.sm.list_endpoints(NameContains=pca_endpoint, StatusEquals="InService")
    assert [e["EndpointName"] for e in listed["Endpoints"]] == [pca_endpoint]


def test_missing_resources(aws: Aws) -> None:
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (
            aws.sm.describe_model,
            {"ModelName": "Nope"},
            f'Could not find model "{ARN_PREFIX}:model/nope".',
        ),
        (
            aws.sm.delete_model,
            {"ModelName": "nope"},
            f'Could not find model "{ARN_PREFIX}:model/nope".',
        ),
        (
            aws.sm.describe_endpoint_config,
            {"EndpointConfigName": "nope"},
            f'Could not find endpoint configuration "{ARN_PREFIX}:endpoint-config/nope".',
        ),
        (
            aws.sm.delete_endpoint_config,
            {"EndpointConfigName": "nope"},
            f'Could not find endpoint configuration "{ARN_PREFIX}:endpoint-config/nope".',
        ),
        (
            aws.sm.describe_endpoint,
            {"EndpointName": "nope"},
            f'Could not find endpoint "{ARN_PREFIX}:endpoint/nope".',
        ),
        (
            aws.sm.delete_endpoint,
            {"EndpointName": "nope"},
            f'Could not find endpoint "{ARN_PREFIX}:endpoint/nope".',
        ),
        (
            aws.sm.create_endpoint,
            {"EndpointName": "e-nope", "EndpointConfigName": "nope"},
            f'Could not find endpoint configuration "{ARN_PREFIX}:endpoint-config/nope".',
        ),
        (
            aws.sm.create_endpoint_config,
            {
                "EndpointConfigName": "c-nope",
                "ProductionVariants": [
                    {
                        "VariantName": "v",
                        "ModelName": "nope",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                    }
                ],
            },
            f'Could not find model "{ARN_PREFIX}:model/nope".',
        ),
    ]
    for method, kwargs, message in cases:
        with pytest.raises(ClientError) as exc:
            method(**kwargs)
        assert _error(exc) == ("ValidationException", message), method
    # Nothing was created by the rejected requests.
    assert aws.sm.list_endpoints(NameContains="e-nope")["Endpoints"] == []
    assert aws.sm.list_endpoint_configs(NameContains="c-nope")["EndpointConfigs"] == []


def test_duplicates_are_rejected_and_nothing_is_lost(
    aws: Aws, pca_trained: Trained, pca_endpoint: str
) -> None:
    name = pca_endpoint
    with pytest.raises(ClientError) as exc:
        aws.sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": "other:1", "ModelDataUrl": pca_trained.model_data},
            ExecutionRoleArn=ROLE,
        )
    assert _error(exc) == (
        "ValidationException",
        f'Cannot create already existing model "{ARN_PREFIX}:model/{name.lower()}".',
    )
    assert aws.sm.describe_model(ModelName=name)["PrimaryContainer"]["Image"] == image_uri(
        "pca", REGION
    )
    with pytest.raises(ClientError) as exc:
        aws.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "x",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    assert _error(exc) == (
        "ValidationException",
        f'Cannot create already existing endpoint configuration "{ARN_PREFIX}:endpoint-config/'
        f'{name.lower()}".',
    )
    with pytest.raises(ClientError) as exc:
        aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert _error(exc) == (
        "ValidationException",
        f'Cannot create already existing endpoint "{ARN_PREFIX}:endpoint/{name.lower()}".',
    )
    assert aws.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def test_model_data_must_exist(aws: Aws) -> None:
    url = f"s3://{aws.bucket}/no/model.tar.gz"
    with pytest.raises(ClientError) as exc:
        aws.sm.create_model(
            ModelName=unique("m"),
            PrimaryContainer={"Image": image_uri("pca", REGION), "ModelDataUrl": url},
            ExecutionRoleArn=ROLE,
        )
    assert _error(exc) == ("ValidationException", f"Could not find model data at {url}.")


def test_bad_model_archive_fails_the_endpoint(aws: Aws) -> None:
    key = f"bad/{unique('m')}/model.tar.gz"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"not a tar")
    name = unique("bad")
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image_uri("kmeans", REGION),
            "ModelDataUrl": f"s3://{aws.bucket}/{key}",
        },
        ExecutionRoleArn=ROLE,
    )
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    d = wait_endpoint(aws, name)
    assert d["EndpointStatus"] == "Failed"
    assert "Failed to extract model data archive" in d["FailureReason"]
    with pytest.raises(ClientError) as exc:
        aws.rt.invoke_endpoint(EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv")
    assert _error(exc)[0] == "ValidationError"
    with pytest.raises(ClientError) as exc:
        aws.sm.update_endpoint(EndpointName=name, EndpointConfigName=name)
    code, message = _error(exc)
    assert code == "ValidationException" and "in status Failed" in message
    aws.sm.delete_endpoint(EndpointName=name)


def _config(aws: Aws, name: str, variants: list[tuple[str, str, float]]) -> None:
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, model, weight in variants
        ],
    )


def _model(aws: Aws, name: str, algorithm: str, data: str) -> None:
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image_uri(algorithm, REGION), "ModelDataUrl": data},
        ExecutionRoleArn=ROLE,
    )


def test_update_endpoint_without_failed_requests(aws: Aws, kmeans_trained: Trained) -> None:
    name = unique("upd")
    _model(aws, name, "kmeans", kmeans_trained.model_data)
    _config(aws, name + "-a", [("Blue", name, 1.0)])
    _config(aws, name + "-b", [("Green", name, 1.0)])
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name + "-a")
    assert wait_endpoint(aws, name)["EndpointStatus"] == "InService"

    stop = threading.Event()
    seen: Counter[str] = Counter()
    failures: list[str] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                response = aws.rt.invoke_endpoint(
                    EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv"
                )
                seen[response["InvokedProductionVariant"]] += 1
            except ClientError as exc:
                failures.append(str(exc))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        while seen["Blue"] < 20 and not failures:
            time.sleep(0.01)
        aws.sm.update_endpoint(EndpointName=name, EndpointConfigName=name + "-b")
        assert aws.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] in (
            "Updating",
            "InService",
        )
        d = wait_endpoint(aws, name)
        # Keep invoking a little after the switch.
        target = seen["Green"] + 20
        while seen["Green"] < target and not failures:
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert d["EndpointStatus"] == "InService"
    assert d["EndpointConfigName"] == name + "-b"
    assert [v["VariantName"] for v in d["ProductionVariants"]] == ["Green"]
    assert seen["Blue"] >= 20 and seen["Green"] >= 20
    with pytest.raises(ClientError) as exc:
        aws.sm.update_endpoint(EndpointName=name, EndpointConfigName="no-such-config")
    assert _error(exc)[0] == "ValidationException"
    assert aws.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    aws.sm.delete_endpoint(EndpointName=name)


def test_variant_weights_and_target_variant(aws: Aws, kmeans_trained: Trained) -> None:
    name = unique("ab")
    _model(aws, name, "kmeans", kmeans_trained.model_data)
    _config(aws, name, [("A", name, 3.0), ("B", name, 1.0)])
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    d = wait_endpoint(aws, name)
    assert d["EndpointStatus"] == "InService", d.get("FailureReason")
    assert {v["VariantName"]: v["CurrentWeight"] for v in d["ProductionVariants"]} == {
        "A": 3.0,
        "B": 1.0,
    }
    counts: Counter[str] = Counter()
    for _ in range(200):
        response = aws.rt.invoke_endpoint(
            EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv"
        )
        counts[response["InvokedProductionVariant"]] += 1
    # 3:1 split: A gets 150 on average; 200 draws stay well inside these bounds.
    assert 110 < counts["A"] < 185 and counts["A"] + counts["B"] == 200
    response = aws.rt.invoke_endpoint(
        EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv", TargetVariant="B"
    )
    assert response["InvokedProductionVariant"] == "B"
    with pytest.raises(ClientError) as exc:
        aws.rt.invoke_endpoint(
            EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv", TargetVariant="C"
        )
    assert _error(exc)[0] == "ValidationError"
    aws.sm.delete_endpoint(EndpointName=name)
    with pytest.raises(ClientError) as exc:
        aws.sm.describe_endpoint(EndpointName=name)
    assert _error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        aws.rt.invoke_endpoint(EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv")
    assert _error(exc)[0] == "ValidationError"


def test_model_and_config_lists_and_deletes(aws: Aws, pca_trained: Trained) -> None:
    marker = unique("lm")
    names = [f"{marker}-{i}" for i in range(3)]
    for name in names:
        _model(aws, name, "pca", pca_trained.model_data)
        _config(aws, name, [("v", name, 1.0)])
    models = aws.sm.list_models(
        NameContains=marker, SortBy="Name", SortOrder="Ascending", MaxResults=2
    )
    assert [m["ModelName"] for m in models["Models"]] == names[:2]
    rest = aws.sm.list_models(
        NameContains=marker, SortBy="Name", SortOrder="Ascending", NextToken=models["NextToken"]
    )
    assert [m["ModelName"] for m in rest["Models"]] == names[2:]
    assert "NextToken" not in rest
    configs = aws.sm.list_endpoint_configs(NameContains=marker)["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in configs] == names[::-1]
    described = aws.sm.describe_endpoint_config(EndpointConfigName=names[0])
    assert described["ProductionVariants"][0]["ModelName"] == names[0]
    for name in names:
        aws.sm.delete_endpoint_config(EndpointConfigName=name)
        aws.sm.delete_model(ModelName=name)
    assert aws.sm.list_models(NameContains=marker)["Models"] == []


def test_tags(aws: Aws, pca_trained: Trained) -> None:
    name = unique("tagged")
    arn = aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image_uri("pca", REGION),
            "ModelDataUrl": pca_trained.model_data,
        },
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "team", "Value": "a"}],
    )["ModelArn"]
    aws.sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}]
    )
    tags = {t["Key"]: t["Value"] for t in aws.sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "b", "env": "dev"}
    aws.sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert aws.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    job_arn = aws.sm.describe_training_job(TrainingJobName=pca_trained.job)["TrainingJobArn"]
    assert aws.sm.list_tags(ResourceArn=job_arn)["Tags"] == []
    with pytest.raises(ClientError) as exc:
        aws.sm.list_tags(ResourceArn=f"{ARN_PREFIX}:model/does-not-exist")
    assert _error(exc)[0] == "ValidationException"
    aws.sm.delete_model(ModelName=name)


def test_describe_notebook_instance_gives_a_role(aws: Aws) -> None:
    d = aws.sm.describe_notebook_instance(NotebookInstanceName="any-notebook")
    assert d["NotebookInstanceStatus"] == "InService"
    assert d["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerRole"


def test_many_endpoints_at_once(aws: Aws, kmeans_trained: Trained) -> None:
    names = [unique("many") for _ in range(4)]
    _model(aws, names[0], "kmeans", kmeans_trained.model_data)
    _config(aws, names[0], [("AllTraffic", names[0], 1.0)])
    for name in names:
        aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=names[0])
    for name in names:
        assert wait_endpoint(aws, name)["EndpointStatus"] == "InService"
    answers = {
        aws.rt.invoke_endpoint(
            EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv", Accept="text/csv"
        )["Body"].read()
        for name in names
    }
    assert len(answers) == 1  # the same model everywhere
    for name in names:
        aws.sm.delete_endpoint(EndpointName=name)
    remaining = aws.sm.list_endpoints(NameContains="many-", MaxResults=100)["Endpoints"]
    assert not {e["EndpointName"] for e in remaining} & set(names)


def _kill_serving_container(runtime: str, endpoint: str) -> None:
    """Kill the endpoint's container behind the emulator's back (a crashed instance)."""
    import os
    import signal
    import subprocess

    if runtime == "docker":
        ids = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=sagemaker-emulator.endpoint={endpoint}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert len(ids) == 1
        subprocess.run(["docker", "kill", *ids], capture_output=True, check=True)
        return
    pids = _serving_processes(endpoint)
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)


def _serving_processes(endpoint: str) -> list[int]:
    """Process runtime: the pids serving an endpoint (their /opt/ml lies under its folder)."""
    import os

    marker = f"/endpoints/{endpoint}/".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{pid}/stat") as stat:
                zombie = stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if marker in environ and b"SAGEMAKER_BIND_TO_PORT" in environ and not zombie:
            found.append(int(pid))
    return found


@pytest.mark.runtime_only("process")  # tests/docker checks Docker removes its containers
def test_delete_endpoint_stops_its_containers(aws: Aws, kmeans_trained: Trained) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans")
    assert len(_serving_processes(name)) == 1
    aws.sm.delete_endpoint(EndpointName=name)
    deadline = time.monotonic() + 30
    while _serving_processes(name):
        assert time.monotonic() < deadline, "the serving process outlived DeleteEndpoint"
        time.sleep(0.1)


def test_a_dead_container_is_replaced(aws: Aws, kmeans_trained: Trained) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans")
    before = aws.rt.invoke_endpoint(EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv")
    expected = before["Body"].read()
    _kill_serving_container(aws.runtime, name)
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = aws.rt.invoke_endpoint(
                EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv"
            )["Body"].read()
            if answer == expected:
                break
        except ClientError as exc:
            # While the instance is replaced the runtime answers like an unavailable service.
            assert exc.response["Error"]["Code"] == "ServiceUnavailable", exc
        assert time.monotonic() < deadline, "the endpoint never served again"
        time.sleep(0.1)
    assert aws.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    aws.sm.delete_endpoint(EndpointName=name)


@pytest.mark.runtime_only("docker")  # a subprocess has the host's network whatever it asks
def test_network_isolated_model_serves_from_an_internal_network(
    aws: Aws, kmeans_trained: Trained
) -> None:
    import subprocess

    name = deploy(
        aws, kmeans_trained.model_data, "kmeans", model_extra={"EnableNetworkIsolation": True}
    )
    answer = aws.rt.invoke_endpoint(EndpointName=name, Body=b"1,2,3,4", ContentType="text/csv")
    assert b"closest_cluster" in answer["Body"].read()
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=sagemaker-emulator.endpoint={name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(ids) == 1
    inspected = json.loads(
        subprocess.run(
            ["docker", "inspect", ids[0]], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    from emulator.runtime.docker_runtime import SERVING_INTERNAL_NETWORK

    networks = inspected["NetworkSettings"]["Networks"]
    assert list(networks) == [SERVING_INTERNAL_NETWORK]
    internal = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", SERVING_INTERNAL_NETWORK],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]["Internal"]
    assert internal is True
    aws.sm.delete_endpoint(EndpointName=name)


def test_names_that_differ_only_in_case_are_one_resource(aws: Aws, kmeans_trained: Trained) -> None:
    """The ARN lower-cases the name: "Abc" and "abc" would share one ARN (and its tags)."""
    name = unique("Case")
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image_uri("kmeans", "us-east-1"),
            "ModelDataUrl": kmeans_trained.model_data,
        },
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "owner", "Value": "first"}],
    )
    with pytest.raises(ClientError) as caught:
        aws.sm.create_model(
            ModelName=name.lower(),
            PrimaryContainer={"Image": image_uri("kmeans", "us-east-1")},
            ExecutionRoleArn=ROLE,
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Cannot create already existing model" in caught.value.response["Error"]["Message"]
    arn = aws.sm.describe_model(ModelName=name)["ModelArn"]
    assert aws.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "first"}]
    aws.sm.delete_model(ModelName=name)
