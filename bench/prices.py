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
