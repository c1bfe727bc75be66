"""The local cloud: the whole pipeline on one machine.

Example::

    with LocalCloud(LocalConfig(port=0)) as cloud:
        cloud.client("s3").put_object(Bucket="filepipe-staging", Key="a.csv", Body=b"a,b\\n1,2\\n")
"""

from filepipe.local.cloud import LocalCloud
from filepipe.local.config import LocalConfig

__all__ = ["LocalCloud", "LocalConfig"]
