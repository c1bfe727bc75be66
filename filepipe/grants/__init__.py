"""Who may do what: every principal of the pipeline and its permissions, in one table.

The stack renders this table into each role's policy (``stack/permissions.py``) and the local
cloud into the IAM roles its functions, Batch jobs, state machine and upload grants act with
(``filepipe/local/identities.py``), so a permission the deployed stack lacks is refused locally too.
``tests/infra/test_iam.py`` checks that the synthesized template holds exactly these statements,
beside the log and trace delivery CDK adds for every function and the state machine.

Resources are named, not spelled: ``Objects("archive", ("failed",))`` is the archive bucket's
objects under its failure prefix, whatever the deployment calls that bucket and prefix.

Example::

    for grant in PRINCIPALS["transform"].grants:
        print(grant.actions, grant.resources)
"""

from __future__ import annotations

from dataclasses import replace

from filepipe.grants.resources import (
    AREAS,
    BATCH_SYNC_RULE,
    Bucket,
    Grant,
    Kind,
    Named,
    Names,
    Objects,
    Principal,
    Resource,
)

READ_VERSION = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging")
WRITE = ("s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload")
DELETE_VERSION = ("s3:DeleteObject", "s3:DeleteObjectVersion")
LIST = ("s3:ListBucket", "s3:ListBucketVersions")
"""HeadObject answers 404 (not 403) for a missing key only with ListBucket."""
MULTIPART_UPLOAD = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
"""CreateMultipartUpload, UploadPart and CompleteMultipartUpload are all s3:PutObject."""
USE_KEY = ("kms:Decrypt", "kms:GenerateDataKey")
"""Reading an SSE-KMS object needs Decrypt; writing one (a part, a copy) needs GenerateDataKey, and
a multipart upload's completion Decrypt too. Granted only when the deployment names a key."""
COPY_IN_PARTS = ("s3:ListMultipartUploadParts",)
"""A copy in parts that outlasts an invocation is resumed from the parts S3 lists (ListParts)."""
WRITE_RESULTS = ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
"""What a Distributed Map's ResultWriter does with the machine's role (AWS's documented policy)."""
CONSUME_QUEUE = (
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
)
"""What Lambda's SQS event source mapping does with the function's role (CDK grants the same)."""


def _reads_originals_writes_outputs() -> tuple[Grant, ...]:
    """The transform, wherever it runs: read the original (staging, or the failure prefix on a
    retry), write the output (and move an older version's output aside)."""
    return (
        Grant(READ_VERSION, (Objects("staging"),)),
        Grant(READ_VERSION, (Objects("archive", ("failed",)),)),
        Grant(READ_VERSION + WRITE, (Objects("archive", ("outputs",)), Objects("archive", ("superseded",)))),
        Grant(LIST, (Bucket("staging"), Bucket("archive"))),
        # What the upload API granted an upload (its size and content type), to hold it to that.
        Grant(("s3:GetObject",), (Objects("archive", ("grants",)),)),
        Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
    )


PRINCIPALS: dict[str, Principal] = {
    p.name: p
    for p in (
        Principal(
            "trigger",
            "lambda.amazonaws.com",
            "filepipe: starts one execution per uploaded object version",
            (
                Grant(CONSUME_QUEUE, (Named(Kind.QUEUE),)),
                Grant(
                    ("states:StartExecution",),
                    (Named(Kind.STATE_MACHINE, "standard"), Named(Kind.STATE_MACHINE, "express")),
                ),
                # A backfill's listed objects: the current version of each (HEAD; 404 when gone).
                Grant(("s3:GetObject",), (Objects("staging"),)),
                Grant(("s3:ListBucket",), (Bucket("staging"),)),
            ),
        ),
        Principal(
            "transform",
            "lambda.amazonaws.com",
            "filepipe: runs a small file's transform",
            (
                *_reads_originals_writes_outputs(),
                # One execution at a time per object version (filepipe/claims.py).
                Grant(("dynamodb:PutItem",), (Named(Kind.CLAIMS_TABLE),)),
            ),
        ),
        Principal(
            "job",
            "ecs-tasks.amazonaws.com",
            "filepipe: the Batch worker's permissions (the transformer's, and its job report)",
            (
                *_reads_originals_writes_outputs(),
                # A job can only exit with a code: its outcome or rejection goes in a report.
                Grant(("s3:PutObject",), (Objects("archive", ("reports",)),)),
            ),
        ),
        Principal(
            "archive",
            "lambda.amazonaws.com",
            "filepipe: moves a processed original into the archive",
            (
                Grant(READ_VERSION + DELETE_VERSION, (Objects("staging"),)),
                # A copy in parts goes on in the next invocation from the parts S3 lists.
                Grant(
                    READ_VERSION + WRITE + COPY_IN_PARTS,
                    (Objects("archive", ("originals",)), Objects("archive", ("superseded",))),
                ),
                Grant(
                    READ_VERSION + DELETE_VERSION,
                    (Objects("archive", ("failed",)), Objects("archive", ("errors",))),
                ),
                Grant(LIST, (Bucket("staging"), Bucket("archive"))),
                Grant(("s3:GetObject",), (Objects("archive", ("reports",)),)),
                # A newer version archived resolves an older one's failure: its record moves here
                # (and a retry of the older one, finding it there, ends without moving anything).
                Grant(("s3:PutObject", "s3:GetObject"), (Objects("archive", ("resolved",)),)),
                Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
            ),
        ),
        Principal(
            "failure",
            "lambda.amazonaws.com",
            "filepipe: moves a failed original to the failure prefix with an error record",
            (
                Grant(READ_VERSION + DELETE_VERSION, (Objects("staging"),)),
                # Before moving a file to failed/, the move checks whether the archive step had
                # already copied it to originals/ (then the archive is completed instead).
                Grant(READ_VERSION, (Objects("archive", ("originals",)),)),
                Grant(
                    READ_VERSION + WRITE + COPY_IN_PARTS,
                    (Objects("archive", ("failed",)), Objects("archive", ("errors",))),
                ),
                Grant(LIST, (Bucket("staging"), Bucket("archive"))),
                Grant(("s3:GetObject",), (Objects("archive", ("reports",)),)),
                # A failed execution gives its claim up, so a retry need not wait for the lease.
                Grant(("dynamodb:DeleteItem",), (Named(Kind.CLAIMS_TABLE),)),
                Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
                # The workflow's Failed step reports the file's failure through its task token (or,
                # rerun by a Redrive, lets the file be processed again): task tokens have no ARN.
                Grant(("states:SendTaskSuccess", "states:SendTaskFailure"), (Named(Kind.ANY),)),
            ),
        ),
        Principal(
            "upload_api",
            "lambda.amazonaws.com",
            "filepipe: grants uploads into staging and reports their status",
            (
                # A presigned PUT carries its signer's permissions: the function may write uploads.
                Grant(("s3:PutObject", "s3:GetObject"), (Objects("staging", ("uploads",)),)),
                Grant(
                    ("s3:GetObject",),
                    (Objects("archive", ("originals", "uploads")), Objects("archive", ("errors", "uploads"))),
                ),
                Grant(("s3:PutObject", "s3:GetObject"), (Objects("archive", ("grants", "uploads")),)),
                Grant(LIST, (Bucket("staging"), Bucket("archive"))),
                Grant(("states:DescribeExecution",), (Named(Kind.EXECUTIONS, "standard"),)),
                # An Express execution at work is seen by the claim it holds (filepipe/claims.py).
                Grant(("dynamodb:GetItem",), (Named(Kind.CLAIMS_TABLE),)),
                Grant(("sts:AssumeRole",), (Named(Kind.ROLE, "upload"),)),
                Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
            ),
        ),
        Principal(
            "upload",
            "upload_api",
            "filepipe: multipart uploads into staging; each session narrowed to one key",
            (Grant(MULTIPART_UPLOAD, (Objects("staging", ("uploads",)),)), Grant(USE_KEY, (Named(Kind.KMS_KEY),))),
        ),
        Principal(
            "state_machine",
            "states.amazonaws.com",
            "filepipe: the state machine's permissions",
            (
                Grant(
                    ("lambda:InvokeFunction",),
                    (
                        Named(Kind.FUNCTION, "transform"),
                        Named(Kind.FUNCTION, "archive"),
                        Named(Kind.FUNCTION, "failure"),
                    ),
                ),
                Grant(("batch:SubmitJob",), (Named(Kind.JOB_QUEUE), Named(Kind.JOB_DEFINITION))),
                Grant(("batch:TerminateJob",), (Named(Kind.JOBS),)),
                Grant(("batch:DescribeJobs",), (Named(Kind.ANY),)),
                Grant(("events:PutTargets", "events:PutRule", "events:DescribeRule"), (Named(Kind.BATCH_SYNC_RULE),)),
            ),
        ),
        Principal(
            "express_state_machine",
            "states.amazonaws.com",
            "filepipe: the Express tier's state machine (small files; hands the rest to the Standard one)",
            (
                Grant(
                    ("lambda:InvokeFunction",),
                    (
                        Named(Kind.FUNCTION, "transform"),
                        Named(Kind.FUNCTION, "archive"),
                        Named(Kind.FUNCTION, "failure"),
                    ),
                ),
                Grant(("states:StartExecution",), (Named(Kind.STATE_MACHINE, "standard"),)),
            ),
        ),
        Principal(
            "backfill_state_machine",
            "states.amazonaws.com",
            "filepipe: lists staging and hands the trigger batches of objects to start (backfill, sweep)",
            (
                Grant(("s3:ListBucket",), (Bucket("staging"),)),
                # Or a key list (``filepipe backfill --manifest``): the Map reads it as CSV.
                Grant(("s3:GetObject",), (Objects("archive", ("manifests",)),)),
                # Each Map Run's results (its ResultWriter: a Map's collected outputs must stay in S3).
                Grant(WRITE_RESULTS, (Objects("archive", ("results",)),)),
                Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
                Grant(("lambda:InvokeFunction",), (Named(Kind.FUNCTION, "trigger"),)),
                # A Distributed Map runs its batches as child executions of this machine.
                Grant(("states:StartExecution",), (Named(Kind.STATE_MACHINE, "backfill"),)),
                Grant(
                    ("states:DescribeExecution", "states:StopExecution"), (Named(Kind.MAP_RUN_EXECUTIONS, "backfill"),)
                ),
            ),
        ),
        Principal(
            "reprocess",
            "lambda.amazonaws.com",
            "filepipe: sends archived originals whose outputs an older transform made back to staging",
            (
                # The output's metadata (which transform, which version, which key), and whether
                # the key's latest upload failed (its error record).
                Grant(("s3:GetObject",), (Objects("archive", ("outputs",)), Objects("archive", ("errors",)))),
                Grant(READ_VERSION, (Objects("archive", ("originals",)),)),
                # A copy into staging (only while the key has none: a HEAD first, then If-None-Match).
                Grant(("s3:GetObject", *WRITE), (Objects("staging"),)),
                Grant(LIST, (Bucket("staging"), Bucket("archive"))),
                Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
            ),
        ),
        Principal(
            "reprocess_state_machine",
            "states.amazonaws.com",
            "filepipe: lists the archive's outputs and hands the reprocess function batches of them",
            (
                Grant(("s3:ListBucket",), (Bucket("archive"),)),
                Grant(("lambda:InvokeFunction",), (Named(Kind.FUNCTION, "reprocess"),)),
                Grant(("states:StartExecution",), (Named(Kind.STATE_MACHINE, "reprocess"),)),
                Grant(
                    ("states:DescribeExecution", "states:StopExecution"), (Named(Kind.MAP_RUN_EXECUTIONS, "reprocess"),)
                ),
                Grant(WRITE_RESULTS, (Objects("archive", ("results",)),)),
                Grant(USE_KEY, (Named(Kind.KMS_KEY),)),
            ),
        ),
        Principal(
            "sweep_schedule",
            "scheduler.amazonaws.com",
            "filepipe: the sweep's schedule starts the backfill machine",
            (Grant(("states:StartExecution",), (Named(Kind.STATE_MACHINE, "backfill"),)),),
        ),
    )
}
"""Every role the pipeline's code acts with, by the name both renderers use."""


def grant_covering(principal: Principal, resource: Resource) -> int:
    """The index of ``principal``'s one grant on ``resource``."""
    (index,) = [i for i, grant in enumerate(principal.grants) if resource in grant.resources]
    return index


def without(principal: Principal, grant_index: int, action: str | None = None) -> Principal:
    """``principal`` with one grant removed (or one action of it): the local cloud's mutation
    control uses it to show that enforcement is on and each grant is needed."""
    grants = list(principal.grants)
    removed = grants.pop(grant_index)
    if action is not None:
        kept = tuple(a for a in removed.actions if a != action)
        assert kept != removed.actions, f"{principal.name} grant {grant_index} has no {action}"
        if kept:
            grants.insert(grant_index, Grant(kept, removed.resources))
    return replace(principal, grants=tuple(grants))


__all__ = [
    "AREAS",
    "BATCH_SYNC_RULE",
    "CONSUME_QUEUE",
    "COPY_IN_PARTS",
    "DELETE_VERSION",
    "LIST",
    "MULTIPART_UPLOAD",
    "PRINCIPALS",
    "READ_VERSION",
    "USE_KEY",
    "WRITE",
    "WRITE_RESULTS",
    "Bucket",
    "Grant",
    "Kind",
    "Named",
    "Names",
    "Objects",
    "Principal",
    "Resource",
    "grant_covering",
    "without",
]
