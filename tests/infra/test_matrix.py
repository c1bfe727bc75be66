"""The deploy matrix: each documented combination of settings that changes resources synthesizes
(cdk-nag's AwsSolutions pack raises on any unacknowledged finding), passes cfn-lint for its region
and the ASL validator, keeps the stateful resources' logical IDs, and spells no partition, region
or DNS suffix of its own.

All combinations synthesize once per session, in one process (jsii starts once); cfn-lint runs
once per region and the ASL validator once, over every template and definition.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import state_machine
from app import build_app
from filepipe.partitions import offers, partition_of
from tests.conftest import tool
from tests.infra.test_checks import NPX, ROOT
from tests.infra.test_workflow import fake_values

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
PUBLIC_SUBNETS = 10
"""The stubbed VPC's public subnets are numbered from here (subnet-0000000000000000a, ...b)."""
VPC = "vpc-0123456789abcdef0"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0b0c6bd0-4a25-4d25-9f5e-9b3a4e0d5f11"
EXISTING = {"stagingBucketName": "team-uploads", "archiveBucketName": "team-archive"}
STATEFUL = {
    "staging bucket": "BucketsStaging4C868D13",
    "archive bucket": "BucketsArchiveCE3432CC",
    "intake queue": "IntakeQueue6FB53B87",
    "dead-letter queue": "IntakeDeadLetterQueueA5C12DB5",
    "user pool": "UploadApiUsersUserPoolE600E335",
}
"""What a setting must never rename: CloudFormation would replace (and so empty) it."""


def vpc_lookup(account: str, region: str, vpc: str) -> dict[str, Any]:
    """The context value ``Vpc.from_lookup`` reads, under the key CDK's vpc-provider asks for (the
    CLI would fill it with credentials); two public and two private subnets in two zones."""
    key = f"vpc-provider:account={account}:filter.vpc-id={vpc}:region={region}:returnAsymmetricSubnets=true"

    def subnets(kind: str, first: int) -> dict[str, Any]:
        return {
            "name": kind,
            "type": kind,
            "subnets": [
                {
                    "subnetId": f"subnet-{first + n:017x}",
                    "cidr": f"10.0.{first + n}.0/24",
                    "availabilityZone": f"{region}{zone}",
                    "routeTableId": f"rtb-{first + n:017x}",
                }
                for n, zone in enumerate("ab")
            ],
        }

    value = {
        "vpcId": vpc,
        "vpcCidrBlock": "10.0.0.0/16",
        "ownerAccountId": account,
        "availabilityZones": [],
        "subnetGroups": [subnets("Public", PUBLIC_SUBNETS), subnets("Private", 16)],
    }
    return {key: value}


@dataclass(frozen=True)
class Combination:
    context: dict[str, Any] = field(default_factory=dict)
    region: str | None = None
    """None: environment-agnostic, as ``cdk deploy`` makes it without ``vpcId``."""
    account: str | None = None


COMBINATIONS = {
    "default": Combination(),
    "express-small-files": Combination({"smallFileWorkflow": "express"}),
    "existing-buckets": Combination(EXISTING),
    "existing-buckets-kms": Combination(EXISTING | {"kmsKeyArn": KEY}),
    "sns-intake": Combination({"intakeTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:uploads-fanout"}),
    "upload-iam": Combination({"uploadAuth": "iam"}),
    "upload-jwt": Combination(
        {"uploadAuth": "jwt", "uploadJwtIssuer": "https://login.example.com/", "uploadJwtAudience": "filepipe"}
    ),
    "spot": Combination({"batchSpot": "true", "batchVcpus": "4", "batchMemoryMb": "8192"}),
    "existing-vpc": Combination(
        {"vpcId": VPC, **vpc_lookup(ACCOUNT, "us-east-1", VPC)}, region="us-east-1", account=ACCOUNT
    ),
    "eu-west-2": Combination(region="eu-west-2"),
    "cn-north-1": Combination(
        {
            "uploadAuth": "iam",
            "intakeTopicArn": f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:uploads-fanout",
            "alarmTopicArn": f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:alarms",
        },
        region="cn-north-1",
    ),
}


@dataclass
class Synthesis:
    combination: Combination
    template: dict[str, Any]
    template_path: Path
    outdir: Path
    missing_context: list[Any]

    def resources(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == type_name}

    def definitions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every state machine's definition, rendered with plain values for its placeholders."""
        for logical_id, machine in self.resources("AWS::StepFunctions::StateMachine").items():
            props = machine["Properties"]
            if "DefinitionS3Location" in props:
                text = (self.outdir / f"asset.{props['DefinitionS3Location']['Key']}").read_text(encoding="utf-8")
            else:
                text = props["DefinitionString"]
            yield logical_id, state_machine.render(fake_values(props["DefinitionSubstitutions"]), text)


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesis]:
    synthesized = {}
    for name, combination in COMBINATIONS.items():
        outdir = tmp_path_factory.mktemp(f"matrix-{name}")
        env = cdk.Environment(account=combination.account, region=combination.region) if combination.region else None
        app, stack = build_app(cdk.App(outdir=str(outdir), context=combination.context), env=env)
        assembly = app.synth()
        artifact = assembly.get_stack_by_name(stack.stack_name)
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
        synthesized[name] = Synthesis(
            combination, artifact.template, outdir / artifact.template_file, outdir, manifest.get("missing", [])
        )
    return synthesized


def test_every_combination_synthesizes_past_cdk_nag(matrix: dict[str, Synthesis]) -> None:
    """``build_app`` adds AwsSolutionsChecks, whose findings make ``synth`` raise: each template here
    passed it. No lookup was left unanswered (a wrong stub key would leave CDK's dummy VPC)."""
    assert set(matrix) == set(COMBINATIONS)
    for name, synthesis in matrix.items():
        assert synthesis.missing_context == [], name
        assert synthesis.resources("AWS::StepFunctions::StateMachine"), name


def cfn_lint(region: str, paths: list[Path]) -> list[dict[str, Any]]:
    command = [tool("cfn-lint"), "--format", "json", "--regions", region, "--", *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return list(json.loads(result.stdout or "[]"))


def test_cfn_lint_finds_no_errors_in_any_combination(matrix: dict[str, Synthesis]) -> None:
    """Each template against its own region's resource specifications (cfn-lint knows, for one,
    that aws-cn has no Cognito user pools), in as many runs at once as there are cores."""
    workers = os.cpu_count() or 1
    jobs: list[tuple[str, list[Path]]] = []
    by_region: dict[str, list[Path]] = {}
    for synthesis in matrix.values():
        by_region.setdefault(synthesis.combination.region or "us-east-1", []).append(synthesis.template_path)
    for region, paths in by_region.items():
        jobs += [(region, paths[i::workers]) for i in range(min(workers, len(paths)))]
    with ThreadPoolExecutor(workers) as pool:
        findings = [f for found in pool.map(lambda job: cfn_lint(*job), jobs) for f in found]
    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, json.dumps(errors, indent=1)[:6000]


def test_every_definition_of_every_combination_passes_the_asl_validator(
    matrix: dict[str, Synthesis], tmp_path: Path
) -> None:
    if NPX is None or not (ROOT / "node_modules" / ".bin" / "asl-validator").exists():
        pytest.fail("the Node tools are missing: run `make setup` (npm ci)")
    command = [NPX, "--no-install", "asl-validator"]
    count = 0
    for name, synthesis in matrix.items():
        for logical_id, definition in synthesis.definitions():
            path = tmp_path / f"{name}-{logical_id}.json"
            path.write_text(json.dumps(definition), encoding="utf-8")
            command += ["--json-path", str(path)]
            count += 1
    assert count == 4 * len(matrix), "Standard, Express, backfill and reprocess machines in each"
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_no_setting_renames_a_stateful_resource(matrix: dict[str, Synthesis]) -> None:
    for name, synthesis in matrix.items():
        resources = synthesis.template["Resources"]
        context, region = synthesis.combination.context, synthesis.combination.region
        owned = {
            what: logical_id
            for what, logical_id in STATEFUL.items()
            if not ("bucket" in what and "stagingBucketName" in context)
            and not (what == "user pool" and region and not offers("cognito-idp", partition_of(region).name))
        }
        for what, logical_id in owned.items():
            assert logical_id in resources, f"{name}: the {what} is no longer {logical_id}"
        (table,) = [k for k, r in resources.items() if r["Type"] == "AWS::DynamoDB::GlobalTable"]
        assert table.startswith("ClaimsTable"), name


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


SERVICE_PRINCIPAL = re.compile(r"[a-z0-9-]+\.amazonaws\.com")
"""``lambda.amazonaws.com``: IAM's service principals, the same names in every partition."""


@pytest.mark.parametrize("name", ["default", "eu-west-2", "cn-north-1"])
def test_no_partition_region_or_dns_suffix_is_spelled_out(matrix: dict[str, Synthesis], name: str) -> None:
    """ARNs take ``AWS::Partition`` and hosts ``AWS::URLSuffix``: a literal ``arn:aws:`` allows
    nothing in aws-cn or aws-us-gov, and ``amazonaws.com`` is no host there."""
    synthesis = matrix[name]
    given = tuple(v for v in synthesis.combination.context.values() if isinstance(v, str) and v.startswith("arn:"))
    found = [s for s in strings(synthesis.template) if not (given and s.startswith(given))]
    assert not [s for s in found if "arn:aws:" in s or "arn:aws-" in s], name
    assert not [s for s in found if "amazonaws.com" in s and not SERVICE_PRINCIPAL.fullmatch(s)], name
    region = synthesis.combination.region
    spelled = {m for s in found for m in re.findall(r"\b(?:us|eu|cn|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", s)}
    assert spelled <= {region}, f"{name}: a region spelled out (the stack's is {region or 'AWS::Region'})"
    assert '{"Ref": "AWS::Partition"}' in json.dumps(synthesis.template), "the grants' ARNs name the partition"


def test_the_existing_vpc_runs_batch_in_its_public_subnets(matrix: dict[str, Synthesis]) -> None:
    synthesis = matrix["existing-vpc"]
    assert not synthesis.resources("AWS::EC2::VPC"), "no VPC of the stack's own"
    (environment,) = synthesis.resources("AWS::Batch::ComputeEnvironment").values()
    assert sorted(environment["Properties"]["ComputeResources"]["Subnets"]) == [
        f"subnet-{PUBLIC_SUBNETS + n:017x}" for n in range(2)
    ]


def test_spot_and_other_regions_change_what_they_say(matrix: dict[str, Synthesis]) -> None:
    (spot,) = matrix["spot"].resources("AWS::Batch::ComputeEnvironment").values()
    assert spot["Properties"]["ComputeResources"]["Type"] == "FARGATE_SPOT"
    china = matrix["cn-north-1"]
    (cn_policy,) = china.resources("AWS::SNS::TopicPolicy").values()
    assert cn_policy["Properties"]["Topics"] == [COMBINATIONS["cn-north-1"].context["intakeTopicArn"]]
    assert not china.resources("AWS::Cognito::UserPool"), "aws-cn offers no Cognito user pools"
    assert "UserPoolId" not in china.template["Outputs"]


def test_the_app_refuses_a_setting_in_one_line(tmp_path: Path) -> None:
    """What ``cdk synth -c batchVcpus=4`` prints: the key, the value and what is allowed, no traceback."""
    env = {"CDK_CONTEXT_JSON": json.dumps({"batchVcpus": "4"}), "CDK_OUTDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    env |= {k: v for k, v in os.environ.items() if k.startswith("JSII_")}
    result = subprocess.run([sys.executable, "app.py"], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "filepipe: context batchMemoryMb=4096 is not accepted: "
        "Fargate gives 4 vCPU 8192 to 30720 MiB in steps of 1024 (nearest: 8192)"
    )
