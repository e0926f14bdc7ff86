//! Parsed store rows kept across the engine's passes, so a pass reads and parses only the rows
//! that changed since the last one.
//!
//! Why: the engine passes several times per Task (its apply, its supervisor's status writes and
//! exit, the 1 s tick), and each pass used to read every Task row's text and parse it twice
//! (text → JSON value → Task): O(stored Tasks) per pass, the largest share of the engine's time
//! between a dependency's end and its dependant's start (`bench/pipeline.sh`). A row is known
//! by its [`Version`] (name, uid, creation time, resource version): every write that changes a
//! document raises its resource version, and a Task deleted and created again under its name
//! has a new uid, so an unchanged version is an unchanged document and the parse is reused; a
//! changed, deleted or re-created row is read afresh. The store stays the only truth: each pass
//! still lists every row's version in one query, only the document text and its parse are
//! skipped.

use crate::error::LocalError;
use crate::store::{Store, Version};
use axon_api::Kind;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

/// One kind's rows, parsed as `T`, as of the last [`RowCache::read`].
pub struct RowCache<T> {
    entries: HashMap<String, Entry<T>>,
    /// Documents parsed since the cache was made (what the tests check).
    #[cfg(test)]
    parsed: u64,
}

struct Entry<T> {
    version: Version,
    /// `None`: the document is not a readable `T` (left out, and not parsed again until it
    /// changes).
    value: Option<Arc<T>>,
}

impl<T> Default for RowCache<T> {
    fn default() -> Self {
        RowCache {
            entries: HashMap::new(),
            #[cfg(test)]
            parsed: 0,
        }
    }
}

impl<T: DeserializeOwned> RowCache<T> {
    /// The rows of `kind` in the store now, oldest first, each with its name; a document that
    /// is not a readable `T` is left out.
    pub fn read(&mut self, store: &Store, kind: Kind) -> Result<Vec<(String, Arc<T>)>, LocalError> {
        let rows = store.versions(kind, |v| !self.is_current(v))?;
        Ok(self.update(rows))
    }

    /// Whether the cache holds the document of this version.
    fn is_current(&self, version: &Version) -> bool {
        self.entries
            .get(&version.name)
            .is_some_and(|e| e.version == *version)
    }

    /// Bring the cache to `rows`, every row there is now, as the store listed them: with its
    /// document's text when the cache did not hold that version. Rows gone are forgotten.
    pub fn update(&mut self, rows: Vec<(Version, Option<String>)>) -> Vec<(String, Arc<T>)> {
        let mut fresh = HashMap::with_capacity(rows.len());
        let mut out = Vec::with_capacity(rows.len());
        for (version, doc) in rows {
            let kept = self
                .entries
                .remove(&version.name)
                .filter(|e| e.version == version);
            let entry = match (kept, doc) {
                (Some(e), _) => e,
                (None, Some(text)) => {
                    #[cfg(test)]
                    {
                        self.parsed += 1;
                    }
                    Entry {
                        value: serde_json::from_str::<T>(&text).ok().map(Arc::new),
                        version,
                    }
                }
                // Listed without its text yet not held: cannot happen through `read`; left
                // out (the next read asks for its text).
                (None, None) => continue,
            };
            if let Some(v) = &entry.value {
                out.push((entry.version.name.clone(), v.clone()));
            }
            fresh.insert(entry.version.name.clone(), entry);
        }
        self.entries = fresh;
        out
    }

    /// How many documents were parsed since the cache was made.
    #[cfg(test)]
    pub fn parsed(&self) -> u64 {
        self.parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Doc {
        v: String,
    }

    fn version(name: &str, uid: &str, rv: i64) -> Version {
        Version {
            name: name.into(),
            uid: uid.into(),
            created: "2026-01-01T00:00:00Z".into(),
            resource_version: rv,
        }
    }

    /// What `Store::versions` would list: the text only for a version the cache lacks.
    fn listed(cache: &RowCache<Doc>, rows: &[(Version, &str)]) -> Vec<(Version, Option<String>)> {
        rows.iter()
            .map(|(v, text)| {
                let text = (!cache.is_current(v)).then(|| format!(r#"{{"v": "{text}"}}"#));
                (v.clone(), text)
            })
            .collect()
    }

    fn pass(cache: &mut RowCache<Doc>, rows: &[(Version, &str)]) -> Vec<(String, String)> {
        let rows = listed(cache, rows);
        cache
            .update(rows)
            .into_iter()
            .map(|(n, d)| (n, d.v.clone()))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn unchanged_rows_are_parsed_once_and_changed_ones_afresh() {
        let mut cache = RowCache::<Doc>::default();
        let a1 = version("a", "ua", 1);
        let b1 = version("b", "ub", 1);
        assert_eq!(
            pass(&mut cache, &[(a1.clone(), "a"), (b1.clone(), "b")]),
            pairs(&[("a", "a"), ("b", "b")])
        );
        assert_eq!(cache.parsed(), 2);
        // Nothing changed: nothing parsed.
        assert_eq!(
            pass(&mut cache, &[(a1.clone(), "a"), (b1.clone(), "b")]),
            pairs(&[("a", "a"), ("b", "b")])
        );
        assert_eq!(cache.parsed(), 2);
        // `a` written (status): its new version is read; `b` kept.
        let a2 = version("a", "ua", 2);
        assert_eq!(
            pass(&mut cache, &[(a2.clone(), "a2"), (b1.clone(), "b")]),
            pairs(&[("a", "a2"), ("b", "b")])
        );
        assert_eq!(cache.parsed(), 3);
        // `b` deleted: gone from the output.
        assert_eq!(
            pass(&mut cache, &[(a2.clone(), "a2")]),
            pairs(&[("a", "a2")])
        );
        // `b` created again under its name, at resource version 1 again: a new uid, so read
        // afresh, never the old document.
        let b_again = version("b", "ub2", 1);
        assert_eq!(
            pass(&mut cache, &[(a2.clone(), "a2"), (b_again, "b-new")]),
            pairs(&[("a", "a2"), ("b", "b-new")])
        );
        assert_eq!(cache.parsed(), 4);
        // Even with the same uid (never made, but a restored store could hold it), another
        // creation time is another row.
        let b_restored = Version {
            created: "2026-02-01T00:00:00Z".into(),
            ..version("b", "ub2", 1)
        };
        assert_eq!(
            pass(&mut cache, &[(a2, "a2"), (b_restored, "b-restored")]),
            pairs(&[("a", "a2"), ("b", "b-restored")])
        );
        assert_eq!(cache.parsed(), 5);
    }

    #[test]
    fn an_unreadable_document_is_left_out_until_it_changes() {
        let mut cache = RowCache::<Doc>::default();
        let bad = version("x", "ux", 1);
        let rows = vec![(bad.clone(), Some("not json".to_string()))];
        assert!(cache.update(rows).is_empty());
        // Same version: not parsed again, still left out.
        let rows = listed(&cache, &[(bad, "ignored")]);
        assert_eq!(rows[0].1, None);
        assert!(cache.update(rows).is_empty());
        assert_eq!(cache.parsed(), 1);
        // Fixed (a new version): read.
        assert_eq!(
            pass(&mut cache, &[(version("x", "ux", 2), "ok")]),
            pairs(&[("x", "ok")])
        );
    }

    /// Through a real store: an update, a delete and a re-creation under the same name between
    /// two reads are all seen.
    #[test]
    fn reads_through_the_store_see_every_change() {
        use serde_json::json;
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let doc = |v: &str| {
            json!({"apiVersion": "axon.io/v1alpha1", "kind": "Workspace",
                   "metadata": {"name": "w"}, "spec": {"repo": "r"}, "v": v})
        };
        let mut seq = 0;
        let mut fresh = |d: &mut serde_json::Value| {
            seq += 1;
            d["metadata"]["uid"] = format!("u{seq}").into();
            d["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
        };
        let mut cache = RowCache::<Doc>::default();
        let read = |cache: &mut RowCache<Doc>| -> Vec<String> {
            cache
                .read(&store, Kind::Workspace)
                .expect("read")
                .into_iter()
                .map(|(_, d)| d.v.clone())
                .collect()
        };
        store
            .apply(Kind::Workspace, "w", doc("one"), None, &mut fresh)
            .expect("apply");
        assert_eq!(read(&mut cache), ["one"]);
        assert_eq!(read(&mut cache), ["one"]);
        assert_eq!(cache.parsed(), 1);
        store
            .update(Kind::Workspace, "w", "u1", |d| {
                d["v"] = "two".into();
                true
            })
            .expect("update");
        assert_eq!(read(&mut cache), ["two"]);
        assert!(store.delete(Kind::Workspace, "w", None).expect("delete"));
        assert!(read(&mut cache).is_empty());
        store
            .apply(Kind::Workspace, "w", doc("three"), None, &mut fresh)
            .expect("apply again");
        assert_eq!(read(&mut cache), ["three"]);
        assert_eq!(cache.parsed(), 3);
    }
}
