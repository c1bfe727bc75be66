"""The worker image, run for real with podman or docker against the local cloud."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from batch_image.sources import image_for
from filepipe.local import LocalCloud
from filepipe.local.containers import ContainerRunner, container_engine, image_exists

IMAGE = os.environ.get("FILEPIPE_IMAGE") or image_for()
"""The image ``make image`` built from these sources."""


@pytest.fixture(scope="session")
def engine() -> str:
    found = container_engine()
    if found is None or not image_exists(found, IMAGE):
        message = f"no container engine with {IMAGE}: `make image` builds it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def in_container(cloud: LocalCloud, engine: str) -> Iterator[ContainerRunner]:
    """Batch jobs of the local cloud run in the image for the duration of a test."""
    assert cloud.batch is not None
    previous = cloud.batch.runner
    runner = ContainerRunner(engine, IMAGE)
    cloud.batch.runner = runner
    yield runner
    cloud.batch.runner = previous
