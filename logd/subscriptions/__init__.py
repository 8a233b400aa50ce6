"""Subscription filters: WAL cursor → filter pattern → per-stream batch → sink → advance.

Guarantees (subscriptions-and-export.md §7.1):

- At-least-once: a subscription's durable cursor moves past a WAL record only once every
  matching event of that record was acknowledged by the sink or dead-lettered. After a
  crash, delivery resumes after the cursor; only batches in flight repeat.
- Ordered per log stream: one sink, one send at a time, streams flushed in WAL order.
- Isolation: a failing or hanging sink delays only its own subscriptions; while a
  subscription retries it reads nothing new (the WAL holds the data).
- Fatal never means dropped: a batch the sink refuses as fatal is bisected until the
  poison events are isolated; only they go to the dead-letter store, with the reason.
"""
