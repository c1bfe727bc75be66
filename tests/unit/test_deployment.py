"""Deploy-time settings (filepipe/deployment.py): parsed from CDK context, validated before anything is built."""

from __future__ import annotations

from typing import Any

import pytest

from filepipe.deployment import Deployment


def parse(**context: Any) -> Deployment:
    return Deployment.from_context(context.get)


def test_defaults() -> None:
    config = parse()
    assert config.large_file_threshold_bytes == 128 * 1024 * 1024
    assert config.upload_auth == "cognito", "the page signs in to the stack's own user pool"


def test_context_strings_are_coerced() -> None:
    config = parse(
        largeFileThresholdBytes="1024",
        batchSpot="true",
        batchVcpus="0.5",
        corsAllowedOrigins="https://a.example, https://b.example",
        uploadAuth="jwt",
        uploadJwtIssuer="https://issuer.example",
        uploadJwtAudience="filepipe",
        destroyOnRemoval=True,
    )
    assert config.large_file_threshold_bytes == 1024
    assert config.batch_spot is True and config.batch_vcpus == 0.5
    assert config.cors_allowed_origins == ("https://a.example", "https://b.example")
    assert config.upload_jwt_audience == ("filepipe",)
    assert config.removal_policy_destroy is True


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"largeFileThresholdBytes": "lots"}, "largeFileThresholdBytes"),
        ({"batchSpot": "maybe"}, "batchSpot"),
        ({"transformTimeoutSeconds": 901}, "between 1 and 900"),
        ({"uploadAuth": "basic"}, "iam' or 'jwt"),
        ({"uploadAuth": "jwt"}, "uploadJwtIssuer"),
        ({"failedPrefix": "originals/"}, "distinct"),
        ({"outputsPrefix": "out{1}/"}, "States.Format"),
        ({"manifestsPrefix": "it's/"}, "States.Format"),
    ],
)
def test_bad_values_fail_with_the_key_named(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(**context)


def test_the_image_sources_digest_follows_every_source_file(tmp_path: Any) -> None:
    from batch_image.sources import SOURCES, sources_digest

    for name in SOURCES:
        path = tmp_path / name
        if name == "Dockerfile":
            path.write_text("FROM x\n")
        else:
            path.mkdir()
            (path / "a.py").write_text("a = 1\n")
    before = sources_digest(tmp_path)
    (tmp_path / "filepipe" / "__pycache__").mkdir()
    (tmp_path / "filepipe" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"cache")
    assert sources_digest(tmp_path) == before, "caches are not sources"
    (tmp_path / "filepipe" / "a.py").write_text("a = 2\n")
    assert sources_digest(tmp_path) != before
