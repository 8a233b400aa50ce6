"""logd's own telemetry: Prometheus metrics (every metric declared once) and its JSON logs."""
