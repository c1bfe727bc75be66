"""The CDK stack: one construct per concern, composed by :class:`FilepipeStack`."""

from stack.pipeline_stack import FilepipeStack

__all__ = ["FilepipeStack"]
