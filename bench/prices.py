"""Public AWS list prices (us-east-1, USD) the cost model uses, in one place.

AS_OF says when they were taken from the public price pages; check the current price list
before relying on the dollar figures. Free tiers are ignored.
"""

AS_OF = "2025-01, us-east-1 public list prices"

STEP_FUNCTIONS_STANDARD_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86_64, first tier
S3_PUT_COPY_POST_LIST_PER_REQUEST = 0.005 / 1000
S3_GET_HEAD_PER_REQUEST = 0.0004 / 1000
SQS_PER_REQUEST = 0.40 / 1_000_000  # standard queue, per 64 KiB chunk
FARGATE_PER_VCPU_HOUR = 0.04048
FARGATE_PER_GB_HOUR = 0.004445
FARGATE_MINIMUM_SECONDS = 60
