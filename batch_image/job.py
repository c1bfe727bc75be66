"""The worker's job contract, shared by the CDK job definition and the local cloud's Batch.

Kept free of CDK and AWS imports so both sides read the very same values.
"""

from __future__ import annotations

from collections.abc import Sequence
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


FARGATE_SIZES: dict[float, Sequence[int]] = {
    0.25: (512, 1024, 2048),
    0.5: range(1024, 4096 + 1, 1024),
    1: range(2048, 8192 + 1, 1024),
    2: range(4096, 16384 + 1, 1024),
    4: range(8192, 30720 + 1, 1024),
    8: range(16384, 61440 + 1, 4096),
    16: range(32768, 122880 + 1, 8192),
}
"""The vCPU and memory (MiB) a Fargate job may ask for (Batch's ``ResourceRequirement``)."""


def fargate_size_error(vcpus: float, memory_mib: int) -> str | None:
    """Why Batch refuses a Fargate job of this size (as RegisterJobDefinition and SubmitJob do),
    or None when it is one of :data:`FARGATE_SIZES`."""
    allowed = FARGATE_SIZES.get(vcpus)
    if allowed is None:
        return f"{vcpus:g} vCPU is not a Fargate size: one of {', '.join(f'{v:g}' for v in FARGATE_SIZES)}"
    if memory_mib not in allowed:
        return (
            f"Fargate resource requirements ({vcpus:.2f} vCPU, {memory_mib} MiB) not valid: with {vcpus:g} vCPU, "
            f"memory is {_listed(allowed)} MiB"
        )
    return None


def _listed(options: Sequence[int]) -> str:
    if isinstance(options, range) and len(options) > 4:
        return f"{options.start} to {options[-1]} in steps of {options.step}"
    return ", ".join(str(o) for o in options)
