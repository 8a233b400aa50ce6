"""Shared fixtures of the subscription tests: the Tansu broker and the webhook endpoint."""

from tests.support.kafka import tansu
from tests.support.webhook import webhook_server

__all__ = ["tansu", "webhook_server"]
