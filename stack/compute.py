"""Compute: the worker image, the Lambda functions built from it, and AWS Batch on Fargate.

One image (the repository's ``Dockerfile``) serves every function and the Batch job, so the
transform code and its native libraries are the same on both paths.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from batch_image import job
from filepipe.grants import PRINCIPALS
from stack import permissions as perm
from stack.log_groups import log_group
from stack.names import StackNames

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ENTRYPOINT = ["/usr/local/bin/filepipe-lambda"]
"""The image's Lambda entrypoint: an absolute path to a file, not a symlink, as Lambda asks; it
starts the runtime interface client (awslambdaric) with the handler the function's CMD names."""
PLATFORM = Platform.LINUX_AMD64
"""What the image is built for, wherever ``cdk deploy`` runs: a build on an arm64 laptop would
otherwise make an image neither these x86_64 functions nor Fargate's default can run."""


class Compute(Construct):
    """The transformer and moves functions, and the Batch job queue and job definition."""

    def __init__(self, scope: Construct, construct_id: str, *, registry: StackNames) -> None:
        super().__init__(scope, construct_id)
        self._registry, self._config = registry, registry.deployment
        for principal in ("transform", "archive", "failure"):
            self.function(principal)
        self.transform_function = registry.functions["transform"]
        self.archive_function = registry.functions["archive"]
        self.failure_function = registry.functions["failure"]
        self._batch()

    def function(self, principal: str, scope: Construct | None = None) -> lambda_.Function:
        """``principal``'s function (``Deployment.functions``) of the worker image, with its own
        role and log group, in ``scope``; registered with its role."""
        scope = scope or self
        spec = self._config.functions()[principal]
        logs = log_group(scope, f"{spec.construct_id}Logs", self._config.log_retention_days)
        role = self._registry.roles.get(principal) or perm.role(scope, f"{spec.construct_id}Role", principal)
        logs.grant_write(role)
        function = lambda_.DockerImageFunction(
            scope,
            spec.construct_id,
            description=PRINCIPALS[principal].description,
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPOSITORY_ROOT), entrypoint=LAMBDA_ENTRYPOINT, cmd=[spec.handler], platform=PLATFORM
            ),
            architecture=lambda_.Architecture.X86_64,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=self._config.function_environment(principal, self._registry.resources()),
            role=role,
            log_group=logs,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        self._registry.functions[principal] = function
        self._registry.roles[principal] = role
        return function

    def _batch(self) -> None:
        config = self._config
        self.vpc = self._network()
        self.compute_environment = batch.FargateComputeEnvironment(
            self,
            "ComputeEnvironment",
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            spot=config.batch_spot,
            maxv_cpus=config.batch_max_vcpus,
            security_groups=[
                ec2.SecurityGroup(
                    self,
                    "WorkerSecurityGroup",
                    vpc=self.vpc,
                    description="filepipe Batch workers: outbound only (S3, ECR, CloudWatch Logs)",
                    allow_all_outbound=True,
                )
            ],
        )
        self.job_queue = batch.JobQueue(
            self,
            "JobQueue",
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=self.compute_environment, order=1)
            ],
        )
        job_role = perm.role(self, "JobRole", "job")
        self._registry.roles["job"] = job_role
        execution_role = iam.Role(
            self,
            "JobExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="filepipe: lets ECS pull the worker image and write its logs",
        )
        self.job_log_group = log_group(self, "JobLogs", config.log_retention_days)
        self.job_definition = batch.EcsJobDefinition(
            self,
            "JobDefinition",
            container=batch.EcsFargateContainerDefinition(
                self,
                "WorkerContainer",
                image=ecs.ContainerImage.from_asset(str(REPOSITORY_ROOT), platform=PLATFORM),
                fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
                fargate_operating_system_family=ecs.OperatingSystemFamily.LINUX,
                command=list(job.COMMAND),
                cpu=config.batch_vcpus,
                memory=Size.mebibytes(config.batch_memory_mb),
                environment=config.handler_environment(self._registry.resources()),
                job_role=job_role,
                execution_role=execution_role,
                assign_public_ip=True,
                fargate_platform_version=ecs.FargatePlatformVersion.LATEST,
                logging=ecs.LogDriver.aws_logs(stream_prefix="worker", log_group=self.job_log_group),
            ),
            timeout=Duration.seconds(config.batch_job_timeout_seconds),
            retry_attempts=job.ATTEMPTS,
            retry_strategies=[
                batch.RetryStrategy.of(
                    batch.Action.RETRY if rule.action == "RETRY" else batch.Action.EXIT,
                    batch.Reason.custom(on_exit_code=rule.on_exit_code, on_status_reason=rule.on_status_reason),
                )
                for rule in job.RETRY_RULES
            ],
            propagate_tags=True,
        )
        self._registry.job_queue_arn = self.job_queue.job_queue_arn
        self._registry.job_definition_arn = self.job_definition.job_definition_arn

    def _network(self) -> ec2.IVpc:
        """An existing VPC from context, or public subnets with no NAT gateway (no idle cost)."""
        if self._config.vpc_id:
            return ec2.Vpc.from_lookup(self, "Vpc", vpc_id=self._config.vpc_id)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="workers", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        flow_logs = log_group(self, "VpcFlowLogs", self._config.log_retention_days)
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc
