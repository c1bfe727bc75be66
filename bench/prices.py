"""Public AWS list prices (us-east-1, USD) the cost model uses, in one place.

AS_OF says when they were taken from the public price pages; check the current price list
before relying on the dollar figures. Free tiers are ignored.
"""

AS_OF = "2025-01, us-east-1 public list prices"

STEP_FUNCTIONS_STANDARD_PER_TRANSITION = 0.025 / 1000
STEP_FUNCTIONS_EXPRESS_PER_REQUEST = 1.00 / 1_000_000
STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND = 0.00001667  # first 1,000 GB-hours a month
EXPRESS_MEMORY_GB = 64 / 1024
"""Express bills memory in 64 MB steps; a small file's state (a few KB) uses the first."""
EXPRESS_BILLING_INCREMENT_SECONDS = 0.1
DYNAMODB_ON_DEMAND_PER_WRITE = 0.625 / 1_000_000  # one write request unit (an item up to 1 KB)
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86_64, first tier
S3_PUT_COPY_POST_LIST_PER_REQUEST = 0.005 / 1000
S3_GET_HEAD_PER_REQUEST = 0.0004 / 1000
SQS_PER_REQUEST = 0.40 / 1_000_000  # standard queue, per 64 KiB chunk
FARGATE_PER_VCPU_HOUR = 0.04048
FARGATE_PER_GB_HOUR = 0.004445
FARGATE_MINIMUM_SECONDS = 60

# CloudWatch: https://aws.amazon.com/cloudwatch/pricing/ (us-east-1), taken 2026-12-05 from that
# page's free-tier table and the paid-tier rates quoted from it in February to June 2026. The free
# tier (5 GB of logs, 3 dashboards, 10 alarm metrics, 10 custom metrics a month) is ignored like
# every other: it is the account's, shared with whatever else runs in it.
CLOUDWATCH_AS_OF = "https://aws.amazon.com/cloudwatch/pricing/, us-east-1, 2026-12-05"
LOGS_INGESTION_PER_GB = 0.50
"""Standard log class. Step Functions' and Lambda's logs are vended logs when delivered this way,
priced from the same $0.50 for the first 10 TB a month."""
LOGS_STORAGE_PER_GB_MONTH = 0.03
"""Archived logs; charged on compressed bytes, which the model does not assume (it stores what it ingests)."""
LOGS_EVENT_OVERHEAD_BYTES = 26
"""What CloudWatch Logs counts per event beside its message (PutLogEvents: "the sum of all event
messages in UTF-8, plus 26 bytes for each log event"); counted as ingested, to be safe."""
DASHBOARD_PER_MONTH = 3.00
ALARM_METRIC_PER_MONTH = 0.10
"""A standard-resolution alarm, per metric it watches (a metric-math alarm: each metric in it)."""
HIGH_RESOLUTION_ALARM_METRIC_PER_MONTH = 0.30
COMPOSITE_ALARM_PER_MONTH = 0.50
CUSTOM_METRIC_PER_MONTH = 0.30
"""Each name, namespace and set of dimension values a function publishes (first 10,000), prorated
by the hours it is published: a steady stream of files keeps every one of them billed all month."""

# Other fixed monthly prices, us-east-1 (https://aws.amazon.com/kms/pricing/,
# https://aws.amazon.com/secrets-manager/pricing/, https://aws.amazon.com/vpc/pricing/,
# https://aws.amazon.com/ecr/pricing/), taken 2026-12-05.
KMS_KEY_PER_MONTH = 1.00
SECRET_PER_MONTH = 0.40
NAT_GATEWAY_PER_MONTH = 0.045 * 730
INTERFACE_ENDPOINT_PER_AZ_MONTH = 0.01 * 730
ECR_STORAGE_PER_GB_MONTH = 0.10
