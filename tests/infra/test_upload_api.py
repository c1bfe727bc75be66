"""The upload API in the template: routes and their authorization, the scoped upload role."""

from __future__ import annotations

import json

import pytest

from filepipe.grants import MULTIPART_UPLOAD
from tests.infra.conftest import Synthesized, actions_on

pytestmark = pytest.mark.infra


def test_api_routes_are_authorized_except_the_static_page(synth: Synthesized) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"].get("AuthorizationType", "NONE")
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
    }
    assert routes == {
        "POST /api/uploads": "JWT",
        "GET /api/uploads/status": "JWT",
        "POST /api/uploads/renew": "JWT",
        "GET /ui": "NONE",
        "GET /ui/{page+}": "NONE",
    }


def test_api_logs_access_and_is_throttled(synth: Synthesized) -> None:
    _, stage = synth.one("AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    assert props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0].startswith("UploadApiAccessLogs")
    assert "$context.requestId" in json.loads(props["AccessLogSettings"]["Format"]).values()
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == 50


def test_upload_role_is_assumable_only_by_the_api_function(synth: Synthesized) -> None:
    role = synth.raw["Resources"]["UploadApiUploadRole66DF39E2"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::GetAtt": ["UploadApiUploadApiFunctionRole52502EF2", "Arn"]}}
    assert role["MaxSessionDuration"] == 3600


def test_upload_role_may_only_multipart_upload_into_the_upload_prefix(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("UploadApiUploadRole"))
    assert table == {"Staging/uploads/*": set(MULTIPART_UPLOAD)}


def test_api_function_presigns_reads_status_and_assumes_only_the_upload_role(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("UploadApiUploadApiFunctionRole"))
    assert table["UploadApiUploadRole66DF39E2"] == {"sts:AssumeRole"}
    assert table["Staging/uploads/*"] == {"s3:PutObject", "s3:GetObject"}
    assert table["Archive/originals/uploads/*"] == {"s3:GetObject"}
    assert table["Archive/errors/uploads/*"] == {"s3:GetObject"}
    assert "WorkflowStateMachine8F1B1C15" not in table, "status finds an execution by name, without listing"
    assert table["Archive/grants/uploads/*"] == {"s3:PutObject", "s3:GetObject"}
    assert not [r for r, actions in table.items() if "s3:DeleteObject" in actions]


def test_api_function_environment(synth: Synthesized) -> None:
    function = synth.raw["Resources"]["UploadApiUploadApiFunction61439C28"]["Properties"]
    env = function["Environment"]["Variables"]
    assert env["UPLOAD_ROLE_ARN"] == {"Fn::GetAtt": ["UploadApiUploadRole66DF39E2", "Arn"]}
    assert env["PRESIGN_MAX_BYTES"] == str(100 * 1024 * 1024)
    assert "text/csv" in env["UPLOAD_CONTENT_TYPES"].split(",")
    assert synth.raw["Outputs"]["UploadApiUrl"]["Value"] == {"Fn::GetAtt": ["UploadApi8C811B21", "ApiEndpoint"]}


def test_the_page_signs_in_to_the_stacks_user_pool(synth: Synthesized) -> None:
    """By default the API trusts the stack's own user pool: a public app client (no secret in the
    page), users an administrator creates, tokens of an hour."""
    pool_id, pool = synth.one("AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    _, client = synth.one("AWS::Cognito::UserPoolClient")
    client_props = client["Properties"]
    assert client_props["GenerateSecret"] is False
    assert client_props["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], (
        "the one flow the page and the CLI use, and its refresh"
    )
    assert client_props["AllowedOAuthFlowsUserPoolClient"] is False
    for unused in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs"):
        assert unused not in client_props, f"no OAuth: CDK's default client had {unused}"
    _, authorizer = synth.one("AWS::ApiGatewayV2::Authorizer")
    jwt = authorizer["Properties"]["JwtConfiguration"]
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert jwt["Audience"] == [{"Ref": next(iter(synth.resources("AWS::Cognito::UserPoolClient")))}]
    assert pool_id in json.dumps(jwt["Issuer"])
    function = synth.raw["Resources"]["UploadApiUploadApiFunction61439C28"]["Properties"]
    env = function["Environment"]["Variables"]
    assert env["UPLOAD_AUTH"] == "cognito" and env["USER_POOL_ID"] == {"Ref": pool_id}
    assert {"UserPoolId", "UserPoolClientId"} <= set(synth.raw["Outputs"])
