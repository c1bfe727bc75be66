"""The outside checkers: cdk-nag, cfn-lint, the npm ASL validator, the CDK CLI, hadolint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

import state_machine
from tests.conftest import tool
from tests.infra.conftest import Synthesized
from tests.infra.test_workflow import fake_values

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
NPX = shutil.which("npx")


def test_cdk_nag_runs_and_would_fail_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The session fixture synthesized with AwsSolutions and raised nothing; this shows the pack
    is live in that same set-up: one unencrypted queue makes synthesis fail."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Control")
    sqs.Queue(stack, "Plain")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed.*AwsSolutions-SQS4"):
        app.synth()


def test_every_acknowledgement_is_narrow_and_explained(synth: Synthesized) -> None:
    acknowledgements = []
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                acknowledgements += [
                    (construct, rule, reason)
                    for rule, reason in entry.data.items()
                    if rule.startswith("AwsSolutions::")
                ]
    assert acknowledgements
    for construct, rule, reason in acknowledgements:
        assert construct is not synth.stack, f"{rule} acknowledged for the whole stack"
        single_finding_rules = (
            "AwsSolutions::AwsSolutions-APIG4",
            "AwsSolutions::AwsSolutions-COG2",
            "AwsSolutions::AwsSolutions-COG8",
            "AwsSolutions::AwsSolutions-SF1",  # one machine's level: executionLogs=errors (the default)
        )
        assert "[" in rule or rule in single_finding_rules, f"{rule} acknowledges a whole rule, not one finding"
        assert len(reason) > 40, f"{rule} needs a reason a reviewer accepts"
    rules = {rule.split("[")[0] for _, rule, _ in acknowledgements}
    assert rules == {
        "AwsSolutions::AwsSolutions-IAM5",
        "AwsSolutions::AwsSolutions-IAM4",
        "AwsSolutions::AwsSolutions-APIG4",
        "AwsSolutions::AwsSolutions-COG2",
        "AwsSolutions::AwsSolutions-COG8",
        "AwsSolutions::AwsSolutions-SF1",
    }
    below_all = sorted(c.node.path for c, rule, _ in acknowledgements if rule == "AwsSolutions::AwsSolutions-SF1")
    assert below_all == ["Filepipe/Workflow/ExpressStateMachine", "Filepipe/Workflow/StateMachine"], (
        "only the per-file machines log less than ALL"
    )


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    result = subprocess.run(
        [tool("cfn-lint"), "--format", "json", str(synth.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, json.dumps(errors, indent=1)


@pytest.fixture(scope="module")
def node_tools() -> str:
    if NPX is None or not (ROOT / "node_modules" / ".bin" / "asl-validator").exists():
        pytest.fail("the Node tools are missing: run `make setup` (npm ci)")
    return NPX


def asl_validator(npx: str, definition: dict[str, object], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    command = [npx, "--no-install", "asl-validator", "--json-path", str(path)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)


def test_rendered_definition_passes_the_asl_validator(synth: Synthesized, node_tools: str, tmp_path: Path) -> None:
    machine = synth.machine()
    rendered = state_machine.render(fake_values(machine["Properties"]["DefinitionSubstitutions"]))
    result = asl_validator(node_tools, rendered, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_express_definition_passes_the_asl_validator(synth: Synthesized, node_tools: str, tmp_path: Path) -> None:
    substitutions = synth.machine("EXPRESS")["Properties"]["DefinitionSubstitutions"]
    rendered = state_machine.render(fake_values(substitutions), state_machine.express_template())
    result = asl_validator(node_tools, rendered, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("construct", ["Backfill", "Reprocess"])
def test_listing_definitions_pass_the_asl_validator(
    synth: Synthesized, node_tools: str, tmp_path: Path, construct: str
) -> None:
    (machine,) = [
        m
        for k, m in synth.resources("AWS::StepFunctions::StateMachine").items()
        if k.startswith(f"{construct}StateMachine")
    ]
    template = state_machine.backfill_template() if construct == "Backfill" else state_machine.reprocess_template()
    rendered = state_machine.render(fake_values(machine["Properties"]["DefinitionSubstitutions"]), template)
    result = asl_validator(node_tools, rendered, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_definition(node_tools: str, tmp_path: Path) -> None:
    """Control: the validator is really checking (a Next to a missing state fails)."""
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    assert asl_validator(node_tools, broken, tmp_path).returncode != 0


def test_cdk_cli_synthesizes_offline_without_credentials(node_tools: str, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")
    }
    env |= {
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [node_tools, "--no-install", "cdk", "synth", "--no-notices", "--quiet", "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    template = json.loads((out / "Filepipe.template.json").read_text(encoding="utf-8"))
    assert any(r["Type"] == "AWS::StepFunctions::StateMachine" for r in template["Resources"].values())


def test_the_vendored_aws4fetch_is_the_pinned_npm_release(node_tools: str) -> None:
    """The upload page serves a copy (the Lambda image has no node_modules); it must not drift."""
    vendored = ROOT / "upload_api" / "static" / "vendor" / "aws4fetch.esm.mjs"
    released = ROOT / "node_modules" / "aws4fetch" / "dist" / "aws4fetch.esm.mjs"
    assert vendored.read_bytes() == released.read_bytes()


def test_synth_refuses_a_declared_csv_schema_it_cannot_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schemas file deploys with the code, which reads it at run time: a broken one must stop
    ``cdk synth``, not the first file it would have applied to."""
    from app import build_app
    from filepipe.transforms import csv_schemas

    broken = tmp_path / "csv_schemas.toml"
    broken.write_text('[[schema]]\npattern = "imports/*.csv"\ndelimiter = ";;"\n', encoding="utf-8")
    monkeypatch.setattr(csv_schemas, "SCHEMAS", broken)
    with pytest.raises(csv_schemas.SchemaError, match="delimiter"):
        build_app(cdk.App(outdir=str(tmp_path / "out")))
