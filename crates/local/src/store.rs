//! The resource store: one SQLite file (WAL, busy timeout) that several `axon` processes use at
//! once. Resources are JSON documents with uid, resourceVersion, generation and
//! creationTimestamp; every read-modify-write runs in an immediate transaction, and an applied
//! document that carries a stale `metadata.resourceVersion` is refused (optimistic
//! concurrency). Secrets are not stored here (see `secrets`).

use crate::error::LocalError;
use crate::migrations::MIGRATIONS;
use axon_api::Kind;
use axon_core::apply::{ApplyOutcome, apply_outcome};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A stored document.
#[derive(Clone, Debug)]
pub struct Row {
    pub doc: Value,
    pub run_options: Option<Value>,
}

impl Row {
    /// The document's `metadata.uid` (empty when it has none).
    pub fn uid(&self) -> String {
        self.doc
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// Which stored document a row holds: a write that changes a document raises its
/// `resource_version`, and a row deleted and created again under its name gets a new uid and
/// creation time. Equal versions, equal documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub name: String,
    pub uid: String,
    pub created: String,
    pub resource_version: i64,
}

/// The SQLite store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Open (creating and migrating) the store.
    pub fn open(path: &Path) -> Result<Store, LocalError> {
        let err = |e: rusqlite::Error| LocalError::Store {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(LocalError::Store {
                path: path.display().to_string(),
                reason: format!(
                    "schema version {version} is newer than this axon understands ({known}): upgrade axon"
                ),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> LocalError {
        LocalError::Store {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, LocalError>,
    ) -> Result<T, LocalError> {
        let mut conn = self.conn.lock().map_err(|e| self.err(e))?;
        f(&mut conn)
    }

    /// One resource.
    pub fn get(&self, kind: Kind, name: &str) -> Result<Option<Row>, LocalError> {
        self.with(|c| {
            c.query_row(
                "SELECT doc, run_options FROM resources WHERE kind = ?1 AND name = ?2",
                params![kind.as_str(), name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .map(|(d, o)| self.row(&d, o.as_deref()))
            .transpose()
        })
    }

    fn row(&self, doc: &str, opts: Option<&str>) -> Result<Row, LocalError> {
        Ok(Row {
            doc: serde_json::from_str(doc).map_err(|e| self.err(e))?,
            run_options: opts.and_then(|o| serde_json::from_str(o).ok()),
        })
    }

    /// Every resource of a kind, oldest first.
    pub fn list(&self, kind: Kind) -> Result<Vec<Row>, LocalError> {
        self.with(|c| {
            let mut st = c
                .prepare(
                    "SELECT doc, run_options FROM resources WHERE kind = ?1 ORDER BY created_at, name",
                )
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map(params![kind.as_str()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .map_err(|e| self.err(e))?;
            let mut out = Vec::new();
            for r in rows {
                let (d, o) = r.map_err(|e| self.err(e))?;
                out.push(self.row(&d, o.as_deref())?);
            }
            Ok(out)
        })
    }

    /// Every resource of a kind, oldest first, by identity and version; the document text only
    /// of the rows `wanted` asks for (given the row's [`Version`]). A reader that keeps parsed
    /// documents across reads ([`crate::row_cache`]) reads and parses only what changed:
    /// SQLite loads a document's text only when its column is read.
    pub fn versions(
        &self,
        kind: Kind,
        mut wanted: impl FnMut(&Version) -> bool,
    ) -> Result<Vec<(Version, Option<String>)>, LocalError> {
        self.with(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT name, uid, created_at, resource_version, doc FROM resources
                     WHERE kind = ?1 ORDER BY created_at, name",
                )
                .map_err(|e| self.err(e))?;
            let mut rows = st.query(params![kind.as_str()]).map_err(|e| self.err(e))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let version = Version {
                    name: r.get(0).map_err(|e| self.err(e))?,
                    uid: r.get(1).map_err(|e| self.err(e))?,
                    created: r.get(2).map_err(|e| self.err(e))?,
                    resource_version: r.get(3).map_err(|e| self.err(e))?,
                };
                let doc = if wanted(&version) {
                    Some(r.get(4).map_err(|e| self.err(e))?)
                } else {
                    None
                };
                out.push((version, doc));
            }
            Ok(out)
        })
    }

    /// Create or update a resource from an applied document. `fresh` fills what a new
    /// resource gets (uid, timestamps, initial status); it is called only on creation.
    pub fn apply(
        &self,
        kind: Kind,
        name: &str,
        applied: Value,
        run_options: Option<Value>,
        fresh: impl FnOnce(&mut Value),
    ) -> Result<(ApplyOutcome, Value), LocalError> {
        self.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let stored: Option<(String, i64, i64)> = tx
                .query_row(
                    "SELECT doc, resource_version, generation FROM resources WHERE kind = ?1 AND name = ?2",
                    params![kind.as_str(), name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let stored_doc: Option<Value> = stored
                .as_ref()
                .map(|(d, _, _)| serde_json::from_str(d))
                .transpose()
                .map_err(|e| self.err(e))?;
            if let (Some((_, rv, _)), Some(want)) = (
                &stored,
                applied
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str),
            ) && want != rv.to_string()
            {
                return Err(LocalError::Conflict {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    expected: want.to_string(),
                    actual: rv.to_string(),
                });
            }
            let outcome = apply_outcome(stored_doc.as_ref(), &applied);
            let doc = match (outcome, stored_doc, stored) {
                (ApplyOutcome::Created, _, _) | (_, None, _) | (_, _, None) => {
                    let mut doc = applied;
                    if let Some(m) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.insert("resourceVersion".into(), "1".into());
                        m.insert("generation".into(), 1.into());
                    }
                    if let Some(o) = doc.as_object_mut() {
                        o.remove("status");
                    }
                    fresh(&mut doc);
                    let uid = doc
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let created = doc
                        .pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    tx.execute(
                        "INSERT INTO resources (kind, name, uid, resource_version, generation, created_at, doc, run_options)
                         VALUES (?1, ?2, ?3, 1, 1, ?4, ?5, ?6)",
                        params![
                            kind.as_str(),
                            name,
                            uid,
                            created,
                            doc.to_string(),
                            run_options.map(|o| o.to_string())
                        ],
                    )
                    .map_err(|e| self.err(e))?;
                    doc
                }
                (ApplyOutcome::Unchanged, Some(doc), _) => doc,
                (ApplyOutcome::Configured, Some(mut doc), Some((_, rv, generation))) => {
                    let spec_changed = doc.get("spec") != applied.get("spec");
                    let generation = generation + i64::from(spec_changed);
                    let rv = rv + 1;
                    if let Some(o) = doc.as_object_mut() {
                        o.insert(
                            "spec".into(),
                            applied.get("spec").cloned().unwrap_or(Value::Null),
                        );
                    }
                    if let Some(m) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
                        for key in ["labels", "annotations"] {
                            match applied.pointer(&format!("/metadata/{key}")) {
                                Some(v) => m.insert(key.into(), v.clone()),
                                None => m.remove(key),
                            };
                        }
                        m.insert("resourceVersion".into(), rv.to_string().into());
                        m.insert("generation".into(), generation.into());
                    }
                    tx.execute(
                        "UPDATE resources SET doc = ?3, resource_version = ?4, generation = ?5
                         WHERE kind = ?1 AND name = ?2",
                        params![kind.as_str(), name, doc.to_string(), rv, generation],
                    )
                    .map_err(|e| self.err(e))?;
                    doc
                }
            };
            tx.commit().map_err(|e| self.err(e))?;
            Ok((outcome, doc))
        })
    }

    /// Read-modify-write one resource, if it still has `uid`. `f` returns whether it changed
    /// anything; the new document is returned (None: gone or replaced).
    pub fn update(
        &self,
        kind: Kind,
        name: &str,
        uid: &str,
        f: impl FnOnce(&mut Value) -> bool,
    ) -> Result<Option<Value>, LocalError> {
        self.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            let stored: Option<(String, i64)> = tx
                .query_row(
                    "SELECT doc, resource_version FROM resources WHERE kind = ?1 AND name = ?2 AND uid = ?3",
                    params![kind.as_str(), name, uid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let Some((doc, rv)) = stored else {
                return Ok(None);
            };
            let mut doc: Value = serde_json::from_str(&doc).map_err(|e| self.err(e))?;
            if f(&mut doc) {
                let rv = rv + 1;
                if let Some(m) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("resourceVersion".into(), rv.to_string().into());
                }
                tx.execute(
                    "UPDATE resources SET doc = ?4, resource_version = ?5
                     WHERE kind = ?1 AND name = ?2 AND uid = ?3",
                    params![kind.as_str(), name, uid, doc.to_string(), rv],
                )
                .map_err(|e| self.err(e))?;
                tx.commit().map_err(|e| self.err(e))?;
                self.announce_change();
            }
            Ok(Some(doc))
        })
    }

    /// Tell waiters (`axon wait`, see [`crate::store_watch`]) that a committed change can be
    /// read now.
    fn announce_change(&self) {
        if let Some(home) = self.path.parent() {
            crate::store_watch::announce(home);
        }
    }

    /// Records webhook delivery `id` (of `event`, received at `now`, RFC 3339 UTC): `true` when
    /// it is new, `false` when it was recorded before. Records older than `prune_before` are
    /// dropped in the same transaction.
    pub fn claim_delivery(
        &self,
        id: &str,
        event: &str,
        now: &str,
        prune_before: &str,
    ) -> Result<bool, LocalError> {
        self.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.err(e))?;
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < ?1",
                params![prune_before],
            )
            .map_err(|e| self.err(e))?;
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (delivery_id, event, received_at) VALUES (?1, ?2, ?3)",
                    params![id, event, now],
                )
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            Ok(n == 1)
        })
    }

    /// Forgets webhook delivery `id` (its handling failed: a redelivery may try again).
    pub fn release_delivery(&self, id: &str) -> Result<(), LocalError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE delivery_id = ?1",
                params![id],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// Delete a resource (only the one with `uid` when given). True if a row went away.
    pub fn delete(&self, kind: Kind, name: &str, uid: Option<&str>) -> Result<bool, LocalError> {
        self.with(|c| {
            let n = match uid {
                Some(uid) => c.execute(
                    "DELETE FROM resources WHERE kind = ?1 AND name = ?2 AND uid = ?3",
                    params![kind.as_str(), name, uid],
                ),
                None => c.execute(
                    "DELETE FROM resources WHERE kind = ?1 AND name = ?2",
                    params![kind.as_str(), name],
                ),
            }
            .map_err(|e| self.err(e))?;
            Ok(n > 0)
        })
    }

    /// A setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, LocalError> {
        self.with(|c| {
            c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
        })
    }

    /// Set a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), LocalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ws(repo: &str) -> Value {
        json!({"apiVersion": "axon.io/v1alpha1", "kind": "Workspace",
               "metadata": {"name": "w"}, "spec": {"repo": repo}})
    }

    fn fresh(doc: &mut Value) {
        doc["metadata"]["uid"] = "u1".into();
        doc["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
    }

    /// A committed update wakes a waiter watching AXON_HOME; an update that changes nothing
    /// does not.
    #[tokio::test]
    async fn a_committed_update_is_announced_to_waiters() {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().expect("tmp");
        let s = Store::open(&dir.path().join("axon.db")).expect("open");
        s.apply(Kind::Workspace, "w", ws("a"), None, fresh)
            .expect("apply");
        let watch = crate::store_watch::StoreWatch::new(dir.path()).expect("socket");
        s.update(Kind::Workspace, "w", "u1", |_| false)
            .expect("update");
        let t = Instant::now();
        watch.changed(Duration::from_millis(200)).await;
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "no change, no event"
        );
        s.update(Kind::Workspace, "w", "u1", |d| {
            d["spec"]["repo"] = "b".into();
            true
        })
        .expect("update");
        let t = Instant::now();
        watch.changed(Duration::from_secs(30)).await;
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[test]
    fn apply_creates_configures_and_keeps_identity() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Store::open(&dir.path().join("db")).expect("open");
        let (o, d) = s
            .apply(Kind::Workspace, "w", ws("a"), None, fresh)
            .expect("apply");
        assert_eq!(o, ApplyOutcome::Created);
        assert_eq!(d["metadata"]["resourceVersion"], "1");
        let (o, _) = s
            .apply(Kind::Workspace, "w", ws("a"), None, fresh)
            .expect("apply");
        assert_eq!(o, ApplyOutcome::Unchanged);
        let (o, d) = s
            .apply(Kind::Workspace, "w", ws("b"), None, |_| panic!("not fresh"))
            .expect("apply");
        assert_eq!(o, ApplyOutcome::Configured);
        assert_eq!(d["metadata"]["uid"], "u1");
        assert_eq!(d["metadata"]["generation"], 2);
        assert_eq!(d["metadata"]["resourceVersion"], "2");
        // A stale resourceVersion is a conflict.
        let mut stale = ws("c");
        stale["metadata"]["resourceVersion"] = "1".into();
        let e = s
            .apply(Kind::Workspace, "w", stale, None, fresh)
            .expect_err("conflict");
        assert!(matches!(e, LocalError::Conflict { .. }), "{e}");
        // Reopening runs no migration twice.
        drop(s);
        let s = Store::open(&dir.path().join("db")).expect("reopen");
        assert_eq!(s.list(Kind::Workspace).expect("list").len(), 1);
        assert!(
            s.delete(Kind::Workspace, "w", Some("other"))
                .is_ok_and(|d| !d)
        );
        assert!(s.delete(Kind::Workspace, "w", Some("u1")).is_ok_and(|d| d));
    }

    #[test]
    fn deliveries_are_claimed_once_and_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let t = |d: u32| format!("2026-01-{d:02}T00:00:00Z");
        assert!(
            store
                .claim_delivery("a", "issues", &t(1), &t(1))
                .expect("claim")
        );
        assert!(
            !store
                .claim_delivery("a", "issues", &t(2), &t(1))
                .expect("again")
        );
        // Reopening keeps the record.
        let store = Store::open(&dir.path().join("db")).expect("reopen");
        assert!(
            !store
                .claim_delivery("a", "issues", &t(3), &t(1))
                .expect("after reopen")
        );
        store.release_delivery("a").expect("release");
        assert!(
            store
                .claim_delivery("a", "issues", &t(4), &t(1))
                .expect("released")
        );
        // Older than the retention: gone, so the id counts as new again.
        assert!(
            store
                .claim_delivery("a", "issues", &t(20), &t(10))
                .expect("pruned")
        );
    }

    #[test]
    fn update_checks_uid() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Store::open(&dir.path().join("db")).expect("open");
        s.apply(Kind::Workspace, "w", ws("a"), None, fresh)
            .expect("apply");
        assert!(
            s.update(Kind::Workspace, "w", "nope", |_| true)
                .expect("update")
                .is_none()
        );
        let d = s
            .update(Kind::Workspace, "w", "u1", |d| {
                d["status"] = json!({"x": 1});
                true
            })
            .expect("update")
            .expect("doc");
        assert_eq!(d["metadata"]["resourceVersion"], "2");
    }
}
