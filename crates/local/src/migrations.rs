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
    // 2: GitHub webhook deliveries already taken (`X-GitHub-Delivery`), so that a redelivery
    // or a retry never acts twice; pruned after `DELIVERY_RETENTION_DAYS`.
    "CREATE TABLE webhook_deliveries (
        delivery_id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);",
];
