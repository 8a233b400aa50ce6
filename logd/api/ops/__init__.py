"""One module per resource family: handlers named after operations."""
