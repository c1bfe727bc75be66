"""Upload API: an HTTP API whose function grants presigned PUTs and one-key multipart
credentials, reports upload status, and serves the upload page."""

from __future__ import annotations

import json

from aws_cdk import Aws
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from filepipe.deployment import Deployment
from stack import permissions as perm
from stack.compute import Compute
from stack.log_groups import vended_log_group
from stack.names import StackNames
from stack.users import UploadUsers

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "error": "$context.error.message",
    "latency": "$context.responseLatency",
}


class UploadApi(Construct):
    """``POST /api/uploads``, ``GET /api/uploads/status`` (authorized: IAM or JWT) and ``/ui/``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, compute: Compute, registry: StackNames, user_pool: bool = True
    ) -> None:
        """``user_pool``: whether to make the user pool (always, where the partition offers Cognito,
        so that switching ``uploadAuth`` back and forth keeps its users)."""
        super().__init__(scope, construct_id)
        config, buckets = registry.deployment, registry.buckets
        spec = config.functions()["upload_api"]
        role = perm.role(self, f"{spec.construct_id}Role", "upload_api")
        registry.roles["upload_api"] = role
        # Only the API's function may assume the upload role: its trust policy names that role.
        self.upload_role = perm.role(self, "UploadRole", "upload", assumed_by=iam.ArnPrincipal(role.role_arn))
        registry.roles["upload"] = self.upload_role
        self.users = UploadUsers(self, "Users", destroy_on_removal=config.removal_policy_destroy) if user_pool else None
        if config.upload_auth == "cognito":
            assert self.users is not None, "the deployment refuses uploadAuth=cognito where there is no user pool"
            registry.upload_auth_environment.update(
                USER_POOL_ID=self.users.user_pool.user_pool_id,
                USER_POOL_CLIENT_ID=self.users.page_client.user_pool_client_id,
            )
        self.function = compute.function("upload_api", scope=self)
        perm.acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"<{perm.logical_id(registry.machines['standard'])}.Name>:*]",
            "Executions are named at start time; status reads only this state machine's executions.",
        )
        self.api = self._api(config)
        if isinstance(buckets.staging, s3.Bucket):  # an existing bucket's CORS is its owner's
            buckets.staging.add_cors_rule(
                allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.POST, s3.HttpMethods.DELETE],
                allowed_origins=[self.api.api_endpoint],
                allowed_headers=["*"],
                exposed_headers=["ETag"],
                max_age=3600,
            )

    def _authorizer(self, config: Deployment) -> apigw.IHttpRouteAuthorizer:
        if config.upload_auth == "cognito":
            assert self.users is not None
            # CDK's HttpUserPoolAuthorizer spells the issuer's host with amazonaws.com; the pool's
            # issuer is on its partition's DNS suffix.
            issuer = f"https://cognito-idp.{Aws.REGION}.{Aws.URL_SUFFIX}/{self.users.user_pool.user_pool_id}"
            return authorizers.HttpJwtAuthorizer(
                "UserPoolAuthorizer", issuer, jwt_audience=[self.users.page_client.user_pool_client_id]
            )
        if config.upload_auth == "jwt":
            return authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer", str(config.upload_jwt_issuer), jwt_audience=list(config.upload_jwt_audience)
            )
        return authorizers.HttpIamAuthorizer()

    def _api(self, config: Deployment) -> apigw.HttpApi:
        authorizer = self._authorizer(config)
        api = apigw.HttpApi(self, "Api", description="filepipe upload API", create_default_stage=True)
        integration = integrations.HttpLambdaIntegration("Function", self.function)
        api.add_routes(
            path="/api/uploads", methods=[apigw.HttpMethod.POST], integration=integration, authorizer=authorizer
        )
        api.add_routes(
            path="/api/uploads/status", methods=[apigw.HttpMethod.GET], integration=integration, authorizer=authorizer
        )
        api.add_routes(
            path="/api/uploads/renew", methods=[apigw.HttpMethod.POST], integration=integration, authorizer=authorizer
        )
        for path in ("/ui", "/ui/{page+}"):
            routes = api.add_routes(
                path=path,
                methods=[apigw.HttpMethod.GET],
                integration=integration,
                authorizer=apigw.HttpNoneAuthorizer(),
            )
            for route in routes:
                perm.acknowledge(
                    route,
                    "AwsSolutions-APIG4",
                    "The upload page is static HTML and scripts; every API call it makes is authorized.",
                )
        logs = vended_log_group(self, "AccessLogs", config.log_retention_days, "apigateway", "upload-api-access")
        stage = api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )
        cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=100, throttling_rate_limit=50
        )
        return api
