"""The Logs Insights language: grammar, AST, checker, planner, SQL compiler, executor."""
