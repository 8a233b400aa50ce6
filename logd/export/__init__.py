"""Export tasks: a log group's time range → gzip objects in CloudWatch's layout.

tasks.py     the API's semantics and the state machine (ExportService, EventReader,
             TaskStore protocols)
taskdb.py    the SQLite TaskStore
runner.py    one run of one task: plan → scan → write → manifest → COMPLETED
plan.py      reads a task's events in bounded, sorted pieces
layout.py    keys, line rendering, part boundaries (pure)
writer.py    parts → parallel gzip → destination, with resume
destinations.py  local directory and S3 targets; atomic objects
manifest.py  the manifest document (pure)
verify.py    checks an export against its manifest
"""
