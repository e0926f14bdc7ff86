//! What a TaskSpawner remembers about the items it created Tasks for, kept in its status
//! (`status.spawnedItems`) rather than on the Tasks.
//!
//! Tasks do not live forever: `ttlSecondsAfterFinished` (or a user) deletes finished ones. If
//! the spawn decision only looked at existing Tasks, an issue that stays open would look new
//! again once its Task is gone, and an agent would rerun on it after every TTL. So the spawner
//! keeps, per item still returned by its source, the latest generation it created, the item's
//! `updated_at` at that time, and whether it has since seen the item needing input. An item
//! with a memory entry and no live Task is re-queued only by the needs-input rule: the
//! needs-input mark, the label gone, the item open and changed since its last Task.
//!
//! The memory is bounded by the source: entries of items no longer listed are dropped. It is
//! written in the same status update as the counters, after the Tasks are created; a crash in
//! between loses at most the entries of Tasks that exist (and block their items), which the
//! next poll writes again from those Tasks.

use crate::spawn::SpawnedTask;
use crate::spawn_item::WorkItem;
use axon_api::SpawnedItem;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// The memory entry of one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemMemory {
    /// `{{.ID}}` of the item.
    pub id: String,
    /// The latest generation created for it.
    pub generation: u32,
    /// The item's `updated_at` when that generation was created (`None` when unknown).
    pub updated_at: Option<Timestamp>,
    /// A poll saw the item with an excluded label after that generation was created.
    pub needs_input_seen: bool,
}

impl ItemMemory {
    /// Reads an entry of `status.spawnedItems`; `None` for one that makes no sense (a
    /// generation below 1), which is then simply forgotten.
    pub fn from_status(record: &SpawnedItem) -> Option<ItemMemory> {
        let generation = u32::try_from(record.generation).ok().filter(|g| *g >= 1)?;
        Some(ItemMemory {
            id: record.id.clone(),
            generation,
            updated_at: record.updated_at.as_deref().and_then(crate::rfc3339::parse),
            needs_input_seen: record.needs_input,
        })
    }

    /// The entry as written to `status.spawnedItems`.
    pub fn to_status(&self) -> SpawnedItem {
        SpawnedItem {
            id: self.id.clone(),
            generation: i64::from(self.generation),
            updated_at: self.updated_at.map(crate::rfc3339::format),
            needs_input: self.needs_input_seen,
        }
    }
}

/// Reads `status.spawnedItems`.
pub fn memory_from_status(records: &[SpawnedItem]) -> Vec<ItemMemory> {
    records.iter().filter_map(ItemMemory::from_status).collect()
}

/// Writes `status.spawnedItems`.
pub fn memory_to_status(memory: &[ItemMemory]) -> Vec<SpawnedItem> {
    memory.iter().map(ItemMemory::to_status).collect()
}

/// Whether the item changed since `since` (unknown times count as changed, so that a source
/// without `updated_at` falls back to the needs-input mark alone).
pub fn changed_since(item: &WorkItem, since: Option<Timestamp>) -> bool {
    match (item.updated_at, since) {
        (Some(now), Some(then)) => now > then,
        _ => true,
    }
}

/// The memory after a poll. `items` are everything the source returned this poll (excluded
/// ones included), `existing` the spawner's Tasks before the poll, `created` the
/// `(item id, generation)` of the Tasks this poll actually created, `exclude_labels` the
/// spawner's `excludeLabels`.
///
/// Per listed item: the latest generation known from the previous memory, the existing Tasks
/// and this poll's creations; a new generation starts with the item's current `updated_at`
/// and no mark; an item carrying an excluded label is marked. Items not listed are forgotten.
pub fn remember(
    previous: &[ItemMemory],
    items: &[WorkItem],
    existing: &[SpawnedTask],
    created: &[(String, u32)],
    exclude_labels: &[String],
) -> Vec<ItemMemory> {
    let previous: HashMap<&str, &ItemMemory> =
        previous.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut latest_task: HashMap<&str, &SpawnedTask> = HashMap::new();
    for t in existing {
        if let Some(id) = t.item_id.as_deref() {
            let slot = latest_task.entry(id).or_insert(t);
            if t.generation > slot.generation {
                *slot = t;
            }
        }
    }
    let mut created_gen: HashMap<&str, u32> = HashMap::new();
    for (id, generation) in created {
        let slot = created_gen.entry(id.as_str()).or_insert(*generation);
        *slot = (*slot).max(*generation);
    }
    let mut seen = HashSet::new();
    let mut memory = Vec::new();
    for item in items {
        if !seen.insert(item.id.as_str()) {
            continue;
        }
        let id = item.id.as_str();
        let prev = previous.get(id).copied();
        let task = latest_task.get(id).copied();
        let new = created_gen.get(id).copied();
        let generation = [prev.map(|m| m.generation), task.map(|t| t.generation), new]
            .into_iter()
            .flatten()
            .max();
        let Some(generation) = generation else {
            continue; // never spawned
        };
        let task_mark = task.is_some_and(|t| t.generation == generation && t.needs_input_seen);
        let mut entry = match prev.filter(|m| m.generation == generation) {
            _ if new == Some(generation) => ItemMemory {
                id: item.id.clone(),
                generation,
                updated_at: item.updated_at,
                needs_input_seen: false,
            },
            Some(m) => ItemMemory {
                needs_input_seen: m.needs_input_seen || task_mark,
                ..m.clone()
            },
            // A Task newer than the memory: its status write was lost (a crash after
            // creating it). Its `updated_at` at creation is unknown; today's is no earlier.
            None => ItemMemory {
                id: item.id.clone(),
                generation,
                updated_at: item.updated_at,
                needs_input_seen: task_mark,
            },
        };
        if item.has_any_label(exclude_labels) {
            entry.needs_input_seen = true;
        }
        memory.push(entry);
    }
    memory
}

/// The memory after one item was delivered on its own (a webhook): [`remember`] for that
/// item, every other entry kept as it was (a delivery says nothing about the other items; the
/// next poll forgets those no longer listed).
pub fn remember_one(
    previous: &[ItemMemory],
    item: &WorkItem,
    existing: &[SpawnedTask],
    created: &[(String, u32)],
    exclude_labels: &[String],
) -> Vec<ItemMemory> {
    let updated = remember(
        previous,
        std::slice::from_ref(item),
        existing,
        created,
        exclude_labels,
    );
    // In place, so that an unchanged memory compares equal and is not written again.
    let mut updated = updated.into_iter();
    let mut entry = updated.next();
    let mut out: Vec<ItemMemory> = Vec::with_capacity(previous.len() + 1);
    for m in previous {
        if m.id == item.id {
            out.extend(entry.take());
        } else {
            out.push(m.clone());
        }
    }
    out.extend(entry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn_item::ItemKind;

    #[test]
    fn one_delivered_item_keeps_the_others() {
        let previous = [
            ItemMemory {
                id: "9".into(),
                generation: 2,
                updated_at: Some(at(0)),
                needs_input_seen: true,
            },
            ItemMemory {
                id: "1".into(),
                generation: 1,
                updated_at: Some(at(1)),
                needs_input_seen: true,
            },
        ];
        let created = [("1".to_string(), 2)];
        let memory = remember_one(&previous, &item(1, &[], 5), &[], &created, &excluded());
        insta::assert_yaml_snapshot!(memory, @r#"
        - id: "9"
          generation: 2
          updated_at: "2026-02-07T09:00:00Z"
          needs_input_seen: true
        - id: "1"
          generation: 2
          updated_at: "2026-02-07T09:05:00Z"
          needs_input_seen: false
        "#);
        let nothing = remember_one(&previous, &item(4, &[], 5), &[], &[], &excluded());
        assert_eq!(nothing, previous);
        // An entry that does not change stays where it was.
        let same = remember_one(&previous, &item(9, &[], 0), &[], &[], &excluded());
        assert_eq!(same, previous);
    }
    fn at(minute: u32) -> Timestamp {
        Timestamp::from_second(1_770_454_800 + 60 * i64::from(minute)).expect("valid")
    }

    fn item(n: u64, labels: &[&str], updated: u32) -> WorkItem {
        WorkItem {
            labels: labels.iter().map(|l| l.to_string()).collect(),
            updated_at: Some(at(updated)),
            ..WorkItem::github(n, ItemKind::Issue, format!("issue {n}"))
        }
    }

    fn task(id: &str, generation: u32, mark: bool) -> SpawnedTask {
        SpawnedTask {
            name: format!("s-{id}"),
            item_id: Some(id.into()),
            generation,
            finished: true,
            needs_input_seen: mark,
        }
    }

    fn excluded() -> Vec<String> {
        vec!["axon/needs-input".into()]
    }

    #[test]
    fn new_tasks_are_remembered_and_unlisted_items_forgotten() {
        let previous = [ItemMemory {
            id: "9".into(),
            generation: 1,
            updated_at: Some(at(0)),
            needs_input_seen: false,
        }];
        let items = [item(1, &[], 5), item(2, &[], 6), item(3, &[], 7)];
        let created = [("1".to_string(), 1), ("2".to_string(), 1)];
        let memory = remember(&previous, &items, &[], &created, &excluded());
        insta::assert_yaml_snapshot!(memory, @r#"
        - id: "1"
          generation: 1
          updated_at: "2026-02-07T09:05:00Z"
          needs_input_seen: false
        - id: "2"
          generation: 1
          updated_at: "2026-02-07T09:06:00Z"
          needs_input_seen: false
        "#);
    }

    #[test]
    fn excluded_labels_mark_remembered_items_only() {
        let previous = [ItemMemory {
            id: "1".into(),
            generation: 1,
            updated_at: Some(at(1)),
            needs_input_seen: false,
        }];
        let items = [
            item(1, &["AXON/needs-input"], 5),
            item(2, &["axon/needs-input"], 5),
        ];
        let memory = remember(&previous, &items, &[], &[], &excluded());
        assert_eq!(memory.len(), 1);
        assert!(memory[0].needs_input_seen);
        assert_eq!(memory[0].updated_at, Some(at(1)), "spawn time is kept");
        // The mark stays after the label is removed, until a new generation is created.
        let memory = remember(&memory, &[item(1, &[], 9)], &[], &[], &excluded());
        assert!(memory[0].needs_input_seen);
        let created = [("1".to_string(), 2)];
        let memory = remember(&memory, &[item(1, &[], 9)], &[], &created, &excluded());
        assert_eq!(
            memory,
            [ItemMemory {
                id: "1".into(),
                generation: 2,
                updated_at: Some(at(9)),
                needs_input_seen: false,
            }]
        );
    }

    #[test]
    fn tasks_newer_than_the_memory_are_recovered_with_their_marks() {
        // A crash lost the status write after s-1-r2 was created; it was marked since.
        let previous = [ItemMemory {
            id: "1".into(),
            generation: 1,
            updated_at: Some(at(1)),
            needs_input_seen: true,
        }];
        let existing = [task("1", 1, true), task("1", 2, true), task("2", 1, false)];
        let items = [item(1, &[], 8), item(2, &[], 3)];
        let memory = remember(&previous, &items, &existing, &[], &excluded());
        insta::assert_yaml_snapshot!(memory, @r#"
        - id: "1"
          generation: 2
          updated_at: "2026-02-07T09:08:00Z"
          needs_input_seen: true
        - id: "2"
          generation: 1
          updated_at: "2026-02-07T09:03:00Z"
          needs_input_seen: false
        "#);
    }

    #[test]
    fn status_round_trip_drops_nonsense() {
        let memory = vec![ItemMemory {
            id: "42".into(),
            generation: 3,
            updated_at: Some(at(4)),
            needs_input_seen: true,
        }];
        let status = memory_to_status(&memory);
        assert_eq!(
            status[0].updated_at.as_deref(),
            Some("2026-02-07T09:04:00Z")
        );
        assert_eq!(memory_from_status(&status), memory);
        let bad = [SpawnedItem {
            id: "1".into(),
            generation: 0,
            updated_at: Some("yesterday".into()),
            needs_input: false,
        }];
        assert!(memory_from_status(&bad).is_empty());
        let unparsable_time = [SpawnedItem {
            generation: 1,
            ..bad[0].clone()
        }];
        assert_eq!(memory_from_status(&unparsable_time)[0].updated_at, None);
    }
}
