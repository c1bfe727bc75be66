"""Rules for single values: ranges, choices, Fargate's sizes, prefixes, origins, URLs, media types."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from batch_image.job import FARGATE_SIZES
from filepipe.uploads import InvalidMediaType, media_type

Rule = Callable[[Any], str | None]
"""A rule: None when the value is accepted, else what is allowed."""
FARGATE_MEMORY_MIB = FARGATE_SIZES
"""Fargate's task sizes: vCPUs -> the memories it accepts, in MiB (Batch refuses any other pair
with ``ClientException: Fargate resource requirements ... not valid``); the job contract's table,
which the local Batch holds jobs to as well."""
LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)
LOG_RETENTION_DAYS += (1827, 2192, 2557, 2922, 3288, 3653)
"""The retentions CloudWatch Logs accepts (``PutRetentionPolicy``), in days."""
STATES_TIMEOUT_MAX = 99_999_999
"""The largest ``TimeoutSeconds`` a Step Functions task accepts."""
PREFIX_MAX_BYTES = 256
"""Room for the key: an object's key is its prefix and the upload's key, 1,024 bytes at most."""
PREFIX_FORBIDDEN = "{}'\\*?$"
"""States.Format syntax (the listing machines format prefixes), and IAM's wildcards and policy
variables (the grants name ``<prefix>*``: a ``*`` or ``?`` would widen them)."""
_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


class InvalidSetting(ValueError):
    """A setting AWS would refuse: the key, the value, and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"context {key}={value!r} is not accepted: {allowed}")
        self.key, self.value, self.allowed = key, value, allowed


def coerce(key: str, raw: Any, default: Any) -> Any:
    """A context value (a string from ``-c key=value``, or JSON from ``cdk.json``) in the type of
    its setting's default; a list is comma-separated."""
    if isinstance(default, bool):
        if isinstance(raw, bool) or str(raw).lower() in ("true", "1", "yes", "false", "0", "no"):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
        raise InvalidSetting(key, raw, "true or false")
    if isinstance(default, int | float):
        kind = int if isinstance(default, int) else float
        try:
            return kind(raw)
        except ValueError:
            raise InvalidSetting(key, raw, "an integer" if kind is int else "a number") from None
    if isinstance(default, tuple):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    return str(raw)


def check(rules: Mapping[str, Rule], values: Mapping[str, Any]) -> None:
    """Each value against its key's rule; a value of None is a setting left unset."""
    for key, value in values.items():
        problem = rules[key](value) if value is not None else None
        if problem is not None:
            raise InvalidSetting(key, value, problem)


def between(low: int, high: int | None = None, what: str = "") -> Rule:
    allowed = f"an integer from {low}" + (f" to {high}" if high is not None else " up") + (f" ({what})" if what else "")
    return lambda v: None if low <= v and (high is None or v <= high) else allowed


def one_of(*choices: Any, what: str = "") -> Rule:
    allowed = "one of " + ", ".join(plain(c) for c in choices) + (f" ({what})" if what else "")
    return lambda v: None if v in choices else allowed


def each(rule: Rule, *, at_least_one: bool = False) -> Rule:
    def check_each(values: tuple[Any, ...]) -> str | None:
        if at_least_one and not values:
            return "at least one value (comma-separated)"
        return next((f"{value!r}: {p}" for value in values if (p := rule(value)) is not None), None)

    return check_each


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def fargate_vcpus(value: float) -> str | None:
    return None if value in FARGATE_MEMORY_MIB else one_of(*FARGATE_MEMORY_MIB, what="Fargate's vCPU sizes")(value)


def fargate_memories(vcpus: float) -> str:
    """The memories Fargate gives ``vcpus`` vCPUs, as a person reads them."""
    sizes = FARGATE_MEMORY_MIB[vcpus]
    steps = {b - a for a, b in itertools.pairwise(sizes)}
    if len(sizes) <= 3 or len(steps) != 1:
        return ", ".join(map(str, sizes)) + " MiB"
    return f"{sizes[0]} to {sizes[-1]} MiB in steps of {steps.pop()}"


def fargate_memory_problem(vcpus: float, memory: int) -> str | None:
    """Refused, never rounded: the job would silently get more (or less) memory than was asked."""
    valid = FARGATE_MEMORY_MIB[vcpus]
    if memory in valid:
        return None
    nearest = min(valid, key=lambda size: (abs(size - memory), size))
    return f"Fargate gives {plain(vcpus)} vCPU {fargate_memories(vcpus)} (nearest: {nearest})"


def prefix(value: str) -> str | None:
    """A key prefix the layout, the grants and the listing machines can all use."""
    if (
        not value.endswith("/")
        or value.startswith("/")
        or "//" in value
        or len(value.encode("utf-8")) > PREFIX_MAX_BYTES
        or any(c in PREFIX_FORBIDDEN or not c.isprintable() for c in value)
    ):
        return (
            f"a key prefix ending in '/', not starting with one, without '//', at most {PREFIX_MAX_BYTES} bytes, "
            "without control characters, IAM wildcards or policy variables (*, ?, $) "
            "or States.Format syntax ({, }, ', \\)"
        )
    return None


def origin(value: str) -> str | None:
    """An origin as a browser sends it (S3 compares the Origin header to it): no path, no slash."""
    if value == "*" or _ORIGIN.fullmatch(value):
        return None
    return "an origin, scheme://host[:port] with no path or trailing slash (https://*.example.com and * work too)"


def https_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname and not parts.query and not parts.fragment:
        return None
    return "an https:// URL without query or fragment (the issuer as its tokens' iss claim names it)"


def audience(value: str) -> str | None:
    return None if value and not any(c.isspace() for c in value) else "a non-empty audience without spaces"


def content_type(value: str) -> str | None:
    """A media type as the grants compare them: lower case, no parameters; ``type/*`` for a whole type."""
    essence = value[:-1] + "x" if value.endswith("/*") else value
    try:
        if media_type(essence) == essence:
            return None
    except InvalidMediaType:
        pass
    return "a media type in lower case without parameters, such as text/csv or image/*"


def stack_name_problem(name: str, longest_suffix: str) -> str | None:
    """CloudFormation's stack names, short enough for the state machines named after the stack."""
    most = 80 - len(longest_suffix)
    if _STACK_NAME.fullmatch(name) and len(name) <= most:
        return None
    return (
        f"a stack name: a letter, then letters, digits and hyphens, at most {most} characters "
        f"(state machine names, such as <stack>{longest_suffix}, hold 80)"
    )


def plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
