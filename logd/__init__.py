"""logd: a self-hosted CloudWatch Logs."""

__version__ = "0.1.0"
