"""`--moto-api` turns on moto's reset route; a reset forgets everything the emulator holds.

moto's server mode users call `POST /moto-api/reset` between tests. Here it must reset SageMaker
(every region, running work stopped), S3 and CloudWatch Logs together, on disk too, so a restart
brings nothing back and no SageMaker record is left pointing at a vanished object.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import start_emulator
from tests.api.conftest import make_aws, unique

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_reset_forgets_sagemaker_s3_and_logs_on_disk_too(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    name = unique("reset")
    with start_emulator(data_dir, runtime="process", extra_args=["--moto-api"]) as server:
        east = make_aws(server, "process")
        west = make_aws(server, "process", region="us-west-2")
        east.s3.put_object(Bucket=east.bucket, Key="k", Body=b"v")
        for aws in (east, west):
            aws.sm.create_model(
                ModelName=name, PrimaryContainer={"Image": "local/byo:1"}, ExecutionRoleArn=ROLE
            )
        east.logs.create_log_group(logGroupName="/mine")
        answer = httpx.post(server.url + "/moto-api/reset")
        assert answer.status_code == 200, answer.text
        assert east.s3.list_buckets()["Buckets"] == []
        for aws in (east, west):
            with pytest.raises(ClientError) as gone:
                aws.sm.describe_model(ModelName=name)
            assert gone.value.response["Error"]["Code"] == "ValidationException"
        assert east.logs.describe_log_groups()["logGroups"] == []
        # The emulator keeps working after a reset.
        east.s3.create_bucket(Bucket=east.bucket)
        east.sm.create_model(
            ModelName=name, PrimaryContainer={"Image": "local/byo:1"}, ExecutionRoleArn=ROLE
        )
    with start_emulator(data_dir, runtime="process") as server:
        east = make_aws(server, "process", bucket=east.bucket)
        west = make_aws(server, "process", bucket=east.bucket, region="us-west-2")
        assert [b["Name"] for b in east.s3.list_buckets()["Buckets"]] == [east.bucket]
        assert east.s3.list_objects_v2(Bucket=east.bucket).get("KeyCount") == 0
        assert east.sm.describe_model(ModelName=name)["ModelName"] == name
        # The console's call history forgot the first model's calls with the model itself.
        calls = httpx.get(f"{server.url}/_emulator/ui/api/models/{name}", timeout=30).json()
        assert [c["eventName"] for c in calls["calls"]] == ["CreateModel"]
        with pytest.raises(ClientError):
            west.sm.describe_model(ModelName=name)
        assert east.logs.describe_log_groups()["logGroups"] == []


def test_without_the_flag_reset_is_not_there(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "data", runtime="process") as server:
        east = make_aws(server, "process")
        assert httpx.post(server.url + "/moto-api/reset").status_code == 404
        assert [b["Name"] for b in east.s3.list_buckets()["Buckets"]] == [east.bucket]
