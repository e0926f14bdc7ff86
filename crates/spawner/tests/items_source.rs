//! The `when.items` source (fan-out) through the spawner loop, on the in-memory sink: Tasks in
//! list order under `maxConcurrency`, each item's Workspace, the status summary, restarts and
//! crashes without a duplicate, spec edits, and what a spec stored without validation gets.

mod common;

use axon_api::{TaskOutputs, TaskPhase, TaskSpawner, Workspace};
use axon_spawner::{ManualClock, MemorySink, PollOutcome, Spawner, SpawnerOptions};
use common::*;
use serde_json::{Value, json};

fn items_spawner(items: Value, extra: Value) -> TaskSpawner {
    let mut spec = json!({
        "when": {"items": items},
        "maxConcurrency": 2,
        "taskTemplate": {
            "type": "claude-code",
            "credentials": {"type": "api-key", "secretRef": {"name": "creds"}},
            "workspaceRef": {"name": "ws"},
            "promptTemplate": "Refactor {{.Item.name}} to the new logger; the scaffold is on {{.Deps.scaffold.Branch}}.",
            "branch": "refactor/{{.Item.name}}",
            "dependsOn": ["scaffold"],
        },
    });
    if let (Value::Object(spec), Value::Object(extra)) = (&mut spec, extra) {
        spec.extend(extra);
    }
    spawner("refactor", spec)
}

fn four_items() -> Value {
    json!([
        {"name": "billing", "repo": "https://git.example.test/billing.git"},
        {"name": "search", "workspace": "search-ws"},
        {"name": "auth"},
        {"name": "cart", "repo": "https://git.example.test/cart.git"},
    ])
}

fn setup(spawner: TaskSpawner) -> (MemorySink, ManualClock) {
    let sink = MemorySink::new();
    sink.put_spawner(spawner);
    let mut ws = workspace("https://git.example.test/template.git");
    ws.spec.git_ref = Some("main".into());
    sink.put_workspace(ws, None);
    (sink, ManualClock::new(start()))
}

fn new(sink: &MemorySink, clock: &ManualClock) -> Spawner<MemorySink, ManualClock> {
    Spawner::new(
        "refactor",
        sink.clone(),
        clock.clone(),
        SpawnerOptions::default(),
    )
}

fn status_items(sink: &MemorySink) -> Value {
    let status = sink
        .spawner("refactor")
        .and_then(|s| s.status)
        .expect("status");
    serde_json::to_value(status.items).expect("json")
}

fn finish(sink: &MemorySink, task: &str, phase: TaskPhase, pr: Option<&str>) {
    sink.set_phase(task, phase);
    sink.set_outputs(
        task,
        TaskOutputs {
            branch: Some(format!("refactor/{}", task.trim_start_matches("refactor-"))),
            pushed: pr.is_some(),
            pull_requests: pr.into_iter().map(String::from).collect(),
            ..TaskOutputs::default()
        },
    );
}

#[tokio::test]
async fn a_fan_out_from_first_poll_to_spec_edit() {
    let (sink, clock) = setup(items_spawner(four_items(), json!({})));
    let mut s = new(&sink, &clock);

    // maxConcurrency 2: the first two items, in list order.
    s.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["refactor-billing", "refactor-search"]);
    let billing = sink.tasks()["refactor-billing"].clone();
    insta::assert_yaml_snapshot!(
        "billing_task",
        (
            &billing.metadata.name,
            &billing.metadata.labels,
            &billing.metadata.annotations,
            &billing.spec
        )
    );
    assert_eq!(
        sink.tasks()["refactor-search"]
            .spec
            .workspace_ref
            .as_ref()
            .map(|r| r.name.as_str()),
        Some("search-ws")
    );
    // billing's Workspace was made from its repo, inheriting the template Workspace's ref and
    // secretRef; cart's waits for its Task.
    let workspaces = sink.workspaces();
    assert!(!workspaces.contains_key("refactor-cart"));
    insta::assert_yaml_snapshot!("billing_workspace", workspaces["refactor-billing"]);
    insta::assert_yaml_snapshot!("first_poll_status", status_items(&sink));

    // Nothing more while both run, however often it polls.
    s.poll_once().await.expect("poll");
    s.poll_once().await.expect("poll");
    assert_eq!(sink.tasks_created(), 2);

    finish(
        &sink,
        "refactor-billing",
        TaskPhase::Succeeded,
        Some("https://git.example.test/billing/pull/7"),
    );
    finish(&sink, "refactor-search", TaskPhase::Failed, None);
    s.poll_once().await.expect("poll");
    assert_eq!(sink.tasks_created(), 4);
    assert!(sink.workspaces().contains_key("refactor-cart"));
    assert_eq!(
        sink.tasks()["refactor-auth"]
            .spec
            .workspace_ref
            .as_ref()
            .map(|r| r.name.as_str()),
        Some("ws"),
        "an item without workspace or repo uses the template's"
    );
    finish(&sink, "refactor-auth", TaskPhase::Succeeded, None);
    finish(
        &sink,
        "refactor-cart",
        TaskPhase::Succeeded,
        Some("https://git.example.test/cart/pull/3"),
    );

    // A restarted spawner creates nothing: every item has its Task.
    let mut restarted = new(&sink, &clock);
    restarted.poll_once().await.expect("poll");
    restarted.poll_once().await.expect("poll");
    assert_eq!(sink.tasks_created(), 4);
    insta::assert_yaml_snapshot!("all_finished_status", status_items(&sink));
    let all_finished = status_items(&sink);

    // TTL deletes every finished Task: none comes back, and the summary keeps the results.
    for t in task_names(&sink) {
        sink.delete_task(&t);
    }
    restarted.poll_once().await.expect("poll");
    assert!(task_names(&sink).is_empty());
    assert_eq!(status_items(&sink), all_finished);

    // Spec edit: mail added, auth removed. mail gets a Task; auth's results leave the summary.
    let mut edited = sink.spawner("refactor").expect("spawner");
    edited.spec.when.items = serde_json::from_value(json!([
        {"name": "billing", "repo": "https://git.example.test/billing.git"},
        {"name": "search", "workspace": "search-ws"},
        {"name": "cart", "repo": "https://git.example.test/cart.git"},
        {"name": "mail"},
    ]))
    .expect("items");
    sink.put_spawner(edited);
    restarted.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["refactor-mail"]);
    assert_eq!(sink.tasks_created(), 5);
    let summary = status_items(&sink);
    assert_eq!(summary["total"], 4);
    assert_eq!(summary["succeeded"], 2);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["running"], 1);
    let source = sink
        .spawner("refactor")
        .and_then(|s| s.status)
        .and_then(|s| s.source);
    assert_eq!(source.as_deref(), Some("items (4)"));
}

/// A crash between two creations, and one after creating and before writing status: the
/// restarted spawner finishes the job with no duplicate.
#[tokio::test]
async fn crashes_mid_poll_never_duplicate_a_task() {
    let (sink, clock) = setup(items_spawner(four_items(), json!({"maxConcurrency": 10})));
    sink.fail_creates_after(Some(1));
    let mut s = new(&sink, &clock);
    assert!(s.poll_once().await.is_err(), "the store fails mid-poll");
    assert_eq!(task_names(&sink), ["refactor-billing"]);
    sink.fail_creates_after(None);
    sink.fail_status_updates(1);
    let mut restarted = new(&sink, &clock);
    assert!(
        restarted.poll_once().await.is_err(),
        "status lost after creating"
    );
    let mut again = new(&sink, &clock);
    again.poll_once().await.expect("poll");
    again.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink).len(), 4);
    assert_eq!(sink.tasks_created(), 4, "no duplicate");
    // Each derived Workspace was written once: later polls find it as wanted.
    assert_eq!(sink.workspace_writes(), 2);
}

/// A Workspace of the derived name that the spawner did not make is left alone: that item
/// waits, with the reason in status, and the others go ahead.
#[tokio::test]
async fn a_foreign_workspace_is_not_taken_over() {
    let (sink, clock) = setup(items_spawner(four_items(), json!({"maxConcurrency": 10})));
    let mut foreign: Workspace = workspace("https://git.example.test/other.git");
    foreign.metadata.name = Some("refactor-billing".into());
    sink.put_workspace(foreign.clone(), None);
    let mut s = new(&sink, &clock);
    let PollOutcome::Polled(report) = s.poll_once().await.expect("poll") else {
        panic!("polled");
    };
    assert_eq!(report.workspace_errors, ["billing"]);
    assert_eq!(
        task_names(&sink),
        ["refactor-auth", "refactor-cart", "refactor-search"]
    );
    assert_eq!(sink.workspaces()["refactor-billing"], foreign);
    let status = sink
        .spawner("refactor")
        .and_then(|s| s.status)
        .expect("status");
    insta::assert_snapshot!(status.message.unwrap_or_default(), @r#"4 items discovered, 3 Tasks created; 1 items wait for their Workspace: Workspace "refactor-billing" exists and was not made by TaskSpawner "refactor": rename the item, delete that Workspace, or name it in the item's workspace field instead of repo"#);
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "WorkspaceError")
        .expect("condition");
    assert_eq!(condition.status, "True");
    assert_eq!(status.items.expect("summary").waiting, 1);
}

/// A spec stored without `axon validate` (say `kubectl apply`): the spawner refuses it with
/// the same one-line reason and creates nothing.
#[tokio::test]
async fn a_bad_item_list_fails_the_spawner_with_the_rule() {
    let cases = [
        json!([{"name": "billing"}, {"name": "billing"}]),
        json!([{"name": "billing"}, {"service": "search"}]),
        json!([{"name": "Billing"}]),
        Value::Array(vec![json!({"name": "x"}); 1001]),
    ];
    let mut messages = Vec::new();
    for items in cases {
        let (sink, clock) = setup(items_spawner(items, json!({})));
        let mut s = new(&sink, &clock);
        let PollOutcome::Failed { message } = s.poll_once().await.expect("poll") else {
            panic!("failed");
        };
        assert!(task_names(&sink).is_empty());
        messages.push(message);
    }
    insta::assert_snapshot!(messages.join("\n"), @r#"
    spec.when.items[1].name: "billing" is also the name of spec.when.items[0]: keys must be unique, each names one Task (refactor-billing)
    spec.when.items[1]: has no "name" field: every item needs one, it names the item's Task `refactor-<name>` (spec.when.itemKey says which field names items; default name)
    spec.when.items[0].name: "Billing" names Task "refactor-Billing", which is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit): `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
    spec.when.items: has 1001 items: a TaskSpawner fans out to at most 1000 items (split the list over several TaskSpawners)
    "#);
}

/// A derived Workspace is owned by its spawner like its Tasks (`axon_core::ownership`), so
/// deleting the spawner deletes it on either backend; a Workspace an item only names is not.
#[tokio::test]
async fn derived_workspaces_are_owned_by_the_spawner() {
    let mut spawner = items_spawner(four_items(), json!({"maxConcurrency": 4}));
    spawner.metadata.uid = Some("uid-refactor".into());
    let (sink, clock) = setup(spawner);
    new(&sink, &clock).poll_once().await.expect("poll");
    let workspaces = sink.workspaces();
    for name in ["refactor-billing", "refactor-cart"] {
        let owners = workspaces[name]
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default();
        assert_eq!(owners.len(), 1, "{name}: {owners:?}");
        assert_eq!(
            (
                owners[0].kind.as_str(),
                owners[0].name.as_str(),
                owners[0].uid.as_str()
            ),
            ("TaskSpawner", "refactor", "uid-refactor")
        );
        assert_eq!(owners[0].controller, Some(true));
    }
    assert!(workspaces["ws"].metadata.owner_references.is_none());
}

/// The gateway's fields of the template (budget, network, policy, pricing) reach every spawned
/// Task unchanged: the gateway reads them from the Task.
#[tokio::test]
async fn spawned_tasks_carry_the_templates_gateway_fields() {
    let (sink, clock) = setup(spawner(
        "refactor",
        json!({
            "when": {"items": [{"name": "billing"}]},
            "taskTemplate": {
                "type": "claude-code",
                "credentials": {"type": "api-key", "secretRef": {"name": "creds"}},
                "workspaceRef": {"name": "ws"},
                "promptTemplate": "Refactor {{.Item.name}}",
                "budget": {"maxCostUSD": 1.5, "maxTurns": 20},
                "network": {"mode": "restricted", "allow": ["pypi.org"]},
                "policy": {"protectedBranches": ["release/*"]},
                "pricing": [{"model": "m", "inputPerMTok": 1, "outputPerMTok": 2}],
            },
        }),
    ));
    let mut s = new(&sink, &clock);
    s.poll_once().await.expect("poll");
    let template = sink
        .spawner("refactor")
        .expect("spawner")
        .spec
        .task_template;
    let task = sink.tasks()["refactor-billing"].clone();
    assert!(template.budget.is_some() && template.network.is_some());
    assert_eq!(task.spec.budget, template.budget);
    assert_eq!(task.spec.network, template.network);
    assert_eq!(task.spec.policy, template.policy);
    assert_eq!(task.spec.pricing, template.pricing);
}
