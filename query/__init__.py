"""The two languages over log events: filter patterns and Logs Insights.

Usable on its own; imports nothing from logd.
"""

__all__: list[str] = []
