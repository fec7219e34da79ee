"""ECR image URIs of the built-in algorithms -> our algorithm names and local image tags.

See docs/sagemaker-facts.md#image-uris: the SDK's `image_uris.retrieve("pca" | "kmeans", region)`
gives `{account}.dkr.ecr.{region}.{domain}/{repo}:1`; old code used `:latest`. pca.json and kmeans.json
hold the same account map, so one table serves both. Any other image is bring-your-own.
"""

from __future__ import annotations

import os
import re
from typing import Final

ALGORITHMS: Final = ("pca", "kmeans")

# region -> account of the built-in algorithm images (SDK image_uri_config/{pca,kmeans}.json).
REGION_ACCOUNTS: Final[dict[str, str]] = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "351501993468",
    "ap-northeast-2": "835164637446",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "712309505854",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "664544806723",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "438346466558",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-iso-east-1": "490574956308",
    "us-isob-east-1": "765400339828",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
}

# The SDK's ALTERNATE_DOMAINS; every other region uses amazonaws.com.
_REGION_DOMAINS: Final[dict[str, str]] = {
    "cn-north-1": "amazonaws.com.cn",
    "cn-northwest-1": "amazonaws.com.cn",
    "us-iso-east-1": "c2s.ic.gov",
    "us-isob-east-1": "sc2s.sgov.gov",
    "us-isof-east-1": "csp.hci.ic.gov",
    "us-isof-south-1": "csp.hci.ic.gov",
}

# The recognizer of the URI forms in docs/sagemaker-facts.md#image-uris.
_ECR_URI = re.compile(
    r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\."
    r"(amazonaws\.com(?:\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov|csp\.hci\.ic\.gov)"
    r"/(pca|kmeans):(1|latest)"
)

_LOCAL_IMAGE = re.compile(r"sagemaker-emulator/(pca|kmeans)(?::[\w.-]+)?")


def domain_for(region: str) -> str:
    return _REGION_DOMAINS.get(region, "amazonaws.com")


def image_uri(algorithm: str, region: str, tag: str = "1") -> str:
    """The URI the SDK's image_uris.retrieve gives (used by tests and benchmarks)."""
    account = REGION_ACCOUNTS[region]
    return f"{account}.dkr.ecr.{region}.{domain_for(region)}/{algorithm}:{tag}"


def algorithm_for_image(image: str) -> str | None:
    """'pca' / 'kmeans' for a built-in image URI of any region (or our local tag), else None.

    The account must be the one that region publishes from and the domain the region's, as in the
    SDK; anything else is treated as bring-your-own.
    """
    match = _ECR_URI.fullmatch(image)
    if match is not None:
        account, region, domain, repo, _tag = match.groups()
        if REGION_ACCOUNTS.get(region) == account and domain_for(region) == domain:
            return repo
        return None
    local = _LOCAL_IMAGE.fullmatch(image)
    return local.group(1) if local is not None else None


IMAGE_TAG_ENV = "SAGEMAKER_EMULATOR_IMAGE_TAG"
"""The tag of the local algorithm images to run (default `1`; containers/build.sh reads it too):
checkouts that share one engine, such as two test sessions, each run the images of their own
sources."""


def local_image(algorithm: str) -> str:
    """The local Docker tag the built image of an algorithm carries."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"not a built-in algorithm: {algorithm!r}")
    tag = os.environ.get(IMAGE_TAG_ENV) or "1"
    return f"sagemaker-emulator/{algorithm}:{tag}"
