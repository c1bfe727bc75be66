"""One synthesis per session: the app exactly as ``app.py`` builds it, cdk-nag included."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
# The CLI's target account and region are checked against the settings (app.py): tests name theirs.
for _target in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
    os.environ.pop(_target, None)

aws_cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Template  # noqa: E402

from app import build_app  # noqa: E402


class Synthesized:
    """The synthesized stack: its template (raw and as an assertions ``Template``) and assets."""

    def __init__(self, outdir: Path) -> None:
        app = aws_cdk.App(outdir=str(outdir))
        app, self.stack = build_app(app)
        assembly = app.synth()
        artifact = assembly.get_stack_by_name(self.stack.stack_name)
        self.raw: dict[str, Any] = artifact.template
        self.template = Template.from_json(self.raw)
        self.outdir = outdir
        self.template_path = outdir / artifact.template_file

    def resources(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == type_name}

    def one(self, type_name: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(type_name)
        assert len(found) == 1, f"expected one {type_name}, got {sorted(found)}"
        return next(iter(found.items()))

    def machine(self, kind: str = "STANDARD") -> dict[str, Any]:
        """The per-file Standard state machine, or the Express one (``kind="EXPRESS"``)."""
        (found,) = [
            m
            for k, m in self.resources("AWS::StepFunctions::StateMachine").items()
            if m["Properties"]["StateMachineType"] == kind and k.startswith("Workflow")
        ]
        return found

    def definition_text(self, machine: dict[str, Any] | None = None) -> str:
        """A state machine definition the stack deploys as an S3 asset of its ASL file (the
        per-file Standard machine's unless ``machine`` says which)."""
        machine = machine or self.machine()
        key = machine["Properties"]["DefinitionS3Location"]["Key"]
        return (self.outdir / f"asset.{key}").read_text(encoding="utf-8")

    def policy_statements(self, role_logical_prefix: str) -> list[dict[str, Any]]:
        """Every statement of the inline policies attached to the role whose ID starts so."""
        statements: list[dict[str, Any]] = []
        for policy in self.resources("AWS::IAM::Policy").values():
            roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
            if any(r.startswith(role_logical_prefix) for r in roles):
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        assert statements, f"no policy for a role starting {role_logical_prefix}"
        return statements


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk.out"))


def readable(resource: Any) -> str:
    """A policy resource as a short string: ``Archive/failed/*``, ``StateMachine``, ``*``."""
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return _short(resource["Fn::GetAtt"][0])
    if "Ref" in resource:
        return _short(resource["Ref"])
    if "Fn::Join" in resource:
        return "".join(readable(part) for part in resource["Fn::Join"][1])
    return json.dumps(resource, sort_keys=True)


def _short(logical_id: str) -> str:
    names = {"BucketsStaging4C868D13": "Staging", "BucketsArchiveCE3432CC": "Archive"}
    return names.get(logical_id, logical_id)


def actions_on(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """``{readable resource: {actions}}`` over a role's statements (all must be Allow)."""
    table: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            table.setdefault(readable(resource), set()).update(actions)
    return table
