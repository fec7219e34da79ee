"""Image URI recognition: every region's account and domain, tags :1 and :latest.

The forms: docs/sagemaker-facts.md#image-uris.
"""

from __future__ import annotations

import pytest

from emulator.runtime.images import (
    IMAGE_TAG_ENV,
    REGION_ACCOUNTS,
    algorithm_for_image,
    image_uri,
    local_image,
)


@pytest.mark.parametrize("region", sorted(REGION_ACCOUNTS))
@pytest.mark.parametrize("algorithm", ["pca", "kmeans"])
@pytest.mark.parametrize("tag", ["1", "latest"])
def test_every_region_maps_to_the_algorithm(region: str, algorithm: str, tag: str) -> None:
    assert algorithm_for_image(image_uri(algorithm, region, tag)) == algorithm


def test_uris_match_the_sdk() -> None:
    from sagemaker import image_uris

    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-iso-east-1", "us-gov-west-1"):
        for algorithm in ("pca", "kmeans"):
            sdk_uri = image_uris.retrieve(algorithm, region)
            assert sdk_uri == image_uri(algorithm, region)
            assert algorithm_for_image(sdk_uri) == algorithm


@pytest.mark.parametrize(
    "image",
    [
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:2",  # unknown tag
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",  # other algorithm
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/pca:1",  # not the region's account
        "382416733822.dkr.ecr.us-west-2.amazonaws.com/pca:1",  # account of another region
        "390948362332.dkr.ecr.cn-north-1.amazonaws.com/pca:1",  # China needs .com.cn
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1 ",
        "my-image:latest",
        "",
    ],
)
def test_other_images_are_bring_your_own(image: str) -> None:
    assert algorithm_for_image(image) is None


def test_local_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IMAGE_TAG_ENV, raising=False)
    assert local_image("pca") == "sagemaker-emulator/pca:1"
    monkeypatch.setenv(IMAGE_TAG_ENV, "src-0123abcd")
    assert local_image("pca") == "sagemaker-emulator/pca:src-0123abcd"
    assert algorithm_for_image(local_image("kmeans")) == "kmeans"
    with pytest.raises(ValueError):
        local_image("xgboost")
