"""Prepare an environment in which unmodified code (the classic notebooks) uses the emulator.

Four things make the SageMaker SDK (2.x and 3.x) work offline, and `prepare` sets up all of them:

1. environment variables: `AWS_ENDPOINT_URL` redirects every boto3 client (s3fs follows it too),
   plus a region and dummy credentials;
2. an SDK defaults file (named by `SAGEMAKER_USER_CONFIG_OVERRIDE`; both SDK generations read it)
   with a default bucket, which exists in the emulator's S3, and telemetry off; this spares
   `default_bucket()` its STS call. It also names the default execution role for training jobs
   and models (`SageMaker.TrainingJob.RoleArn`, `SageMaker.Model.ExecutionRoleArn`): SDK 3's
   `ModelTrainer` resolves its role from there when it is given none, where it would otherwise
   ask STS who the caller is (offline, a user, not a role) and refuse;
3. `/opt/ml/metadata/resource-metadata.json` = `{"ResourceName": <notebook>}`: that is how a real
   notebook instance finds its role, so `get_execution_role()` calls DescribeNotebookInstance on
   the (redirected) SageMaker endpoint instead of STS;
4. that role in the emulator's IAM, trusting sagemaker.amazonaws.com: SDK 3 reads the role's
   trust policy (and simulates its permissions) before it trains or deploys.

Nothing a user had is lost: the user's own SDK config is merged into ours (and we say it is
shadowed), an existing metadata file is backed up, and the previous values of the variables are
recorded. `undo` puts everything back. The record lives in `<state dir>/notebook-env.json`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sdk import session as sm_session

NOTEBOOK_METADATA_FILE = Path("/opt/ml/metadata/resource-metadata.json")
"""Where the SDK looks (sagemaker.session.NOTEBOOK_METADATA_FILE); it is hard-coded there."""

DEFAULT_NOTEBOOK_NAME = "sagemaker-emulator"

USER_CONFIG_VARIABLE = "SAGEMAKER_USER_CONFIG_OVERRIDE"

CONFIG_FILE_NAME = "sdk-config.yaml"
STATE_FILE_NAME = "notebook-env.json"

# Variables that would beat or break AWS_ENDPOINT_URL or the dummy credentials if left set:
# per-service endpoint overrides win over the generic one, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
# turns the redirection off, and a leftover session token belongs to real credentials.
_ALWAYS_UNSET = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_SERVICE_ENDPOINT_PREFIX = "AWS_ENDPOINT_URL_"


def default_state_dir() -> Path:
    """`$XDG_CONFIG_HOME/sagemaker-emulator` (`~/.config/sagemaker-emulator`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sagemaker-emulator"


def _user_sdk_config_path() -> Path:
    """The file the SDK would read without the override (sagemaker.config.config)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sagemaker" / "config.yaml"


@dataclass
class NotebookEnv:
    """What `prepare` did, and what the process environment must become."""

    endpoint_url: str
    region: str
    bucket: str
    notebook_name: str
    config_path: Path
    metadata_path: Path | None
    variables: dict[str, str]
    """Variables to set."""
    unset: list[str]
    """Variables to remove."""
    notices: list[str] = field(default_factory=list)
    """Things the user should know: a shadowed config file, a backed-up metadata file."""

    def apply(self, environ: MutableMapping[str, str] | None = None) -> None:
        """Set the variables in `environ` (default `os.environ`)."""
        target = os.environ if environ is None else environ
        for name in self.unset:
            target.pop(name, None)
        target.update(self.variables)

    def shell_lines(self) -> list[str]:
        """`export`/`unset` lines for a POSIX shell to `eval`."""
        lines = [f"unset {name}" for name in self.unset]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in self.variables.items()]
        return lines


def environment_variables(endpoint_url: str, region: str, config_path: Path) -> dict[str, str]:
    """The variables that point boto3, the SDK, s3fs and the AWS CLI at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url.rstrip("/"),
        # boto3 reads AWS_DEFAULT_REGION; the AWS CLI v2 and other SDKs read AWS_REGION.
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": sm_session.DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": sm_session.DUMMY_SECRET_ACCESS_KEY,
        # No instance-metadata probing: offline it only adds timeouts.
        "AWS_EC2_METADATA_DISABLED": "true",
        USER_CONFIG_VARIABLE: str(config_path),
    }


def _variables_to_unset(environ: Mapping[str, str]) -> list[str]:
    names = [n for n in _ALWAYS_UNSET if n in environ]
    names += sorted(n for n in environ if n.startswith(_SERVICE_ENDPOINT_PREFIX))
    return names


def _load_state(state_dir: Path) -> dict[str, Any]:
    path = state_dir / STATE_FILE_NAME
    if not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _save_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE_NAME).write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _write_sdk_config(
    config_path: Path, bucket: str, previous_override: str | None, notices: list[str]
) -> None:
    """Write our SDK defaults file, keeping the user's own defaults in it.

    The SDK reads one user config file: ours, once the override variable names it. So the file the
    user's defaults came from (their override, else ~/.config/sagemaker/config.yaml) is merged in,
    with our two keys on top, and the user is told.
    """
    source = Path(previous_override) if previous_override else _user_sdk_config_path()
    if source.resolve() == config_path.resolve():
        source = _user_sdk_config_path()
    if source.is_dir():
        source = source / "config.yaml"
    user_config: dict[str, Any] = {}
    if source.resolve() != config_path.resolve() and source.is_file():
        loaded = yaml.safe_load(source.read_text())
        if isinstance(loaded, dict):
            user_config = loaded
            notices.append(
                f"your SageMaker SDK config {source} is shadowed while this environment is active; "
                f"its settings were copied into {config_path}, with DefaultS3Bucket={bucket} "
                "and TelemetryOptOut=true on top"
            )
    config = _merge(_merge(user_config, sm_session.sdk_defaults(bucket)), role_defaults())
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        "# Written by `sagemaker-emulator notebook-env`; removed by `notebook-env --undo`.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )


def role_defaults(role_arn: str = sm_session.DEFAULT_ROLE_ARN) -> dict[str, Any]:
    """SDK defaults-file keys naming the execution role of training jobs and models.

    The role is the one the emulator's notebook instance reports (DescribeNotebookInstance), so
    code that passes `get_execution_role()` and code that passes nothing get the same role.
    """
    return {
        "SageMaker": {
            "TrainingJob": {"RoleArn": role_arn},
            "Model": {"ExecutionRoleArn": role_arn},
        }
    }


EXECUTION_ROLE_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
"""What a SageMaker execution role trusts; SDK 3 refuses a role whose trust policy lacks it."""

EXECUTION_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
"""The emulator does not enforce IAM: the role may do everything, so a policy simulation agrees."""


def _ensure_execution_role(endpoint_url: str, region: str, role_arn: str) -> None:
    """Create the execution role in the emulator's IAM when it is not there yet."""
    iam = sm_session.client("iam", endpoint_url, region)
    name = role_arn.rsplit("/", 1)[-1]
    try:
        iam.get_role(RoleName=name)
        return
    except iam.exceptions.NoSuchEntityException:
        pass
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EXECUTION_ROLE_TRUST_POLICY))
    iam.put_role_policy(
        RoleName=name,
        PolicyName="sagemaker-emulator-execution",
        PolicyDocument=json.dumps(EXECUTION_ROLE_POLICY),
    )


def _write_metadata(
    path: Path, notebook_name: str, state_dir: Path, state: dict[str, Any], notices: list[str]
) -> None:
    """Write the notebook-instance metadata file, backing up a foreign one the first time."""
    content = json.dumps({"ResourceName": notebook_name})
    record: dict[str, Any] = state.get("metadata") or {"path": str(path), "backup": None}
    if "created_dirs" not in record:
        missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
        record["created_dirs"] = [str(p) for p in missing]
        if path.exists():
            if path.read_text() != content:
                backup = state_dir / "backup" / path.name
                backup.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, backup)
                record["backup"] = str(backup)
                notices.append(f"{path} existed; it was backed up to {backup} (undo restores it)")
            else:
                record["existed_identical"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    state["metadata"] = record


def _create_buckets(endpoint_url: str, region: str, buckets: list[str]) -> None:
    s3 = sm_session.client("s3", endpoint_url, region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in buckets:
        if name in existing:
            continue
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def prepare(
    endpoint_url: str,
    *,
    region: str | None = None,
    bucket: str | None = None,
    extra_buckets: tuple[str, ...] | list[str] = (),
    notebook_name: str = DEFAULT_NOTEBOOK_NAME,
    metadata_path: Path | None = NOTEBOOK_METADATA_FILE,
    state_dir: Path | None = None,
    create_buckets: bool = True,
    environ: Mapping[str, str] | None = None,
) -> NotebookEnv:
    """Write the SDK config and the metadata file, create the buckets; return the variables.

    `environ` (default `os.environ`) is only read: the values it has for the variables we change
    are recorded so that `undo` can give them back. `metadata_path=None` skips the metadata file
    (then `get_execution_role()` cannot work offline; pass a role explicitly instead).
    """
    env = os.environ if environ is None else environ
    state_dir = state_dir or default_state_dir()
    # The client's own region (the emulator answers each request in the region it is signed
    # for, so records, logs and the default bucket follow the client).
    region = region or sm_session.client_region(environ)
    bucket = bucket or sm_session.default_bucket_name(region)
    # Buckets first: an emulator that does not answer fails here, before any file is touched.
    if create_buckets:
        _create_buckets(endpoint_url, region, [bucket, *extra_buckets])
        _ensure_execution_role(endpoint_url, region, sm_session.DEFAULT_ROLE_ARN)
    state = _load_state(state_dir)
    notices: list[str] = []
    if state.get("region") not in (None, region):
        notices.append(
            f"the region is now {region} (it was {state['region']}): jobs, endpoints and logs "
            f"made in {state['region']} stay there; the SDK default bucket is now s3://{bucket}"
        )

    config_path = state_dir / CONFIG_FILE_NAME
    # The user's override as it was before any prepare: in a shell where notebook-env already
    # ran, the variable names our own file, and the recorded value is the user's.
    recorded = state.get("previous_environment", {})
    previous_override = (
        recorded[USER_CONFIG_VARIABLE]
        if USER_CONFIG_VARIABLE in recorded
        else env.get(USER_CONFIG_VARIABLE)
    )
    _write_sdk_config(config_path, bucket, previous_override, notices)
    state["config_path"] = str(config_path)

    if metadata_path is not None:
        try:
            _write_metadata(metadata_path, notebook_name, state_dir, state, notices)
        except OSError as exc:
            notices.append(
                f"could not write {metadata_path} ({exc.strerror}): get_execution_role() will "
                "fall back to STS and fail offline; pass role=... to estimators instead"
            )

    variables = environment_variables(endpoint_url, region, config_path)
    unset = _variables_to_unset(env)
    # The first prepare's view of the environment is the one to restore, so a second prepare
    # (e.g. after a restart on a new port) only adds names it has not seen.
    previous: dict[str, str | None] = state.setdefault("previous_environment", {})
    for name in [*variables, *unset]:
        previous.setdefault(name, env.get(name))
    state["endpoint_url"] = endpoint_url
    state["region"] = region
    _save_state(state_dir, state)

    return NotebookEnv(
        endpoint_url=endpoint_url,
        region=region,
        bucket=bucket,
        notebook_name=notebook_name,
        config_path=config_path,
        metadata_path=metadata_path,
        variables=variables,
        unset=unset,
        notices=notices,
    )


def configure(endpoint_url: str, **kwargs: Any) -> NotebookEnv:
    """`prepare`, then set the variables in this process (`os.environ`). Undo with `undo()`."""
    prepared = prepare(endpoint_url, **kwargs)
    prepared.apply()
    return prepared


@dataclass
class Restoration:
    """What `undo` put back: the variables' old values (None: unset) and messages."""

    variables: dict[str, str | None]
    notices: list[str]

    def apply(self, environ: MutableMapping[str, str] | None = None) -> None:
        target = os.environ if environ is None else environ
        for name, value in self.variables.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value

    def shell_lines(self) -> list[str]:
        return [
            f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}"
            for name, value in self.variables.items()
        ]


def undo(state_dir: Path | None = None, *, apply: bool = False) -> Restoration:
    """Remove what `prepare` wrote and restore what it replaced.

    With `apply=True` the variables are also restored in `os.environ` (the inverse of
    `configure`). Buckets and objects in the emulator are left alone: they belong to its data.
    """
    state_dir = state_dir or default_state_dir()
    state = _load_state(state_dir)
    notices: list[str] = []
    if not state:
        notices.append(f"nothing to undo: no {STATE_FILE_NAME} in {state_dir}")
        return Restoration({}, notices)

    config_path = Path(state.get("config_path", state_dir / CONFIG_FILE_NAME))
    config_path.unlink(missing_ok=True)

    record = state.get("metadata")
    if record is not None:
        path = Path(record["path"])
        if record.get("backup"):
            backup = Path(record["backup"])
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(backup, path)
            backup.unlink()
            if not any(backup.parent.iterdir()):
                backup.parent.rmdir()
            notices.append(f"restored {path} from {backup}")
        elif not record.get("existed_identical"):
            path.unlink(missing_ok=True)
            # Only the directories prepare created, deepest first, and only if now empty.
            for directory in record.get("created_dirs", []):
                created = Path(directory)
                if created.is_dir() and not any(created.iterdir()):
                    created.rmdir()

    (state_dir / STATE_FILE_NAME).unlink()
    restoration = Restoration(dict(state.get("previous_environment", {})), notices)
    if apply:
        restoration.apply()
    return restoration
