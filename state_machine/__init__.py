"""The workflow: one ASL file, its placeholders, and a renderer for the local cloud.

CDK fills the placeholders with ``definition_substitutions`` (``stack/workflow.py``); the local
cloud fills the same ones with :func:`render`. Only ARNs, names and numbers are substituted:
the logic is the file's, everywhere.

The Express tier's machine is derived from the same file by :func:`express_template`: the same
states for a small file, with the large-file branch, a transform that would not fit and a
failure move that could not finish handed over to the Standard machine, and every task's
timeouts and retries cut to fit Express's five minutes (:func:`worst_case_seconds` proves it).
Express executions cannot be redriven, so its ``Failed`` is a plain Fail state: the Standard
machine's (a task that a Redrive turns into processing again, ``docs/retries.md``) is not kept.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from filepipe.claims import EXPRESS_LIMIT_SECONDS, EXPRESS_TRANSFORM_SECONDS

DEFINITION_PATH = Path(__file__).with_name("definition.asl.json")
BACKFILL_PATH = Path(__file__).with_name("backfill.asl.json")
"""The backfill (and sweep) machine: a Distributed Map over a staging listing (``filepipe.backfill``)."""
REPROCESS_PATH = Path(__file__).with_name("reprocess.asl.json")
"""The reprocess machine: a Distributed Map over the archive's outputs (``filepipe.reprocess``)."""
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
_BARE_PLACEHOLDER = re.compile(r'(?<=")\s*:\s*\$\{([A-Za-z][A-Za-z0-9]*)\}')
"""A placeholder standing for a whole JSON value (a number), not inside a string."""
_BARE_MARK = "@@bare:{}@@"

EXPRESS_TASK_LIMITS = {
    "TransformOnLambda": (EXPRESS_TRANSFORM_SECONDS + 15, 1),
    "Archive": (30, 1),
    "MoveToFailed": (30, 1),
    "ContinueOnStandard": (5, 2),
}
"""Per task in the Express machine: TimeoutSeconds and retry attempts. The transform stops
itself after ``EXPRESS_TRANSFORM_SECONDS`` (``WouldNotFit``); its timeout is the backstop."""
EXPRESS_RETRY_MAX_DELAY_SECONDS = 4


def template() -> str:
    """The definition's text, placeholders and all."""
    return DEFINITION_PATH.read_text(encoding="utf-8")


def backfill_template() -> str:
    """The backfill machine's definition, placeholders and all."""
    return BACKFILL_PATH.read_text(encoding="utf-8")


def reprocess_template() -> str:
    """The reprocess machine's definition, placeholders and all."""
    return REPROCESS_PATH.read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    """The ``${Name}`` placeholders the definition uses."""
    return set(_PLACEHOLDER.findall(template() if text is None else text))


def render(values: dict[str, str | int], text: str | None = None) -> dict[str, Any]:
    """Fill every placeholder (exactly those, no more, no fewer) and parse the result."""
    text = template() if text is None else text
    wanted = placeholders(text)
    missing, extra = wanted - values.keys(), values.keys() - wanted
    if missing or extra:
        raise ValueError(f"placeholders missing: {sorted(missing)}, unknown: {sorted(extra)}")
    rendered = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    return dict(json.loads(rendered))


def express_template() -> str:
    """The Express machine's definition, placeholders kept (``${StandardStateMachineArn}`` added)."""
    text = template()
    bare = set(_BARE_PLACEHOLDER.findall(text))
    parsed = json.loads(_BARE_PLACEHOLDER.sub(lambda m: f': "{_BARE_MARK.format(m.group(1))}"', text))
    derived = json.dumps(express_definition(parsed), indent=2, ensure_ascii=False)
    for name in bare:
        derived = derived.replace(f'"{_BARE_MARK.format(name)}"', f"${{{name}}}")
    return derived + "\n"


def express_values(standard_values: dict[str, Any], standard_machine_arn: Any) -> dict[str, Any]:
    """The Express definition's placeholders: those of the Standard one's values it still uses,
    and the Standard machine it hands files over to."""
    kept = placeholders(express_template()) - {"StandardStateMachineArn"}
    return {name: standard_values[name] for name in kept} | {"StandardStateMachineArn": standard_machine_arn}


def express_definition(standard: dict[str, Any]) -> dict[str, Any]:
    """The Standard definition, adapted for Express (no ``.sync``, five minutes at most)."""
    definition = copy.deepcopy(standard)
    definition["Comment"] = (
        "filepipe, Express tier: one small object version, transformed on Lambda and archived, or moved "
        "to the failure prefix; whatever cannot finish within five minutes continues on the Standard machine."
    )
    states = definition["States"]
    states["Route"]["Comment"] = (
        "Large files continue on the Standard machine (AWS Batch); the rest go to the transformer Lambda."
    )
    for choice in states["Route"]["Choices"]:
        if choice["Next"] == "TransformOnBatch":
            choice["Next"] = "ContinueOnStandard"
    del states["TransformOnBatch"]
    states["TransformOnLambda"]["Catch"].insert(
        0, {"ErrorEquals": ["WouldNotFit", "States.Timeout"], "ResultPath": None, "Next": "ContinueOnStandard"}
    )
    handover = {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "ContinueOnStandard"}
    states["MoveToFailed"]["Catch"] = [handover]
    # An Express execution cannot be redriven: its failure ends in a Fail state with the file's
    # error and cause, and its retry runs on the Standard machine (filepipe retry).
    del states["MoveToFailed"]["ResultSelector"]["redriveCount.$"], states["MoveRefused"], states["Redriven"]
    states["Failed"] = {
        "Type": "Fail",
        "Comment": "Express executions cannot be redriven: `filepipe retry` runs the file again on Standard.",
        "ErrorPath": "$.failed.error",
        "CausePath": "$.failed.cause",
    }
    del states["ArchiveInParts"], states["StillCopying"]  # the large file's, which continue on Standard
    # A failure's copy in parts may take more invocations than five minutes hold: Standard does it.
    for choice in states["StillCopyingToFailed"]["Choices"]:
        choice["Next"] = "ContinueOnStandard"
    states["ContinueOnStandard"] = {
        "Type": "Task",
        "Comment": "The Standard machine takes the file over under the same execution name, with the same input.",
        "Resource": "arn:${Partition}:states:::states:startExecution",
        "Parameters": {
            "StateMachineArn": "${StandardStateMachineArn}",
            "Name.$": "$$.Execution.Name",
            "Input.$": "$$.Execution.Input",
        },
        "ResultSelector": {"executionArn.$": "$.ExecutionArn"},
        "ResultPath": "$.continued",
        "Retry": [
            {
                "ErrorEquals": ["StepFunctions.StepFunctionsException", "StepFunctions.SdkClientException"],
                "IntervalSeconds": 1,
                "MaxAttempts": 2,
                "BackoffRate": 2,
            }
        ],
        "Catch": [
            {
                "ErrorEquals": ["StepFunctions.ExecutionAlreadyExistsException"],
                "ResultPath": "$.duplicate",
                "Next": "Duplicate",
            }
        ],
        "End": True,
    }
    for name, (timeout, attempts) in EXPRESS_TASK_LIMITS.items():
        state = states[name]
        state["TimeoutSeconds"] = timeout
        for retrier in state.get("Retry", []):
            retrier["MaxAttempts"] = attempts
            retrier["MaxDelaySeconds"] = EXPRESS_RETRY_MAX_DELAY_SECONDS
    return definition


def redrive_retries_the_file(definition: dict[str, Any]) -> bool:
    """Whether redriving a failed execution of ``definition`` processes its file again: its
    ``Failed`` step is the task that a Redrive sends back to ``Route`` (this file's, since issue
    24), not a Fail state, which a Redrive would rerun only to fail again."""
    states = definition.get("States", {})
    failed, redriven = states.get("Failed", {}), states.get("Redriven", {})
    return failed.get("Type") == "Task" and failed.get("Next") == "Redriven" and redriven.get("Next") == "Route"


def worst_case_seconds(definition: dict[str, Any]) -> float:
    """The longest any execution of ``definition`` can take, from its tasks' timeouts and
    retries along the slowest path (infinite if a task has no timeout or a path loops)."""
    states = definition["States"]

    def task_seconds(state: dict[str, Any]) -> float:
        if state["Type"] != "Task":
            return 0.0
        if "TimeoutSeconds" not in state:
            return float("inf")
        attempts = max((r.get("MaxAttempts", 3) for r in state.get("Retry", [])), default=0)
        waits = 0.0
        for retrier in state.get("Retry", []):
            delay, total = float(retrier.get("IntervalSeconds", 1)), 0.0
            for _ in range(retrier.get("MaxAttempts", 3)):
                total += min(delay, retrier.get("MaxDelaySeconds", float("inf")))
                delay *= retrier.get("BackoffRate", 2.0)
            waits = max(waits, total)
        return float(state["TimeoutSeconds"]) * (1 + attempts) + waits

    def longest(name: str, seen: frozenset[str]) -> float:
        if name in seen:
            return float("inf")
        state = states[name]
        following = [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        following += [n for n in (state.get("Next"), state.get("Default")) if n]
        return task_seconds(state) + max((longest(n, seen | {name}) for n in following), default=0.0)

    return longest(definition["StartAt"], frozenset())


__all__ = [
    "BACKFILL_PATH",
    "DEFINITION_PATH",
    "EXPRESS_LIMIT_SECONDS",
    "REPROCESS_PATH",
    "backfill_template",
    "express_definition",
    "express_template",
    "express_values",
    "placeholders",
    "redrive_retries_the_file",
    "render",
    "reprocess_template",
    "template",
    "worst_case_seconds",
]
