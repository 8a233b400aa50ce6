"""The CloudWatch Logs JSON API over HTTP (aiohttp): routing, validation, auth, ops."""
