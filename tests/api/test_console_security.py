"""The console's routes under the same guard as the API (Host allow-list, cross-origin refusal,
signatures when keys are configured), and its actions protected against cross-site requests:
a POST with the console's own header, from the console's own origin only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, start_emulator
from tests.conftest import boto_kwargs

EVIL = "http://evil.example:8000"
TRUSTED = "http://localhost:3000"
UI = "/_emulator/ui"
ROLE = "arn:aws:iam::123456789012:role/R"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with start_emulator(
        tmp_path_factory.mktemp("console-security"),
        "process",
        extra_args=["--allowed-origin", TRUSTED, "--allowed-host", "emulator"],
    ) as running:
        yield running


@pytest.fixture
def model(server: EmulatorServer) -> str:
    name = f"m-{uuid.uuid4().hex[:8]}"
    _sagemaker(server).create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x"}
    )
    return name


def _sagemaker(server: EmulatorServer) -> Any:
    return boto3.client("sagemaker", **boto_kwargs(server.url))


def _exists(server: EmulatorServer, model: str) -> bool:
    try:
        _sagemaker(server).describe_model(ModelName=model)
    except ClientError:
        return False
    return True


@pytest.mark.parametrize("path", ["/", "/models", "/api/models", "/static/console.js"])
def test_a_foreign_host_name_is_refused(server: EmulatorServer, path: str) -> None:
    response = httpx.get(server.url + UI + path, headers={"Host": f"evil.example:{server.port}"})
    assert response.status_code == 403


def test_a_foreign_page_cannot_read_the_console(server: EmulatorServer, model: str) -> None:
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        response = httpx.get(server.url + UI + "/api/models", headers=headers)
        assert response.status_code == 403, headers
        assert model not in response.text
        assert "access-control-allow-origin" not in response.headers


def test_a_cross_site_form_cannot_delete(server: EmulatorServer, model: str) -> None:
    url = f"{server.url}{UI}/api/models/{model}/delete"
    for headers in (
        {"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"},
        {"Origin": EVIL, "X-Emulator-Console": "1"},
        {"Sec-Fetch-Site": "cross-site", "X-Emulator-Console": "1"},
    ):
        assert httpx.post(url, content=b"a=b", headers=headers).status_code == 403, headers
    assert _exists(server, model)


def test_an_action_needs_the_console_header(server: EmulatorServer, model: str) -> None:
    url = f"{server.url}{UI}/api/models/{model}/delete"
    response = httpx.post(url, headers={"Origin": server.url, "Content-Type": "text/plain"})
    assert response.status_code == 403
    assert response.json()["__type"] == "AccessDeniedException"
    assert _exists(server, model)
    assert httpx.get(url).status_code == 405  # never a GET


def test_an_allowed_origin_may_read_but_not_act(server: EmulatorServer, model: str) -> None:
    read = httpx.get(server.url + UI + "/api/models", headers={"Origin": TRUSTED})
    assert read.status_code == 200 and model in read.text
    url = f"{server.url}{UI}/api/models/{model}/delete"
    acted = httpx.post(url, headers={"Origin": TRUSTED, "X-Emulator-Console": "1"})
    assert acted.status_code == 403
    assert _exists(server, model)


def test_the_console_s_own_page_may_act(server: EmulatorServer, model: str) -> None:
    url = f"{server.url}{UI}/api/models/{model}/delete"
    headers = {"Origin": server.url, "Sec-Fetch-Site": "same-origin", "X-Emulator-Console": "1"}
    response = httpx.post(url, headers=headers)
    assert response.status_code == 200, response.text
    assert not _exists(server, model)


def test_pages_cannot_be_framed_or_run_foreign_scripts(server: EmulatorServer) -> None:
    response = httpx.get(server.url + UI + "/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text  # no inline script: the policy allows none


def test_static_files_stay_inside_the_package(server: EmulatorServer) -> None:
    for path in ("/static/..%2f__init__.py", "/static/vendor/../../api.py", "/static/x.py"):
        assert httpx.get(server.url + UI + path).status_code == 404, path


def test_with_access_keys_the_console_needs_a_signature(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with start_emulator(
        tmp_path_factory.mktemp("console-keys"),
        "process",
        extra_args=["--access-key", "AKIDCONSOLE:secret"],
    ) as keyed:
        assert httpx.get(keyed.url + UI + "/").status_code == 403
        assert httpx.get(keyed.url + UI + "/api/models").status_code == 403


def test_the_server_prints_the_console_s_url(server: EmulatorServer) -> None:
    printed = server.log_path.read_text(errors="replace")
    assert f"console: http://127.0.0.1:{server.port}/_emulator/ui/" in printed
