"""Settings of one emulator process (env prefix SAGEMAKER_EMULATOR_, or the CLI's flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8642
RuntimeChoice = Literal["auto", "docker", "process"]


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "sagemaker-emulator"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAGEMAKER_EMULATOR_", extra="ignore")

    host: str = "127.0.0.1"
    """Loopback unless told otherwise: the emulator has no authentication."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    runtime: RuntimeChoice = "auto"
    region: str = "us-east-1"
    seed_dir: Path | None = None
    """Uploaded to S3 at start: its top-level folders are buckets (`<dir>/<bucket>/<key>`)."""
    log_level: str = "info"
    allowed_hosts: str = ""
    """Comma-separated extra Host names to answer to (e.g. a docker-compose service name);
    loopback names and the bound address are always answered."""
    allowed_origins: str = ""
    """Comma-separated browser origins (`http://localhost:3000`) allowed to call the emulator
    cross-origin; every other origin is refused."""
    access_keys: str = ""
    """`ACCESS_KEY_ID:SECRET,...`: when set, every request must be SigV4-signed with one of them."""
    metrics_flush_seconds: float = Field(default=60.0, gt=0)
    """How often endpoint invocation metrics are published (per-minute statistic sets, as
    SageMaker publishes them); they are also published before a CloudWatch request reads them."""
    moto_api: bool = False
    """Serve moto's `/moto-api/reset` and `/moto-api/data.json` (off: they answer 404)."""

    def host_names(self) -> list[str]:
        return [name.strip() for name in self.allowed_hosts.split(",") if name.strip()]

    def origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.allowed_origins.split(",") if origin.strip()]
