"""The worker's job contract, shared by the CDK job definition and the local cloud's Batch.

Kept free of CDK and AWS imports so both sides read the very same values.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMAND = ("python", "-m", "batch_image.worker")
"""What the job definition runs (the image's CMD too)."""

EXIT_OK = 0
EXIT_PERMANENT = 65
"""EX_DATAERR: the input is wrong; never retried."""
EXIT_TRANSIENT = 75
"""EX_TEMPFAIL: worth another attempt."""

ATTEMPTS = 3
"""Attempts per job, the first included."""


@dataclass(frozen=True)
class RetryRule:
    """One ``evaluateOnExit`` entry: the first rule that matches decides."""

    action: str
    on_exit_code: str | None = None
    on_status_reason: str | None = None


RETRY_RULES = (
    RetryRule("RETRY", on_exit_code=str(EXIT_TRANSIENT)),
    RetryRule("RETRY", on_status_reason="CannotPullContainerError*"),
    RetryRule("RETRY", on_status_reason="Host EC2*"),
    RetryRule("RETRY", on_status_reason="ResourceInitializationError*"),
    RetryRule("EXIT", on_exit_code="*"),
)


def should_retry(exit_code: int | None, status_reason: str = "") -> bool:
    """Apply :data:`RETRY_RULES` as AWS Batch does (glob ``*`` only at the end)."""
    for rule in RETRY_RULES:
        if rule.on_exit_code is not None and exit_code is not None and _matches(rule.on_exit_code, str(exit_code)):
            return rule.action == "RETRY"
        if rule.on_status_reason is not None and _matches(rule.on_status_reason, status_reason):
            return rule.action == "RETRY"
    return False


def _matches(pattern: str, value: str) -> bool:
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern
