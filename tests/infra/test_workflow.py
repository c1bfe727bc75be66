"""The deployed definition is the ASL file, its placeholders all filled, its error handling right."""

from __future__ import annotations

from typing import Any

import pytest

import state_machine
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.infra

LAMBDA_TRANSIENT = {
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Runtime.ExitError",
}


def fake_values(substitutions: dict[str, Any]) -> dict[str, str | int]:
    """Turn the template's substitutions (some are CloudFormation intrinsics) into plain values."""
    arns = {
        "Partition": "aws",
        "TransformFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:transform",
        "ArchiveFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:archive",
        "FailureFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:failure",
        "JobQueueArn": "arn:aws:batch:us-east-1:123456789012:job-queue/filepipe",
        "JobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/filepipe:1",
        "StandardStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:filepipe",
        "TriggerFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:trigger",
        "StagingBucket": "filepipe-staging",
        "ArchiveBucket": "filepipe-archive",
        "ReprocessFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:reprocess",
    }
    return {k: v if isinstance(v, str) else arns[k] for k, v in substitutions.items()}


@pytest.fixture(scope="module")
def substitutions(synth: Synthesized) -> dict[str, Any]:
    machine = synth.machine()
    return dict(machine["Properties"]["DefinitionSubstitutions"])


@pytest.fixture(scope="module")
def definition(substitutions: dict[str, Any]) -> dict[str, Any]:
    return state_machine.render(fake_values(substitutions))


def test_the_stack_deploys_the_asl_file_itself(synth: Synthesized) -> None:
    assert synth.definition_text() == state_machine.template()


def test_cdk_fills_exactly_the_definitions_placeholders(substitutions: dict[str, Any]) -> None:
    assert set(substitutions) == state_machine.placeholders()
    assert substitutions["LargeFileThresholdBytes"] == str(128 * 1024 * 1024)
    assert substitutions["TransformFunctionArn"] == {"Fn::GetAtt": ["ComputeTransformFunction46B7577B", "Arn"]}
    assert substitutions["JobQueueArn"] == {"Fn::GetAtt": ["ComputeJobQueueB489A4FF", "JobQueueArn"]}


def test_route_sends_large_files_to_batch_and_the_rest_to_lambda(definition: dict[str, Any]) -> None:
    route = definition["States"][definition["StartAt"]]
    assert route["Type"] == "Choice"
    (rule,) = route["Choices"]
    assert rule == {"Variable": "$.size", "NumericGreaterThan": 128 * 1024 * 1024, "Next": "TransformOnBatch"}
    assert route["Default"] == "TransformOnLambda"


def test_both_task_integrations(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["TransformOnLambda"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert states["TransformOnLambda"]["Parameters"]["FunctionName"].endswith(":function:transform")
    batch = states["TransformOnBatch"]
    assert batch["Resource"] == "arn:aws:states:::batch:submitJob.sync"
    assert batch["Parameters"]["JobQueue"].endswith("job-queue/filepipe")
    env = {e["Name"]: e["Value.$"] for e in batch["Parameters"]["ContainerOverrides"]["Environment"]}
    assert env == {"FILEPIPE_OBJECT": "States.JsonToString($)", "FILEPIPE_EXECUTION": "$$.Execution.Id"}
    assert batch["TimeoutSeconds"] > 0


@pytest.mark.parametrize("name", ["TransformOnLambda", "TransformOnBatch", "Archive"])
def test_every_failure_is_caught_into_the_failure_move(definition: dict[str, Any], name: str) -> None:
    catch = definition["States"][name]["Catch"][-1]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MoveToFailed"}


def test_a_duplicate_execution_ends_having_written_nothing(definition: dict[str, Any]) -> None:
    """Only the transform step can find another execution holding the version (it takes the claim
    before writing): that ends this one as a duplicate, not as a failure."""
    (duplicate, _) = definition["States"]["TransformOnLambda"]["Catch"]
    assert duplicate == {"ErrorEquals": ["DuplicateExecution"], "ResultPath": "$.duplicate", "Next": "Duplicate"}
    assert definition["States"]["Duplicate"]["Type"] == "Succeed"


@pytest.mark.parametrize("name", ["TransformOnLambda", "Archive", "MoveToFailed"])
def test_lambda_tasks_retry_only_transient_errors_with_jittered_backoff(definition: dict[str, Any], name: str) -> None:
    (retry,) = definition["States"][name]["Retry"]
    assert set(retry["ErrorEquals"]) == LAMBDA_TRANSIENT
    assert retry["BackoffRate"] > 1
    assert retry["JitterStrategy"] == "FULL"
    assert retry["MaxDelaySeconds"] >= retry["IntervalSeconds"]


def test_batch_retries_only_api_errors_the_job_retry_strategy_handles_the_rest(
    definition: dict[str, Any],
) -> None:
    (retry,) = definition["States"]["TransformOnBatch"]["Retry"]
    assert all(e.startswith("Batch.") for e in retry["ErrorEquals"])
    assert "States.TaskFailed" not in retry["ErrorEquals"]


def test_failures_end_failed_with_the_original_error(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["MoveToFailed"]["Next"] == "StillCopyingToFailed"
    ((copying,), done) = states["StillCopyingToFailed"]["Choices"], states["StillCopyingToFailed"]["Default"]
    assert (copying["Variable"], copying["StringEquals"], copying["Next"], done) == (
        "$.failed.status",
        "copying",
        "MoveToFailed",
        "Failed",
    ), "a copy in parts into the failure prefix goes on in the next invocation, then the execution fails"
    assert states["MoveToFailed"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.refused", "Next": "MoveRefused"}
    ], "a refused failure move fails the execution visibly, with the move's error, in the same last step"
    assert states["MoveRefused"]["Parameters"] == {
        "status": "refused",
        "error.$": "$.refused.Error",
        "cause.$": "$.refused.Cause",
        "redriveCount.$": "$$.Execution.RedriveCount",
    }
    assert (states["MoveRefused"]["ResultPath"], states["MoveRefused"]["Next"]) == ("$.failed", "Failed")
    assert states["Archive"]["Next"] == "Done"
    assert states["Done"]["Type"] == "Succeed"


def test_the_last_failed_step_fails_with_the_files_error_and_a_redrive_processes_the_file_again(
    definition: dict[str, Any],
) -> None:
    """A Redrive reruns the state the execution failed in. A Fail state would fail again at once;
    ``Failed`` is a callback task that fails with the file's own error and cause (SendTaskFailure),
    and that, rerun with more redrives than the failure counted, sends the file back to Route."""
    states = definition["States"]
    assert states["MoveToFailed"]["ResultSelector"]["redriveCount.$"] == "$$.Execution.RedriveCount"
    failed = states["Failed"]
    assert (failed["Type"], failed["Resource"]) == ("Task", "arn:aws:states:::lambda:invoke.waitForTaskToken")
    assert failed["Parameters"] == {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:failure",
        "Payload": {
            "verdict": {
                "failed.$": "$.failed",
                "redriveCount.$": "$$.Execution.RedriveCount",
                "taskToken.$": "$$.Task.Token",
            }
        },
    }
    assert 0 < failed["TimeoutSeconds"] <= 900, "a verdict that never calls back does not hold the execution open"
    (retry,) = failed["Retry"]
    assert set(retry["ErrorEquals"]) < LAMBDA_TRANSIENT and "TransientError" not in retry["ErrorEquals"], (
        "the file's own error is not retried here: it ends the execution"
    )
    assert "Catch" not in failed
    assert (failed["ResultPath"], failed["Next"]) == (None, "Redriven")
    redriven = states["Redriven"]
    assert (redriven["Type"], redriven["Parameters"], redriven["OutputPath"], redriven["Next"]) == (
        "Pass",
        {"object.$": "$$.Execution.Input"},
        "$.object",
        "Route",
    ), "processed again with the execution's input, as a new execution with it would be"
    fail_states = [name for name, state in states.items() if state["Type"] == "Fail"]
    assert fail_states == [], "no state a Redrive would rerun only to fail again"


def test_small_file_success_takes_four_states(definition: dict[str, Any]) -> None:
    """Route, TransformOnLambda, Archive, Done: the issue's transition budget."""
    states, path, name = definition["States"], [], definition["StartAt"]
    while name:
        path.append(name)
        state = states[name]
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    assert path == ["Route", "TransformOnLambda", "Archive", "Done"]


def test_a_large_files_copy_goes_on_in_as_many_invocations_as_it_takes(definition: dict[str, Any]) -> None:
    """No single invocation copies more than fits in its timeout: the large file's archive step
    (and the failure move) may stop a copy in parts and run again; the Lambda path's cannot need
    to (under 5 GiB, one CopyObject)."""
    states = definition["States"]
    assert states["TransformOnBatch"]["Next"] == "ArchiveInParts"
    assert states["ArchiveInParts"]["Parameters"]["Payload"]["inParts"] is True
    assert states["MoveToFailed"]["Parameters"]["Payload"]["inParts"] is True
    assert "inParts" not in states["Archive"]["Parameters"]["Payload"]
    ((copying,),) = (states["StillCopying"]["Choices"],)
    assert (copying["Next"], states["StillCopying"]["Default"]) == ("ArchiveInParts", "Done")
    assert states["ArchiveInParts"]["ResultSelector"]["copy.$"] == "$.Payload.copy"


def test_nothing_but_references_travels(definition: dict[str, Any]) -> None:
    """Task results are narrowed by ResultSelector: no payload can grow past 256 KiB. The one
    open-ended value, a transform's summary, is cut to 4 KiB (``filepipe.reports``)."""
    for name in ("TransformOnLambda", "TransformOnBatch", "Archive", "MoveToFailed"):
        assert "ResultSelector" in definition["States"][name], name
    selected = [v for s in definition["States"].values() for v in (s.get("ResultSelector") or {}).values()]
    assert "$.Payload.summary" in selected and "$.Payload" not in selected


def test_the_local_cloud_fills_the_same_placeholders_as_cdk(substitutions: dict[str, Any]) -> None:
    from filepipe.local import LocalCloud

    local = LocalCloud().resources.definition_values("standard")
    assert set(local) == set(substitutions) == state_machine.placeholders()
    rendered = state_machine.render(local)
    deployed = state_machine.render(fake_values(substitutions))
    assert _shape(rendered) == _shape(deployed), "only ARNs and numbers may differ"


def test_local_handlers_get_the_environment_the_stack_gives(synth: Synthesized) -> None:
    from filepipe.local import LocalCloud
    from filepipe.local.config import STEM

    cloud = LocalCloud()
    reaching_the_endpoint = set(cloud.aws_environment()) | {"COGNITO_ENDPOINT"}
    for principal, function in synth.stack.registry.functions.items():
        (props,) = [
            r["Properties"]
            for logical_id, r in synth.resources("AWS::Lambda::Function").items()
            if logical_id == synth.stack.resolve(synth.stack.get_logical_id(function.node.default_child))
        ]
        deployed = props["Environment"]["Variables"]
        local = cloud.function_environment(principal)
        assert set(local) - reaching_the_endpoint == set(deployed), principal
        for name, value in deployed.items():
            if isinstance(value, str) and name != "POWERTOOLS_LOG_LEVEL":  # local: quieter by default
                assert local[name] == value.replace(synth.stack.stack_name, STEM), (principal, name)


def _shape(value: Any) -> Any:
    """The definition with every ARN and number blanked: its logic."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str) and value.startswith("arn:"):
        return "ARN"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0
    return value


# -- the Express tier ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def express(synth: Synthesized) -> dict[str, Any]:
    props = synth.machine("EXPRESS")["Properties"]
    return state_machine.render(fake_values(props["DefinitionSubstitutions"]), state_machine.express_template())


def test_the_express_machine_is_derived_from_the_same_file(synth: Synthesized) -> None:
    props = synth.machine("EXPRESS")["Properties"]
    assert props["DefinitionString"] == state_machine.express_template()
    assert set(props["DefinitionSubstitutions"]) == state_machine.placeholders(state_machine.express_template())


def test_the_express_machine_runs_a_small_file_through_the_same_states(
    definition: dict[str, Any], express: dict[str, Any]
) -> None:
    for name in ("Route", "TransformOnLambda", "Archive", "MoveToFailed", "Done", "Duplicate"):
        assert _shape(express["States"][name].get("Parameters")) == _shape(definition["States"][name].get("Parameters"))
    for name in ("TransformOnLambda", "Archive"):
        assert express["States"][name].get("ResultSelector") == definition["States"][name].get("ResultSelector")
    standard_move = dict(definition["States"]["MoveToFailed"]["ResultSelector"])
    del standard_move["redriveCount.$"]
    assert express["States"]["MoveToFailed"]["ResultSelector"] == standard_move
    assert "TransformOnBatch" not in express["States"]


def test_an_express_failure_ends_in_a_fail_state_it_cannot_be_redriven(express: dict[str, Any]) -> None:
    """Express executions cannot be redriven: no redrive count is read, and the file's error and
    cause end the execution at once (``filepipe retry`` runs it again on the Standard machine)."""
    states = express["States"]
    failed = {k: v for k, v in states["Failed"].items() if k != "Comment"}
    assert failed == {"Type": "Fail", "ErrorPath": "$.failed.error", "CausePath": "$.failed.cause"}
    assert "Redriven" not in states and "MoveRefused" not in states
    assert "RedriveCount" not in str(express)


def test_express_has_no_sync_integration(express: dict[str, Any]) -> None:
    resources = [s["Resource"] for s in express["States"].values() if s["Type"] == "Task"]
    assert not [r for r in resources if r.endswith((".sync", ".waitForTaskToken"))], resources


def test_every_express_path_fits_in_five_minutes(express: dict[str, Any], definition: dict[str, Any]) -> None:
    assert state_machine.worst_case_seconds(express) <= state_machine.EXPRESS_LIMIT_SECONDS
    assert state_machine.worst_case_seconds(definition) > state_machine.EXPRESS_LIMIT_SECONDS, (
        "control: the Standard definition's waits (Batch) would not fit"
    )


def test_what_would_not_fit_continues_on_the_standard_machine(express: dict[str, Any]) -> None:
    states = express["States"]
    assert states["Route"]["Choices"][0]["Next"] == "ContinueOnStandard"
    handover = states["TransformOnLambda"]["Catch"][0]
    assert handover == {
        "ErrorEquals": ["WouldNotFit", "States.Timeout"],
        "ResultPath": None,
        "Next": "ContinueOnStandard",
    }
    assert states["MoveToFailed"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "ContinueOnStandard"}
    ], "a failure move that cannot finish in time is not lost: Standard retries it"
    continued = states["ContinueOnStandard"]
    assert continued["Resource"] == "arn:aws:states:::states:startExecution"
    assert continued["Parameters"] == {
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:filepipe",
        "Name.$": "$$.Execution.Name",
        "Input.$": "$$.Execution.Input",
    }, "the same name and input: the trigger's own execution, so a second handover starts nothing"


def test_the_local_cloud_fills_the_same_express_placeholders(synth: Synthesized) -> None:
    from filepipe.local import LocalCloud

    props = synth.machine("EXPRESS")["Properties"]
    assert set(LocalCloud().resources.definition_values("express")) == set(props["DefinitionSubstitutions"])


# -- the listing machines (backfill, reprocess) ----------------------------------------------------

LISTING_MACHINES = {
    "Backfill": (state_machine.backfill_template, "trigger", "backfill"),
    "Reprocess": (state_machine.reprocess_template, "reprocess", "reprocess"),
}


def listing_machine(synth: Synthesized, construct: str) -> dict[str, Any]:
    (machine,) = [
        m
        for k, m in synth.resources("AWS::StepFunctions::StateMachine").items()
        if k.startswith(f"{construct}StateMachine")
    ]
    return machine


@pytest.mark.parametrize("construct", sorted(LISTING_MACHINES))
def test_each_listing_machine_is_a_distributed_map_over_an_s3_listing(synth: Synthesized, construct: str) -> None:
    template, function, _ = LISTING_MACHINES[construct]
    machine = listing_machine(synth, construct)
    props = machine["Properties"]
    assert synth.definition_text(machine) == template()
    definition = state_machine.render(fake_values(props["DefinitionSubstitutions"]), template())
    maps = [state for state in definition["States"].values() if state["Type"] == "Map"]
    assert maps[0]["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    for each in maps:
        assert each["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
        assert each["MaxConcurrency"] > 0 and 0 < each["ToleratedFailurePercentage"] < 100
        (task,) = each["ItemProcessor"]["States"].values()
        assert task["Parameters"]["FunctionName"] == f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
        # A Distributed Map collects every child's output before ResultPath applies: past about
        # 2,000 items that is over 256 KiB and the run fails, unless the results go to S3.
        machine_name = construct.lower()
        assert each["ResultWriter"] == {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "filepipe-archive", "Prefix": f"results/{machine_name}"},
        }


def test_a_backfill_reads_a_manifest_from_the_archive_when_given_one(synth: Synthesized) -> None:
    props = listing_machine(synth, "Backfill")["Properties"]
    definition = state_machine.render(fake_values(props["DefinitionSubstitutions"]), state_machine.backfill_template())
    source = definition["States"][definition["StartAt"]]
    ((choice,), listing) = source["Choices"], source["Default"]
    assert choice["Variable"] == "$.manifest" and choice["IsPresent"] is True
    manifest, listed = definition["States"][choice["Next"]], definition["States"][listing]
    assert manifest["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert manifest["ItemReader"]["ReaderConfig"] == {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}
    assert manifest["ItemReader"]["Parameters"] == {
        "Bucket": "filepipe-archive",
        "Key.$": "States.Format('manifests/{}', $.manifest)",
    }

    def handing(state: dict[str, Any]) -> Any:
        """A Map without its reader and its state names (unique across the machine, as ASL asks)."""
        processor = state["ItemProcessor"]
        return {k: v for k, v in state.items() if k not in ("ItemReader", "ItemProcessor")}, list(
            processor["States"].values()
        )

    assert handing(manifest) == handing(listed), "both sources hand the trigger the same batches"


def test_the_reprocess_machine_lists_the_archive_under_its_outputs_prefix(synth: Synthesized) -> None:
    props = listing_machine(synth, "Reprocess")["Properties"]
    substitutions = props["DefinitionSubstitutions"]
    assert substitutions["OutputsPrefix"] == "outputs/"
    assert substitutions["ArchiveBucket"] == {
        "Ref": next(k for k in synth.resources("AWS::S3::Bucket") if k.startswith("BucketsArchive"))
    }
    (each,) = state_machine.render(fake_values(substitutions), state_machine.reprocess_template())["States"].values()
    assert each["ItemReader"]["Parameters"]["Prefix.$"] == "States.Format('outputs/{}', $.prefix)"


@pytest.mark.parametrize("construct", sorted(LISTING_MACHINES))
def test_the_local_cloud_fills_the_same_listing_placeholders(synth: Synthesized, construct: str) -> None:
    from filepipe.local import LocalCloud

    props = listing_machine(synth, construct)["Properties"]
    values = LocalCloud().resources.definition_values(LISTING_MACHINES[construct][2])
    assert set(values) == set(props["DefinitionSubstitutions"])
