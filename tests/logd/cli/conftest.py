"""The webhook endpoint for `logd dlq replay`."""

from tests.support.webhook import webhook_server

__all__ = ["webhook_server"]
