"""The catalog's migrations, in order. Never edit one that shipped: append a new one.

Later issues add theirs here: subscription filters, metric filters, export tasks,
queries, query definitions.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: groups, tags, streams, segments, checkpoints, store state, quarantine
    """
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        creation_time INTEGER NOT NULL,
        retention_days INTEGER,
        log_group_class TEXT NOT NULL DEFAULT 'STANDARD',
        kms_key_id TEXT,
        deletion_protection INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        next_seq INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE tags (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (group_id, key)
    );
    CREATE TABLE streams (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        creation_time INTEGER NOT NULL,
        first_event_ts INTEGER,
        last_event_ts INTEGER,
        last_ingestion_time INTEGER,
        UNIQUE (group_id, name)
    );
    CREATE INDEX streams_by_event_time ON streams(group_id, last_event_ts, name);
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        min_ts INTEGER NOT NULL,
        max_ts INTEGER NOT NULL,
        min_seq INTEGER NOT NULL,
        max_seq INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL,
        crc32 INTEGER NOT NULL,
        fields TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX segments_by_time ON segments(group_id, min_ts, max_ts);
    CREATE TABLE checkpoints (
        source TEXT PRIMARY KEY,
        state BLOB NOT NULL
    );
    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL,
        group_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        time INTEGER NOT NULL
    )
    """,
    # 2: deleted streams whose events are hidden until compaction rewrote them away
    """
    CREATE TABLE stream_tombstones (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        stream TEXT NOT NULL,
        below_seq INTEGER NOT NULL,
        PRIMARY KEY (group_id, stream)
    )
    """,
    # 3: metric filters (PutMetricFilter); transformation and other members are wire JSON
    """
    CREATE TABLE metric_filters (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        pattern TEXT NOT NULL,
        transformation TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        metric_namespace TEXT NOT NULL,
        creation_time INTEGER NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (group_id, name)
    );
    CREATE INDEX metric_filters_by_name ON metric_filters(name, group_id)
    """,
    # 4: Logs Insights query history and saved query definitions (logd/queries/)
    """
    CREATE TABLE queries (
        ordinal INTEGER PRIMARY KEY AUTOINCREMENT,
        query_id TEXT NOT NULL UNIQUE,
        query_string TEXT NOT NULL,
        log_groups TEXT NOT NULL,
        status TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        records_matched REAL NOT NULL DEFAULT 0,
        records_scanned REAL NOT NULL DEFAULT 0,
        bytes_scanned REAL NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX queries_by_status ON queries(status, ordinal);
    CREATE TABLE query_definitions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        query_string TEXT NOT NULL,
        log_group_names TEXT NOT NULL,
        parameters TEXT NOT NULL,
        last_modified INTEGER NOT NULL,
        client_token TEXT UNIQUE
    );
    CREATE INDEX query_definitions_by_name ON query_definitions(name, id)
    """,
    # 5: subscription filters (logd/store/catalog_subscriptions.py)
    """
    CREATE TABLE subscription_filters (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        filter_name TEXT NOT NULL,
        filter_pattern TEXT NOT NULL,
        destination_arn TEXT NOT NULL,
        role_arn TEXT,
        distribution TEXT NOT NULL DEFAULT 'ByLogStream',
        apply_on_transformed_logs INTEGER NOT NULL DEFAULT 0,
        field_selection_criteria TEXT,
        emit_system_fields TEXT,
        creation_time INTEGER NOT NULL,
        PRIMARY KEY (group_id, filter_name)
    )
    """,
]
