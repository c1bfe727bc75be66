"""filepipe: process files uploaded to S3 with Step Functions, Lambda and AWS Batch.

The packages each hold one idea: ``events`` (what arrives), ``storage`` (streaming S3 I/O),
``transforms`` (what is done to a file), ``moves`` (archive and failure moves), ``processing``
(the step both compute paths run), ``local`` (the one-machine cloud) and ``cli``.
"""

__version__ = "0.1.0"
