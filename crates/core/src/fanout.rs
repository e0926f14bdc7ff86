//! The `when.items` source (fan-out): a fixed list of items in the TaskSpawner's spec, each a
//! map of strings, one Task per item named exactly `<spawner>-<key>`, where the key is the
//! item's value under `when.itemKey` (default `name`).
//!
//! The list is static: once every item's Task exists the spawner creates nothing more. Items
//! go through the same spawn decision as GitHub issues ([`crate::spawn::plan_spawns`]: names
//! are identities, creation is idempotent, `maxConcurrency` hands out slots in list order, the
//! spawner's memory keeps a Task deleted by TTL from coming back), so a crash at any point
//! never duplicates a Task. Editing the list adds Tasks for new items and leaves the Tasks of
//! removed items alone.
//!
//! Two item fields choose where an item's Task works: `workspace` names an existing Workspace;
//! `repo` makes the spawner create one, `<spawner>-<key>`, for that repository, inheriting
//! `ref`, `secretRef` and `files` from the template's Workspace when there is one. Without
//! either, the Task uses `taskTemplate.workspaceRef` (or none).
//!
//! Everything about an item that can be wrong is refused at `axon validate`/apply, one line
//! naming the field and the limit ([`item_violations`]); the spawner checks the same rules at
//! each poll, since a cluster may store a spec that never went through them.

use crate::spawn_item::WorkItem;
use crate::spawn_name::item_task_name;
use axon_api::contract::LABEL_TASKSPAWNER;
use axon_api::rules::Violation;
use axon_api::{LocalObjectReference, When, Workspace, WorkspaceSpec};
use std::collections::{BTreeMap, HashMap};

/// At most this many items in one TaskSpawner.
pub const MAX_ITEMS: usize = 1000;

/// The item field naming an item when `when.itemKey` is not set.
pub const DEFAULT_ITEM_KEY: &str = "name";

/// Item field: the name of an existing Workspace for the item's Task.
pub const WORKSPACE_FIELD: &str = "workspace";

/// Item field: a repository URL; the spawner creates Workspace `<spawner>-<key>` for it.
pub const REPO_FIELD: &str = "repo";

/// The item field whose value names an item.
pub fn item_key(when: &When) -> &str {
    when.item_key.as_deref().unwrap_or(DEFAULT_ITEM_KEY)
}

/// The items of `when.items` as work items, in list order (`{{.ID}}` is the key). The list is
/// a table: a field that any item has is a field of every item, empty where absent, so
/// `{{.Item.owner}}` works for all items while a field no item has stays an error. Items
/// without the key are left out: [`item_violations`] refuses them.
pub fn work_items(when: &When) -> Vec<WorkItem> {
    let key = item_key(when);
    let items = when.items.as_deref().unwrap_or_default();
    let columns: BTreeMap<String, String> = items
        .iter()
        .flat_map(|fields| fields.keys())
        .map(|k| (k.clone(), String::new()))
        .collect();
    items
        .iter()
        .filter_map(|fields| {
            let id = fields.get(key)?;
            let mut row = columns.clone();
            row.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(WorkItem::listed(id.clone(), row))
        })
        .collect()
}

/// The broken rules of `when.items` of TaskSpawner `spawner` (empty: none), in list order.
pub fn item_violations(spawner: &str, when: &When) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut push = |path: String, reason: String| out.push(Violation { path, reason });
    let Some(items) = &when.items else {
        if when.item_key.is_some() {
            push(
                "spec.when.itemKey".into(),
                "is only used with spec.when.items: remove it, or list the items".into(),
            );
        }
        return out;
    };
    if items.len() > MAX_ITEMS {
        push(
            "spec.when.items".into(),
            format!(
                "has {} items: a TaskSpawner fans out to at most {MAX_ITEMS} items (split the list over several TaskSpawners)",
                items.len()
            ),
        );
        return out;
    }
    let key = item_key(when);
    if key.is_empty() {
        push(
            "spec.when.itemKey".into(),
            "is empty: name the item field whose value names each item's Task (default name)"
                .into(),
        );
        return out;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, fields) in items.iter().enumerate() {
        let Some(value) = fields.get(key) else {
            push(
                format!("spec.when.items[{i}]"),
                format!(
                    "has no {key:?} field: every item needs one, it names the item's Task `{spawner}-<{key}>` (spec.when.itemKey says which field names items; default name)"
                ),
            );
            continue;
        };
        let path = format!("spec.when.items[{i}].{key}");
        if let Err(reason) = item_task_name(spawner, value) {
            push(path, reason);
            continue;
        }
        if let Some(first) = seen.insert(value.as_str(), i) {
            push(
                path,
                format!(
                    "{value:?} is also the {key} of spec.when.items[{first}]: keys must be unique, each names one Task ({spawner}-{value})"
                ),
            );
            seen.insert(value.as_str(), first);
            continue;
        }
        match (fields.get(WORKSPACE_FIELD), fields.get(REPO_FIELD)) {
            (Some(_), Some(_)) => push(
                format!("spec.when.items[{i}]"),
                format!(
                    "sets both {WORKSPACE_FIELD} and {REPO_FIELD}: name an existing Workspace, or give a repository for the spawner to make one, not both"
                ),
            ),
            (Some(ws), None) => {
                if let Err(reason) = axon_api::rules::check_reference_name(ws, "Workspace") {
                    push(format!("spec.when.items[{i}].{WORKSPACE_FIELD}"), reason);
                }
            }
            (None, Some(repo)) => {
                if let Err(reason) = axon_api::rules::check_repo(repo) {
                    push(format!("spec.when.items[{i}].{REPO_FIELD}"), reason);
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Where an item's Task works.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemWorkspace {
    /// `taskTemplate.workspaceRef` (or no Workspace).
    Template,
    /// The Workspace its `workspace` field names.
    Named(String),
    /// A Workspace made for its `repo` field, which the spawner creates (see
    /// [`workspace_action`]) before the Task.
    Derived(Box<Workspace>),
}

impl ItemWorkspace {
    /// The Task's `workspaceRef`, given the template's.
    pub fn workspace_ref(
        &self,
        template: Option<&LocalObjectReference>,
    ) -> Option<LocalObjectReference> {
        match self {
            ItemWorkspace::Template => template.cloned(),
            ItemWorkspace::Named(name) => Some(LocalObjectReference { name: name.clone() }),
            ItemWorkspace::Derived(ws) => Some(LocalObjectReference {
                name: ws.metadata.name.clone().unwrap_or_default(),
            }),
        }
    }
}

/// Where `item`'s Task works (an item's `workspace` or `repo`, if not empty). `template` is the Workspace of `taskTemplate.workspaceRef`,
/// when there is one: a derived Workspace inherits its `ref`, `secretRef` and `files`.
pub fn item_workspace(
    spawner: &str,
    namespace: Option<&str>,
    item: &WorkItem,
    template: Option<&WorkspaceSpec>,
) -> ItemWorkspace {
    // Empty: absent from this item (another item has the field).
    let field = |f: &str| item.fields.get(f).filter(|v| !v.is_empty());
    if let Some(name) = field(WORKSPACE_FIELD) {
        return ItemWorkspace::Named(name.clone());
    }
    let Some(repo) = field(REPO_FIELD) else {
        return ItemWorkspace::Template;
    };
    let spec = WorkspaceSpec {
        repo: repo.clone(),
        git_ref: template.and_then(|t| t.git_ref.clone()),
        secret_ref: template.and_then(|t| t.secret_ref.clone()),
        files: template.map(|t| t.files.clone()).unwrap_or_default(),
        setup_command: template.and_then(|t| t.setup_command.clone()),
        clone_depth: template.and_then(|t| t.clone_depth),
        remotes: template.map(|t| t.remotes.clone()).unwrap_or_default(),
    };
    let mut ws = Workspace::new(&format!("{spawner}-{}", item.id), spec);
    ws.metadata.namespace = namespace.map(String::from);
    ws.metadata.labels = Some(BTreeMap::from([(
        LABEL_TASKSPAWNER.to_string(),
        spawner.to_string(),
    )]));
    ItemWorkspace::Derived(Box::new(ws))
}

/// The names of the Workspaces spawner `spawner` makes for `when.items` (items with a `repo`
/// and no `workspace`): exactly what its Kubernetes Role lets it read and replace.
pub fn derived_workspace_names(spawner: &str, when: &When) -> Vec<String> {
    work_items(when)
        .iter()
        .filter_map(|item| match item_workspace(spawner, None, item, None) {
            ItemWorkspace::Derived(ws) => ws.metadata.name.clone(),
            _ => None,
        })
        .collect()
}

/// What to do about a derived Workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkspaceAction {
    /// It does not exist: create it.
    Create,
    /// This spawner made it, for another repository or template: replace its spec.
    Update,
    /// It exists as wanted.
    Keep,
    /// A Workspace of that name exists that this spawner did not make: leave it, create no
    /// Task for the item, and say why.
    Conflict(String),
}

/// What to do about derived Workspace `wanted` of spawner `spawner`, given the Workspace of
/// that name that exists, if any. Only Workspaces labelled with this spawner are changed.
pub fn workspace_action(
    spawner: &str,
    wanted: &Workspace,
    existing: Option<&Workspace>,
) -> WorkspaceAction {
    let Some(existing) = existing else {
        return WorkspaceAction::Create;
    };
    let ours = existing
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_TASKSPAWNER))
        .is_some_and(|s| s == spawner);
    let name = wanted.metadata.name.as_deref().unwrap_or_default();
    if !ours {
        return WorkspaceAction::Conflict(format!(
            "Workspace {name:?} exists and was not made by TaskSpawner {spawner:?}: rename the item, delete that Workspace, or name it in the item's {WORKSPACE_FIELD} field instead of {REPO_FIELD}"
        ));
    }
    if existing.spec == wanted.spec {
        WorkspaceAction::Keep
    } else {
        WorkspaceAction::Update
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::SecretReference;

    fn when(items: &[&[(&str, &str)]], key: Option<&str>) -> When {
        When {
            items: Some(
                items
                    .iter()
                    .map(|fields| {
                        fields
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect()
                    })
                    .collect(),
            ),
            item_key: key.map(String::from),
            ..When::default()
        }
    }

    fn lines(v: &[Violation]) -> String {
        v.iter()
            .map(|v| format!("{}: {}", v.path, v.reason))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn derived_workspace_names_are_the_items_with_a_repo_and_no_workspace() {
        let w = when(
            &[
                &[("name", "billing"), ("repo", "https://example.com/b.git")],
                &[("name", "search"), ("workspace", "shared")],
                &[
                    ("name", "both"),
                    ("repo", "https://example.com/x.git"),
                    ("workspace", "shared"),
                ],
                &[("name", "plain")],
                &[("name", "auth"), ("repo", "https://example.com/a.git")],
            ],
            None,
        );
        assert_eq!(
            derived_workspace_names("refactor", &w),
            vec!["refactor-billing".to_string(), "refactor-auth".to_string()]
        );
        assert!(derived_workspace_names("refactor", &When::default()).is_empty());
    }

    #[test]
    fn good_items_have_no_violations_and_become_work_items_in_order() {
        let w = when(
            &[
                &[
                    ("name", "billing"),
                    ("repo", "https://example.test/billing.git"),
                ],
                &[("name", "search"), ("workspace", "search-ws")],
                &[("name", "auth")],
            ],
            None,
        );
        assert!(item_violations("refactor", &w).is_empty());
        let ids: Vec<String> = work_items(&w).into_iter().map(|i| i.id).collect();
        assert_eq!(ids, ["billing", "search", "auth"]);
        let w = when(&[&[("service", "billing")]], Some("service"));
        assert!(item_violations("refactor", &w).is_empty());
        assert_eq!(work_items(&w)[0].fields["service"], "billing");
        // A field of any item is a field of every item, empty where absent.
        let w = when(&[&[("name", "a"), ("owner", "x")], &[("name", "b")]], None);
        let items = work_items(&w);
        assert_eq!(items[1].fields.get("owner").map(String::as_str), Some(""));
        assert_eq!(items[0].fields["owner"], "x");
    }

    #[test]
    fn every_bad_item_is_named_with_its_field_and_limit() {
        let long = "x".repeat(60);
        let w = when(
            &[
                &[("name", "billing")],
                &[("service", "search")],
                &[("name", "Search")],
                &[("name", &long)],
                &[("name", "billing")],
                &[("name", "a"), ("workspace", "w"), ("repo", "r")],
                &[("name", "b"), ("workspace", "Bad_WS")],
                &[("name", "c"), ("repo", "--upload-pack=x")],
            ],
            None,
        );
        insta::assert_snapshot!(lines(&item_violations("refactor", &w)), @r#"
        spec.when.items[1]: has no "name" field: every item needs one, it names the item's Task `refactor-<name>` (spec.when.itemKey says which field names items; default name)
        spec.when.items[2].name: "Search" names Task "refactor-Search", which is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit): `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        spec.when.items[3].name: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" names Task "refactor-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", which is 69 characters, over the limit of 63: `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        spec.when.items[4].name: "billing" is also the name of spec.when.items[0]: keys must be unique, each names one Task (refactor-billing)
        spec.when.items[5]: sets both workspace and repo: name an existing Workspace, or give a repository for the spawner to make one, not both
        spec.when.items[6].workspace: "Bad_WS" is not a valid Workspace name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)
        spec.when.items[7].repo: "--upload-pack=x" starts with '-': it would reach git as an option, not as a repository
        "#);
    }

    #[test]
    fn limits_on_the_list_and_the_key() {
        let one: &[(&str, &str)] = &[("name", "a")];
        let many: Vec<&[(&str, &str)]> = vec![one; MAX_ITEMS + 1];
        let mut w = when(&many, None);
        insta::assert_snapshot!(lines(&item_violations("s", &w)), @r"spec.when.items: has 1001 items: a TaskSpawner fans out to at most 1000 items (split the list over several TaskSpawners)");
        w.items = Some(vec![BTreeMap::new(); MAX_ITEMS]);
        // At the limit, the list itself is fine (each item is then checked).
        assert!(
            item_violations("s", &w)
                .iter()
                .all(|v| v.path != "spec.when.items")
        );
        let w = When {
            item_key: Some("service".into()),
            ..When::default()
        };
        insta::assert_snapshot!(lines(&item_violations("s", &w)), @r"spec.when.itemKey: is only used with spec.when.items: remove it, or list the items");
        let w = when(&[one], Some(""));
        insta::assert_snapshot!(lines(&item_violations("s", &w)), @r"spec.when.itemKey: is empty: name the item field whose value names each item's Task (default name)");
    }

    fn template_ws() -> WorkspaceSpec {
        WorkspaceSpec {
            repo: "https://example.test/template.git".into(),
            git_ref: Some("main".into()),
            secret_ref: Some(SecretReference { name: "gh".into() }),
            files: Vec::new(),
            setup_command: None,
            clone_depth: None,
            remotes: Vec::new(),
        }
    }

    #[test]
    fn an_item_chooses_its_workspace() {
        let items = work_items(&when(
            &[
                &[
                    ("name", "billing"),
                    ("repo", "https://example.test/billing.git"),
                ],
                &[("name", "search"), ("workspace", "search-ws")],
                &[("name", "auth")],
            ],
            None,
        ));
        let template_ref = LocalObjectReference {
            name: "template".into(),
        };
        let chosen: Vec<ItemWorkspace> = items
            .iter()
            .map(|i| item_workspace("refactor", Some("team"), i, Some(&template_ws())))
            .collect();
        let refs: Vec<Option<String>> = chosen
            .iter()
            .map(|c| c.workspace_ref(Some(&template_ref)).map(|r| r.name))
            .collect();
        assert_eq!(
            refs,
            [
                Some("refactor-billing".to_string()),
                Some("search-ws".to_string()),
                Some("template".to_string())
            ]
        );
        let ItemWorkspace::Derived(ws) = &chosen[0] else {
            panic!("derived: {chosen:?}");
        };
        insta::assert_yaml_snapshot!(ws, @r#"
        apiVersion: axon.io/v1alpha1
        kind: Workspace
        metadata:
          labels:
            axon.io/taskspawner: refactor
          name: refactor-billing
          namespace: team
        spec:
          repo: "https://example.test/billing.git"
          ref: main
          secretRef:
            name: gh
        "#);
        // Without a template Workspace: the repository alone, default branch, no secret.
        let ItemWorkspace::Derived(bare) = item_workspace("refactor", None, &items[0], None) else {
            panic!("derived");
        };
        assert_eq!(bare.spec.git_ref, None);
        assert_eq!(bare.spec.secret_ref, None);
    }

    #[test]
    fn derived_workspaces_are_created_once_and_only_ours_are_changed() {
        let item = &work_items(&when(
            &[&[
                ("name", "billing"),
                ("repo", "https://example.test/billing.git"),
            ]],
            None,
        ))[0];
        let ItemWorkspace::Derived(wanted) = item_workspace("refactor", None, item, None) else {
            panic!("derived");
        };
        assert_eq!(
            workspace_action("refactor", &wanted, None),
            WorkspaceAction::Create
        );
        assert_eq!(
            workspace_action("refactor", &wanted, Some(&wanted)),
            WorkspaceAction::Keep
        );
        let mut moved = (*wanted).clone();
        moved.spec.repo = "https://example.test/old.git".into();
        assert_eq!(
            workspace_action("refactor", &wanted, Some(&moved)),
            WorkspaceAction::Update
        );
        let mut theirs = (*wanted).clone();
        theirs.metadata.labels = None;
        let WorkspaceAction::Conflict(why) = workspace_action("refactor", &wanted, Some(&theirs))
        else {
            panic!("conflict");
        };
        insta::assert_snapshot!(why, @r#"Workspace "refactor-billing" exists and was not made by TaskSpawner "refactor": rename the item, delete that Workspace, or name it in the item's workspace field instead of repo"#);
    }

    /// The whole life of a fan-out, poll by poll, through the same decision as GitHub items:
    /// `maxConcurrency` in list order, nothing more once every item has a Task (also after
    /// TTL deletes them, and after a crash that lost the status), new items after a spec
    /// edit, removed items' Tasks left alone.
    #[test]
    fn items_through_the_spawn_decision() {
        use crate::spawn::{SpawnPolicy, SpawnedTask, plan_spawns};
        use crate::spawn_memory::{ItemMemory, remember};

        #[derive(Default)]
        struct World {
            tasks: Vec<SpawnedTask>,
            memory: Vec<ItemMemory>,
            log: Vec<String>,
        }
        impl World {
            fn poll(&mut self, step: &str, names: &[&str]) {
                let fields: Vec<Vec<(&str, &str)>> =
                    names.iter().map(|n| vec![("name", *n)]).collect();
                let refs: Vec<&[(&str, &str)]> = fields.iter().map(Vec::as_slice).collect();
                let w = when(&refs, None);
                assert!(item_violations("fan", &w).is_empty());
                let items = work_items(&w);
                let policy = SpawnPolicy {
                    max_concurrency: Some(2),
                    exact_names: true,
                    ..SpawnPolicy::default()
                };
                let plan = plan_spawns("fan", &items, &self.tasks, &self.memory, &policy);
                let created: Vec<(String, u32)> = plan
                    .create
                    .iter()
                    .map(|c| (c.item_id.clone(), c.generation))
                    .collect();
                let before = self.tasks.clone();
                for c in &plan.create {
                    assert!(!self.tasks.iter().any(|t| t.name == c.name), "duplicate");
                    self.tasks.push(SpawnedTask {
                        name: c.name.clone(),
                        item_id: Some(c.item_id.clone()),
                        generation: c.generation,
                        finished: false,
                        needs_input_seen: false,
                    });
                }
                self.memory = remember(&self.memory, &items, &before, &created, &[]);
                let made: Vec<&str> = plan.create.iter().map(|c| c.name.as_str()).collect();
                self.log.push(format!(
                    "{step}: create [{}], waiting [{}]",
                    made.join(", "),
                    plan.deferred.join(", ")
                ));
            }
            fn finish_all(&mut self) {
                for t in &mut self.tasks {
                    t.finished = true;
                }
            }
        }
        let mut w = World::default();
        let three = ["billing", "search", "auth"];
        w.poll("first poll", &three);
        w.poll("again, both running", &three);
        w.finish_all();
        w.poll("two finished", &three);
        w.finish_all();
        w.poll("all finished", &three);
        w.tasks.clear();
        w.poll("TTL deleted every Task", &three);
        w.memory.clear();
        w.tasks = ["billing", "search", "auth"]
            .iter()
            .map(|k| SpawnedTask {
                name: format!("fan-{k}"),
                item_id: Some(k.to_string()),
                generation: 1,
                finished: true,
                needs_input_seen: false,
            })
            .collect();
        w.poll("status lost in a crash", &three);
        w.poll(
            "spec edit: cart added, auth removed",
            &["billing", "search", "cart"],
        );
        insta::assert_snapshot!(w.log.join("\n"), @r"
        first poll: create [fan-billing, fan-search], waiting [auth]
        again, both running: create [], waiting [auth]
        two finished: create [fan-auth], waiting []
        all finished: create [], waiting []
        TTL deleted every Task: create [], waiting []
        status lost in a crash: create [], waiting []
        spec edit: cart added, auth removed: create [fan-cart], waiting []
        ");
    }
}
