"""What the local Batch refuses in a request, before anything runs: what AWS Batch refuses (a
``ClientException``, 400), and, because a job here runs on the developer's machine, the
environment overrides a job in AWS could set but that would change how a process here loads
code or finds its credentials.

Every field is checked for its type too: a request AWS would refuse must never reach the runner,
where it would fail in a background thread and leave the job RUNNING for ever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_JOB_NAME = 128
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MAX_DESCRIBED_JOBS = 100
"""DescribeJobs takes at most 100 job IDs."""
RESERVED_PREFIX = "AWS_BATCH"
"""Batch's own variables (``AWS_BATCH_JOB_ID``...): SubmitJob refuses them in AWS too."""
OVERRIDABLE_PREFIX = "FILEPIPE_"
"""Besides the job definition's own names, the workflow's variables (``FILEPIPE_OBJECT``...)."""
SET_BY_STEP_FUNCTIONS = frozenset({"MANAGED_BY_AWS"})
"""What Step Functions adds to every job a ``submitJob.sync`` task starts (``STARTED_BY_STEP_FUNCTIONS``)."""
PROTECTED_PREFIXES = ("AWS_", "LD_", "DYLD_", "PYTHON", "GCONV_", "SSL_", "NODE_", "PERL", "RUBY", "JAVA_")
PROTECTED_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "SHELL",
        "ENV",
        "BASH_ENV",
        "IFS",
        "LOCPATH",
        "NLSPATH",
        "HOSTALIASES",
        "RESOLV_CONF",
        "LOCALDOMAIN",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "FILEPIPE_LAMBDA_PRELOAD",
    }
)
"""Never overridden, even where the job definition names them (it names ``AWS_ENDPOINT_URL``):
what changes how a process loads code (``LD_*``, ``PYTHON*``, ``GCONV_PATH``, ``PATH``, a
preload list) or where it finds credentials, endpoints, configuration files or certificates
(``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL*``,
``AWS_CA_BUNDLE``, ``HOME``, ``SSL_CERT_FILE``)."""


class ClientException(LookupError):
    """A request AWS Batch (or the local Batch) refuses: answered 400 ``ClientException``."""


def request_object(request: Any) -> Mapping[str, Any]:
    if not isinstance(request, dict):
        raise ClientException("the request body must be a JSON object")
    return request


def job_name(request: Mapping[str, Any]) -> str:
    name = request.get("jobName")
    if not isinstance(name, str) or len(name) > MAX_JOB_NAME or not _JOB_NAME.fullmatch(name):
        raise ClientException(
            "jobName must be 1 to 128 letters, numbers, hyphens and underscores, starting with a letter or number"
        )
    return name


def overrides(request: Mapping[str, Any]) -> Mapping[str, Any]:
    found = request.get("containerOverrides")
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise ClientException("containerOverrides must be an object")
    return found


def listed(value: Any, field: str) -> list[Any]:
    """An optional list field: absent is empty, anything but a list is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClientException(f"{field} must be a list")
    return value


def environment(given: Any, definition: Mapping[str, str]) -> dict[str, str]:
    """``containerOverrides.environment`` as variables, each checked: a name and a value that are
    strings a process environment can hold, not Batch's own, and one the job may set."""
    variables: dict[str, str] = {}
    for pair in listed(given, "containerOverrides.environment"):
        strings = isinstance(pair, dict) and all(isinstance(pair.get(field), str) for field in ("name", "value"))
        if not strings:
            raise ClientException("each environment override must be an object with a string name and a string value")
        name, value = pair["name"], pair["value"]
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ClientException(f"environment variable name {name!r} or its value is not valid")
        if name.upper().startswith(RESERVED_PREFIX):
            raise ClientException(f"environment variable {name!r}: names starting {RESERVED_PREFIX} are reserved")
        if not may_override(name, definition):
            raise ClientException(
                f"environment variable {name!r} may not be overridden: a job may set the job definition's own "
                f"variables and {OVERRIDABLE_PREFIX}*, never one that changes how code is loaded or where "
                "credentials, endpoints or certificates are found"
            )
        variables[name] = value
    return variables


def may_override(name: str, definition: Mapping[str, str]) -> bool:
    """The allow-list: the definition's names, ``FILEPIPE_*`` and what Step Functions sets, less
    the protected ones."""
    upper = name.upper()
    if upper in PROTECTED_NAMES or upper.startswith(PROTECTED_PREFIXES):
        return False
    return name in definition or name.startswith(OVERRIDABLE_PREFIX) or name in SET_BY_STEP_FUNCTIONS


def job_ids(request: Mapping[str, Any]) -> list[str]:
    """DescribeJobs' ``jobs``: a list of up to 100 job IDs."""
    jobs = listed(request.get("jobs"), "jobs")
    if not jobs or len(jobs) > MAX_DESCRIBED_JOBS or not all(isinstance(j, str) for j in jobs):
        raise ClientException(f"jobs must list 1 to {MAX_DESCRIBED_JOBS} job IDs")
    return jobs


def termination(request: Mapping[str, Any]) -> tuple[str, str]:
    """TerminateJob's ``jobId`` and ``reason``, both required strings."""
    job_id, reason = request.get("jobId"), request.get("reason")
    if not isinstance(job_id, str) or not isinstance(reason, str):
        raise ClientException("jobId and reason are required strings")
    return job_id, reason
