"""The durable log and everything that reads it back."""
