"""The store: the durable log and everything that reads it back.

`logd.store.store.Store` is the facade (docs/internals.md); `options.StoreOptions` its
configuration. Guarantees:

- an append returns only once its events are durable under the fsync policy, and they
  are visible to every read from that moment (memtable);
- sequence numbers are per group, start at 1, increase strictly in log order and are
  never reused; the ingestion time never goes backwards within a group;
- after a crash, recovery replays the log past the last committed seal, so every
  acknowledged event is stored exactly once (segments + memtable);
- expired events are invisible to reads at once, and deleted by the sweep;
- no path is built from a group or stream name.
"""
