//! The spawn decision: given the items a source discovered (oldest first) and the Tasks this
//! spawner already has, which Tasks to create now, which items wait for a free slot, and which
//! finished Tasks to mark because their item now needs input.
//!
//! The decision reads nothing but its arguments: the Tasks (labels and annotations written at
//! creation, one annotation written when an item is seen needing input) and the spawner's
//! memory of the items it spawned ([`crate::spawn_memory`], in its status), which outlives
//! Tasks deleted by TTL. So a spawner that crashes and restarts at any point decides the same
//! way again, and since Task names are identities, creates nothing twice; and a finished Task
//! that is deleted does not make its still-open item look new.
//!
//! The needs-input loop: an agent that cannot make progress labels its issue with an excluded
//! label (e.g. `axon/needs-input`) and stops. A poll that sees the label marks the item's latest
//! Task. When a human removes the label and that Task has finished, the next poll creates the
//! next generation (`<spawner>-<ID>-r2`) exactly once: the new Task carries no mark, so the
//! poll after that does nothing. An item never has two live Tasks. The same holds when the
//! finished Task was deleted: the mark and the generation are then read from the memory, and
//! the item must also have changed (`updated_at`) since its last Task was created.

use crate::spawn_item::{ItemState, WorkItem};
use crate::spawn_memory::{ItemMemory, changed_since};
use crate::spawn_name::task_name;
use serde::Serialize;
use std::collections::HashMap;

pub use axon_api::contract::{
    ANNOTATION_GENERATION, ANNOTATION_NEEDS_INPUT, ANNOTATION_SOURCE_ID, LABEL_TASKSPAWNER,
};

/// What the decision needs to know about an existing Task of this spawner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpawnedTask {
    /// The Task's name.
    pub name: String,
    /// `axon.io/source-id`; `None` for a Task without it (counted as active if unfinished,
    /// otherwise ignored).
    pub item_id: Option<String>,
    /// `axon.io/source-generation` (1 when absent).
    pub generation: u32,
    /// Whether the Task reached a terminal phase (Succeeded, Failed or Cancelled).
    pub finished: bool,
    /// Whether it carries `axon.io/needs-input-seen`.
    pub needs_input_seen: bool,
}

/// Spawner settings the decision obeys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnPolicy {
    /// `spec.maxConcurrency`: at most this many unfinished Tasks; `None` or 0 is unlimited.
    pub max_concurrency: Option<u32>,
    /// `spec.when.githubIssues.excludeLabels`.
    pub exclude_labels: Vec<String>,
    /// `spec.when.items`: a Task is named exactly `<spawner>-<ID>` (the rules checked that
    /// this is a valid name at apply), never hashed, so that `dependsOn` can name it.
    pub exact_names: bool,
    /// `spec.suspend`: no Task is created; items that want one are deferred.
    pub suspended: bool,
    /// `spec.maxTotalTasks`: at most this many Tasks in all.
    pub max_total_tasks: Option<u64>,
    /// `status.totalTasksCreated` of the last status (the count may also be derived from the
    /// Tasks and the memory: the larger is used, so a lagging status never lets more through).
    pub total_created: u64,
    /// `spec.priorityLabels`: the order in which items get the free slots.
    pub priority_labels: Vec<String>,
}

/// A Task to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedTask {
    /// Its name, `<spawner>-<ID>` or `<spawner>-<ID>-r<N>`.
    pub name: String,
    /// `{{.ID}}` of its item.
    pub item_id: String,
    /// Which generation of the item it is.
    pub generation: u32,
    /// Index of the item in the discovered list (to render its prompt).
    pub item_index: usize,
}

/// The outcome of one decision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SpawnPlan {
    /// Tasks to create now, oldest item first.
    pub create: Vec<PlannedTask>,
    /// Items that want a Task but wait for a free slot (`maxConcurrency`), for the spawner to
    /// be resumed (`suspend`) or that will not get one (`maxTotalTasks` reached).
    pub deferred: Vec<String>,
    /// Why items were deferred other than `maxConcurrency`: `suspended` or `maxTotalTasks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<Hold>,
    /// Items skipped because they carry an excluded label.
    pub excluded: Vec<String>,
    /// Tasks to annotate with [`ANNOTATION_NEEDS_INPUT`].
    pub mark_needs_input: Vec<String>,
    /// Unfinished Tasks of the spawner before this poll.
    pub active_before: u32,
}

/// What holds items back besides `maxConcurrency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Hold {
    /// `spec.suspend`.
    Suspended,
    /// `spec.maxTotalTasks` reached.
    MaxTotalTasks,
}

/// How many Tasks the spawner made in all, as far as its Tasks and memory tell: per item, the
/// highest generation seen (each generation is one Task).
fn created_by_generations(existing: &[SpawnedTask], memory: &HashMap<&str, &ItemMemory>) -> u64 {
    let mut highest: HashMap<&str, u32> =
        memory.iter().map(|(id, m)| (*id, m.generation)).collect();
    for t in existing {
        if let Some(id) = &t.item_id {
            let g = highest.entry(id.as_str()).or_default();
            *g = (*g).max(t.generation);
        }
    }
    highest.values().map(|g| u64::from(*g)).sum()
}

/// The order in which items get slots: by their first priority label's rank (items without
/// one last), oldest first within a rank (the discovered order).
fn priority_order(items: &[WorkItem], priority_labels: &[String]) -> Vec<usize> {
    let rank = |item: &WorkItem| {
        priority_labels
            .iter()
            .position(|l| item.has_any_label(std::slice::from_ref(l)))
            .unwrap_or(priority_labels.len())
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|i| rank(&items[*i]));
    order
}

/// Decides what to do for one poll. `items` must be oldest first (that is the order in which
/// free slots are handed out); `memory` is the spawner's memory from its last status.
pub fn plan_spawns(
    spawner: &str,
    items: &[WorkItem],
    existing: &[SpawnedTask],
    memory: &[ItemMemory],
    policy: &SpawnPolicy,
) -> SpawnPlan {
    let memory: HashMap<&str, &ItemMemory> = memory.iter().map(|m| (m.id.as_str(), m)).collect();
    let active_before =
        u32::try_from(existing.iter().filter(|t| !t.finished).count()).unwrap_or(u32::MAX);
    let mut by_item: HashMap<&str, Vec<&SpawnedTask>> = HashMap::new();
    for t in existing {
        if let Some(id) = &t.item_id {
            by_item.entry(id.as_str()).or_default().push(t);
        }
    }
    let mut slots = match policy.max_concurrency {
        None | Some(0) => u32::MAX,
        Some(max) => max.saturating_sub(active_before),
    };
    let mut plan = SpawnPlan {
        active_before,
        ..SpawnPlan::default()
    };
    let mut total_left = policy.max_total_tasks.map(|max| {
        let made = policy
            .total_created
            .max(created_by_generations(existing, &memory));
        max.saturating_sub(made)
    });
    for index in priority_order(items, &policy.priority_labels) {
        let item = &items[index];
        let tasks = by_item
            .get(item.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let latest = tasks.iter().max_by_key(|t| t.generation);
        if item.has_any_label(&policy.exclude_labels) {
            plan.excluded.push(item.id.clone());
            if let Some(latest) = latest.filter(|t| !t.needs_input_seen) {
                plan.mark_needs_input.push(latest.name.clone());
            }
            continue;
        }
        if tasks.iter().any(|t| !t.finished) {
            continue;
        }
        let remembered = memory.get(item.id.as_str()).copied();
        let last = latest
            .map(|t| t.generation)
            .max(remembered.map(|m| m.generation));
        let generation = match last {
            None => 1,
            Some(last) => {
                let task = latest.filter(|t| t.generation == last);
                let entry = remembered.filter(|m| m.generation == last);
                let marked = task.is_some_and(|t| t.needs_input_seen)
                    || entry.is_some_and(|m| m.needs_input_seen);
                let changed = entry.is_none_or(|m| changed_since(item, m.updated_at));
                if !(marked && changed && item.state == ItemState::Open) {
                    continue;
                }
                last + 1
            }
        };
        let hold = if policy.suspended {
            Some(Hold::Suspended)
        } else if total_left == Some(0) {
            Some(Hold::MaxTotalTasks)
        } else {
            None
        };
        if hold.is_some() || slots == 0 {
            plan.held_by = plan.held_by.or(hold);
            plan.deferred.push(item.id.clone());
            continue;
        }
        slots -= 1;
        if let Some(left) = total_left.as_mut() {
            *left -= 1;
        }
        let name = if policy.exact_names {
            format!("{spawner}-{}", item.id)
        } else {
            task_name(spawner, &item.id, generation)
        };
        plan.create.push(PlannedTask {
            name,
            item_id: item.id.clone(),
            generation,
            item_index: index,
        });
    }
    plan
}

/// The counters of `TaskSpawner.status` after a poll.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SpawnCounters {
    /// `status.totalDiscovered`.
    pub total_discovered: i64,
    /// `status.totalTasksCreated`.
    pub total_tasks_created: i64,
    /// `status.activeTasks`.
    pub active_tasks: i64,
}

impl SpawnCounters {
    /// Counters after a poll that discovered `discovered` items (the source's current count
    /// after filters) and actually created `created` Tasks (an already existing name is not a
    /// creation). `previous_total_created` is the last status' `totalTasksCreated`.
    pub fn after_poll(
        previous_total_created: i64,
        discovered: usize,
        plan: &SpawnPlan,
        created: usize,
    ) -> Self {
        let created = i64::try_from(created).unwrap_or(i64::MAX);
        SpawnCounters {
            total_discovered: i64::try_from(discovered).unwrap_or(i64::MAX),
            total_tasks_created: previous_total_created.saturating_add(created),
            active_tasks: i64::from(plan.active_before).saturating_add(created),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn_item::ItemKind;

    fn item(n: u64, labels: &[&str]) -> WorkItem {
        WorkItem {
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..WorkItem::github(n, ItemKind::Issue, format!("issue {n}"))
        }
    }

    fn task(name: &str, id: &str, generation: u32, finished: bool, mark: bool) -> SpawnedTask {
        SpawnedTask {
            name: name.into(),
            item_id: Some(id.into()),
            generation,
            finished,
            needs_input_seen: mark,
        }
    }

    fn policy(max: Option<u32>) -> SpawnPolicy {
        SpawnPolicy {
            max_concurrency: max,
            exclude_labels: vec!["axon/needs-input".into()],
            ..SpawnPolicy::default()
        }
    }

    fn created_ids(plan: &SpawnPlan) -> Vec<&str> {
        plan.create.iter().map(|c| c.item_id.as_str()).collect()
    }

    #[test]
    fn suspended_creates_nothing_and_resuming_creates_what_waited() {
        let items = [item(1, &[]), item(2, &[])];
        let suspended = SpawnPolicy {
            suspended: true,
            ..policy(None)
        };
        let plan = plan_spawns("s", &items, &[], &[], &suspended);
        assert!(plan.create.is_empty());
        assert_eq!(plan.deferred, ["1", "2"]);
        assert_eq!(plan.held_by, Some(Hold::Suspended));
        let plan = plan_spawns("s", &items, &[], &[], &policy(None));
        assert_eq!(created_ids(&plan), ["1", "2"]);
        assert_eq!(plan.held_by, None);
    }

    #[test]
    fn max_total_tasks_counts_every_task_ever_made_even_when_the_status_lags() {
        let items = [item(1, &[]), item(2, &[]), item(3, &[])];
        let capped = |total_created| SpawnPolicy {
            max_total_tasks: Some(3),
            total_created,
            ..policy(None)
        };
        // Item 1 had two Tasks (a retry after needs-input), the status says 0 (it lagged):
        // only one more may be made.
        let existing = [
            task("s-1", "1", 1, true, true),
            task("s-1-r2", "1", 2, true, false),
        ];
        let plan = plan_spawns("s", &items, &existing, &[], &capped(0));
        assert_eq!(created_ids(&plan), ["2"]);
        assert_eq!(plan.deferred, ["3"]);
        assert_eq!(plan.held_by, Some(Hold::MaxTotalTasks));
        // The status knows of more than the Tasks left (TTL deleted them): it wins.
        let plan = plan_spawns("s", &items, &[], &[], &capped(3));
        assert!(plan.create.is_empty());
    }

    #[test]
    fn priority_labels_hand_out_the_slots_in_order() {
        let items = [
            item(1, &[]),
            item(2, &["p2"]),
            item(3, &["P1"]),
            item(4, &["p2"]),
            item(5, &["p1", "p2"]),
        ];
        let plan = plan_spawns(
            "s",
            &items,
            &[],
            &[],
            &SpawnPolicy {
                max_concurrency: Some(3),
                priority_labels: vec!["p1".into(), "p2".into()],
                ..policy(None)
            },
        );
        assert_eq!(created_ids(&plan), ["3", "5", "2"]);
        assert_eq!(plan.deferred, ["4", "1"]);
        assert_eq!(plan.held_by, None, "maxConcurrency alone");
        let indexes: Vec<usize> = plan.create.iter().map(|c| c.item_index).collect();
        assert_eq!(indexes, [2, 4, 1], "each Task renders its own item");
    }

    /// Applies a plan the way a driver would: creates Tasks, writes marks.
    fn apply(existing: &mut Vec<SpawnedTask>, plan: &SpawnPlan) {
        for p in &plan.create {
            if !existing.iter().any(|t| t.name == p.name) {
                existing.push(task(&p.name, &p.item_id, p.generation, false, false));
            }
        }
        for name in &plan.mark_needs_input {
            for t in existing.iter_mut().filter(|t| &t.name == name) {
                t.needs_input_seen = true;
            }
        }
    }

    #[test]
    fn new_items_get_tasks_and_existing_ones_are_skipped() {
        let items = [item(1, &[]), item(2, &[]), item(3, &["axon/needs-input"])];
        let existing = [task("s-1", "1", 1, false, false)];
        let plan = plan_spawns("s", &items, &existing, &[], &policy(None));
        insta::assert_yaml_snapshot!(plan, @r#"
        create:
          - name: s-2
            item_id: "2"
            generation: 1
            item_index: 1
        deferred: []
        excluded:
          - "3"
        mark_needs_input: []
        active_before: 1
        "#);
    }

    #[test]
    fn max_concurrency_hands_slots_to_the_oldest_items() {
        let items: Vec<WorkItem> = (1..=6).map(|n| item(n, &[])).collect();
        let existing = [
            task("s-1", "1", 1, false, false),
            task("s-2", "2", 1, true, false),
            SpawnedTask {
                name: "manual".into(),
                item_id: None,
                generation: 1,
                finished: false,
                needs_input_seen: false,
            },
        ];
        let plan = plan_spawns("s", &items, &existing, &[], &policy(Some(4)));
        let created: Vec<&str> = plan.create.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(plan.active_before, 2);
        assert_eq!(created, ["s-3", "s-4"]);
        assert_eq!(plan.deferred, ["5", "6"]);
        // Full: nothing created, everything deferred.
        let plan = plan_spawns("s", &items, &existing, &[], &policy(Some(2)));
        assert!(plan.create.is_empty());
        assert_eq!(plan.deferred, ["3", "4", "5", "6"]);
        // 0 means unlimited.
        let plan = plan_spawns("s", &items, &existing, &[], &policy(Some(0)));
        assert_eq!(plan.create.len(), 4);
    }

    #[test]
    fn finished_items_are_not_requeued_without_needing_input() {
        let items = [item(1, &[])];
        let existing = [task("s-1", "1", 1, true, false)];
        let plan = plan_spawns("s", &items, &existing, &[], &policy(None));
        assert_eq!(plan, SpawnPlan::default());
    }

    /// The whole loop, poll by poll, including repeated polls at each step and a restart
    /// (a restart is simply calling the decision again with the same Tasks).
    #[test]
    fn needs_input_requeues_exactly_once() {
        let p = policy(None);
        let mut tasks = Vec::new();
        let mut log = Vec::new();
        let mut poll = |step: &str, items: &[WorkItem], tasks: &mut Vec<SpawnedTask>| {
            for _ in 0..3 {
                let plan = plan_spawns("s", items, tasks, &[], &p);
                apply(tasks, &plan);
            }
            let mut live: Vec<String> = tasks
                .iter()
                .map(|t| {
                    format!(
                        "{}{}{}",
                        t.name,
                        if t.finished { " (finished)" } else { " (live)" },
                        if t.needs_input_seen {
                            " [needs-input]"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            live.sort();
            log.push(format!("{step}: {}", live.join(", ")));
        };
        let open = [item(7, &[])];
        let labelled = [item(7, &["axon/needs-input"])];
        poll("discovered", &open, &mut tasks);
        poll(
            "agent labels the issue while running",
            &labelled,
            &mut tasks,
        );
        tasks[0].finished = true;
        poll("task finished, label still there", &labelled, &mut tasks);
        poll("human removes the label", &open, &mut tasks);
        poll("second run still going", &open, &mut tasks);
        for t in tasks.iter_mut() {
            t.finished = true;
        }
        poll(
            "second run finished without needing input",
            &open,
            &mut tasks,
        );
        poll("needs input again", &labelled, &mut tasks);
        poll("label removed again", &open, &mut tasks);
        let mut closed = item(7, &[]);
        closed.state = ItemState::Closed;
        for t in tasks.iter_mut() {
            t.finished = true;
        }
        poll("third run finished", &open, &mut tasks);
        poll("labelled, then closed", &labelled, &mut tasks);
        poll("closed items are not re-queued", &[closed], &mut tasks);
        insta::assert_snapshot!(log.join("\n"), @r"
        discovered: s-7 (live)
        agent labels the issue while running: s-7 (live) [needs-input]
        task finished, label still there: s-7 (finished) [needs-input]
        human removes the label: s-7 (finished) [needs-input], s-7-r2 (live)
        second run still going: s-7 (finished) [needs-input], s-7-r2 (live)
        second run finished without needing input: s-7 (finished) [needs-input], s-7-r2 (finished)
        needs input again: s-7 (finished) [needs-input], s-7-r2 (finished) [needs-input]
        label removed again: s-7 (finished) [needs-input], s-7-r2 (finished) [needs-input], s-7-r3 (live)
        third run finished: s-7 (finished) [needs-input], s-7-r2 (finished) [needs-input], s-7-r3 (finished)
        labelled, then closed: s-7 (finished) [needs-input], s-7-r2 (finished) [needs-input], s-7-r3 (finished) [needs-input]
        closed items are not re-queued: s-7 (finished) [needs-input], s-7-r2 (finished) [needs-input], s-7-r3 (finished) [needs-input]
        ");
    }

    #[test]
    fn an_excluded_item_never_seen_before_gets_its_first_task_when_unlabelled() {
        let p = policy(None);
        let plan = plan_spawns("s", &[item(3, &["AXON/Needs-Input"])], &[], &[], &p);
        assert!(plan.create.is_empty() && plan.mark_needs_input.is_empty());
        assert_eq!(plan.excluded, ["3"]);
        let plan = plan_spawns("s", &[item(3, &[])], &[], &[], &p);
        assert_eq!(plan.create[0].name, "s-3");
    }

    #[test]
    fn requeues_wait_for_a_slot_too() {
        let items = [item(1, &[]), item(2, &[])];
        let existing = [
            task("s-1", "1", 1, true, true),
            task("s-2", "2", 1, false, false),
        ];
        let plan = plan_spawns("s", &items, &existing, &[], &policy(Some(1)));
        assert!(plan.create.is_empty());
        assert_eq!(plan.deferred, ["1"]);
        let plan = plan_spawns("s", &items, &existing, &[], &policy(Some(2)));
        assert_eq!(plan.create[0].name, "s-1-r2");
    }

    /// Polls with Tasks deleted by TTL as soon as they finish, so the memory alone decides:
    /// no rerun for an open item whose Task is gone, one rerun per needs-input round trip.
    #[test]
    fn deleted_tasks_are_not_recreated_but_needs_input_still_requeues() {
        use crate::spawn_memory::{ItemMemory, remember};

        #[derive(Default)]
        struct World {
            tasks: Vec<SpawnedTask>,
            memory: Vec<ItemMemory>,
            created: Vec<String>,
            clock: i64,
        }
        impl World {
            /// Polls three times (repeats and restarts change nothing); `changed` bumps the
            /// item's `updated_at` first.
            fn poll(&mut self, labels: &[&str], changed: bool) {
                let p = policy(None);
                if changed {
                    self.clock += 1;
                }
                let mut it = item(7, labels);
                it.updated_at = jiff::Timestamp::from_second(1_770_000_000 + self.clock).ok();
                let items = [it];
                for _ in 0..3 {
                    let plan = plan_spawns("s", &items, &self.tasks, &self.memory, &p);
                    let created: Vec<(String, u32)> = plan
                        .create
                        .iter()
                        .map(|c| (c.item_id.clone(), c.generation))
                        .collect();
                    self.created
                        .extend(plan.create.iter().map(|c| c.name.clone()));
                    let before = self.tasks.clone();
                    apply(&mut self.tasks, &plan);
                    self.memory =
                        remember(&self.memory, &items, &before, &created, &p.exclude_labels);
                }
            }

            /// The Tasks finish and TTL deletes them.
            fn ttl(&mut self) {
                self.tasks.clear();
            }
        }

        let mut w = World::default();
        w.poll(&[], false);
        w.ttl();
        w.poll(&[], false);
        w.poll(&[], true); // a comment: changed, but no mark
        assert_eq!(w.created, ["s-7"], "a deleted Task is not re-created");
        w.poll(&["axon/needs-input"], true);
        w.poll(&[], true);
        assert_eq!(w.created, ["s-7", "s-7-r2"]);
        w.ttl();
        w.poll(&[], false);
        w.poll(&[], true);
        assert_eq!(w.created, ["s-7", "s-7-r2"]);
        // Labelled after the Task was deleted, then unlabelled.
        w.poll(&["axon/needs-input"], true);
        w.poll(&[], true);
        assert_eq!(w.created, ["s-7", "s-7-r2", "s-7-r3"]);
        // Labelled while the Task runs, the Task deleted, then the label removed.
        w.poll(&["axon/needs-input"], true);
        w.ttl();
        w.poll(&["axon/needs-input"], false);
        w.poll(&[], true);
        w.poll(&[], false);
        assert_eq!(w.created, ["s-7", "s-7-r2", "s-7-r3", "s-7-r4"]);
        assert_eq!(w.memory.len(), 1);
        assert_eq!(w.memory[0].generation, 4);
    }

    #[test]
    fn a_remembered_mark_needs_a_change_since_the_last_task() {
        use crate::spawn_memory::ItemMemory;
        let mut it = item(7, &[]);
        it.updated_at = jiff::Timestamp::from_second(100).ok();
        let memory = |updated: i64| ItemMemory {
            id: "7".into(),
            generation: 2,
            updated_at: jiff::Timestamp::from_second(updated).ok(),
            needs_input_seen: true,
        };
        let plan = plan_spawns(
            "s",
            std::slice::from_ref(&it),
            &[],
            &[memory(100)],
            &policy(None),
        );
        assert!(plan.create.is_empty());
        let plan = plan_spawns(
            "s",
            std::slice::from_ref(&it),
            &[],
            &[memory(99)],
            &policy(None),
        );
        assert_eq!(plan.create[0].name, "s-7-r3");
        // An older Task still around does not lower the remembered generation.
        let old = [task("s-7", "7", 1, true, true)];
        let plan = plan_spawns("s", &[it], &old, &[memory(99)], &policy(None));
        assert_eq!(plan.create[0].name, "s-7-r3");
    }

    #[test]
    fn counters() {
        let plan = SpawnPlan {
            active_before: 3,
            ..SpawnPlan::default()
        };
        insta::assert_yaml_snapshot!(SpawnCounters::after_poll(10, 25, &plan, 2), @r"
        total_discovered: 25
        total_tasks_created: 12
        active_tasks: 5
        ");
    }
}
