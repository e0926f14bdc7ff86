//! Every manifest under `examples/` loads and passes validation (schema, cron, templates).

use axon_api::loader::load_file;
use std::path::Path;

#[test]
fn every_example_loads_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let docs = load_file(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!docs.is_empty(), "{} has no documents", path.display());
        for d in &docs {
            axon_core::validate::validate_document(d).unwrap_or_else(|e| panic!("{e}"));
        }
        seen += 1;
    }
    assert!(seen >= 8, "expected the eight examples, found {seen}");
}

/// The fan-out example holds together: the tracking Task depends on exactly the Tasks the
/// spawner makes (`<spawner>-<name>`), its prompt names each of them in `.Deps` (with `_` for
/// `-`), and every item renders, keeping those `.Deps` actions.
#[test]
fn the_fan_out_example_depends_on_what_it_spawns() {
    use axon_api::loader::Resource;
    use axon_core::spawn_template::TaskTemplates;
    use axon_core::template::Samples;

    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/07-taskspawner-fanout.yaml");
    let docs = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let spawner = docs
        .iter()
        .find_map(|d| match &d.resource {
            Resource::TaskSpawner(s) => Some(s.clone()),
            _ => None,
        })
        .expect("a TaskSpawner");
    let tracking = docs
        .iter()
        .find_map(|d| match &d.resource {
            Resource::Task(t) => Some(t.clone()),
            _ => None,
        })
        .expect("a Task");
    let name = spawner.metadata.name.clone().expect("name");
    let items = axon_core::fanout::work_items(&spawner.spec.when);
    let spawned: Vec<String> = items.iter().map(|i| format!("{name}-{}", i.id)).collect();
    assert_eq!(tracking.spec.depends_on, spawned);
    for task in &spawned {
        let key = format!(".Deps.{}.", task.replace('-', "_"));
        assert!(tracking.spec.prompt.contains(&key), "{key} missing");
    }
    let templates =
        TaskTemplates::parse(&spawner.spec.task_template, Samples::None).expect("parses");
    for (item, task) in items.iter().zip(&spawned) {
        let rendered = templates.render(item, task).expect("renders");
        assert!(
            rendered
                .prompt
                .contains(&format!("the {} service", item.id))
        );
        assert_eq!(
            rendered.branch.as_deref(),
            Some(format!("axon/structured-logging-{}", item.id).as_str())
        );
    }
}

/// The budget-and-network example uses every gateway field of a Task the way the README
/// describes it.
#[test]
fn the_budget_example_sets_budget_network_and_policy() {
    use axon_api::NetworkMode;
    use axon_api::loader::Resource;

    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/08-budget-and-network.yaml");
    let docs = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let task = docs
        .iter()
        .find_map(|d| match &d.resource {
            Resource::Task(t) => Some(t.clone()),
            _ => None,
        })
        .expect("a Task");
    let budget = task.spec.budget.as_ref().expect("budget");
    assert_eq!(budget.max_cost_usd, Some(2.0));
    assert_eq!(budget.max_turns, Some(30));
    let network = task.spec.network.as_ref().expect("network");
    assert_eq!(network.mode, NetworkMode::Restricted);
    assert!(network.allow.contains(&"pypi.org".to_string()));
    let policy = task.spec.policy.as_ref().expect("policy");
    assert_eq!(policy.protected_branches, ["release/*"]);
}
