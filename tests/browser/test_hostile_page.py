"""A hostile page in a real browser (headless Chromium) against a running emulator.

The page is served from another origin (a second local HTTP server, another port and name) and
tries the chain a drive-by attack would: read the bucket listing cross-origin, drop a file with an
S3 form POST (a CORS "simple" request, no preflight), then create a training job, both as a simple
text/plain POST and as a preflighted JSON call with X-Amz-Target. Each step's outcome is written
into the page, which Chromium dumps; the emulator's state is then checked with boto3.
Chromium comes from scripts/browser.sh (Debian's package); without it the test fails, unless
SAGEMAKER_EMULATOR_SKIP_BROWSER=1 skips it.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, free_port, start_emulator
from tests.conftest import boto_kwargs

PAGE = """<!doctype html><html><body><pre id="out"></pre><script>
const E = %(endpoint)s, BUCKET = %(bucket)s, JOB = %(job)s;
const out = {};
const job = JSON.stringify({TrainingJobName: JOB, RoleArn: "arn:aws:iam::123456789012:role/R",
  AlgorithmSpecification: {TrainingImage: "x", TrainingInputMode: "File"},
  OutputDataConfig: {S3OutputPath: "s3://" + BUCKET + "/out"},
  ResourceConfig: {InstanceType: "ml.m5.large", InstanceCount: 1, VolumeSizeInGB: 1},
  StoppingCondition: {MaxRuntimeInSeconds: 60}});
async function step(name, run) {
  try { out[name] = await run(); } catch (e) { out[name] = "blocked: " + e.name; }
}
(async () => {
  await step("list_buckets", async () => {
    const r = await fetch(E + "/"); return "read " + r.status + ": " + (await r.text());
  });
  await step("form_post", async () => {
    const form = new FormData();
    form.append("key", "dropped.sh");
    form.append("file", new Blob(["#!/bin/sh\\necho owned\\n"]), "x.sh");
    const r = await fetch(E + "/" + BUCKET, {method: "POST", mode: "no-cors", body: form});
    return "sent (" + r.type + ")";
  });
  await step("create_job_simple", async () => {
    const r = await fetch(E + "/", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: job});
    return "sent (" + r.type + ")";
  });
  await step("create_job_preflighted", async () => {
    const r = await fetch(E + "/", {method: "POST", body: job, headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "SageMaker.CreateTrainingJob"}});
    return "read " + r.status + ": " + (await r.text());
  });
  document.getElementById("out").textContent = "RESULT" + JSON.stringify(out) + "END";
})();
</script></body></html>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("SAGEMAKER_EMULATOR_SKIP_BROWSER") == "1":
        pytest.skip("SAGEMAKER_EMULATOR_SKIP_BROWSER=1: the browser test is skipped")
    pytest.fail("chromium is not installed: run scripts/browser.sh")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with start_emulator(tmp_path_factory.mktemp("browser"), "process") as running:
        yield running


@pytest.fixture
def hostile_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A second HTTP server, another origin (`localhost:<other port>`), serving `tmp_path`."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}", tmp_path
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_hostile_page_cannot_list_upload_or_train(
    server: EmulatorServer, hostile_site: tuple[str, Path], tmp_path: Path
) -> None:
    browser = chromium()
    s3 = boto3.client("s3", **boto_kwargs(server.url))
    bucket = f"victim-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    job = f"evil-{uuid.uuid4().hex[:8]}"
    site, root = hostile_site
    (root / "evil.html").write_text(
        PAGE
        % {
            "endpoint": json.dumps(server.url),
            "bucket": json.dumps(bucket),
            "job": json.dumps(job),
        }
    )
    profile = tmp_path / "profile"
    dumped = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{site}/evil.html",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "RESULT" in dumped.stdout, dumped.stderr[-3000:]
    text = dumped.stdout.split("RESULT", 1)[1].split("END", 1)[0]
    results = json.loads(text.replace("&quot;", '"').replace("&amp;", "&"))
    # Reads are blocked (the browser sees no CORS headers: a TypeError, nothing readable).
    assert results["list_buckets"].startswith("blocked"), results
    assert bucket not in results["list_buckets"]
    assert results["create_job_preflighted"].startswith("blocked"), results
    # Simple requests go out without a preflight: the server must not have acted on them.
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dropped.sh")
    sagemaker = boto3.client("sagemaker", **boto_kwargs(server.url))
    with pytest.raises(ClientError):
        sagemaker.describe_training_job(TrainingJobName=job)
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_a_rebound_host_name_is_refused(server: EmulatorServer) -> None:
    # DNS rebinding: the browser sends the attacker's name as Host, whatever address it reached.
    import httpx

    response = httpx.get(server.url + "/", headers={"Host": f"attacker.example:{server.port}"})
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text
