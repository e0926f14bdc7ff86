//! Versioned schema migrations of the local store. `PRAGMA user_version` records how many have
//! run; each runs once, in order, inside one transaction. Append new ones, never edit old ones.

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: resources as JSON documents, keyed by kind and name, with the fields the scheduler
    // queries kept as columns; settings (concurrency); per-Task run options (sandbox, runner).
    "CREATE TABLE resources (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        doc TEXT NOT NULL,
        run_options TEXT,
        PRIMARY KEY (kind, name)
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
];
