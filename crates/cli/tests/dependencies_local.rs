//! Task dependencies on the local backend, through the real `axon` binary: a chain whose
//! second Task starts only after the first succeeded and runs with the first's results rendered
//! into its prompt; a failed dependency failing its dependant at once; a cycle refused at apply
//! (within one file, and against the Tasks already stored); unknown dependencies waiting.

mod support;

use axon_testsupport::git_server::GitServer;
use serde_json::Value;
use support::{Env, str_at, text, until};

fn task_yaml(name: &str, agent: &str, prompt: &str, extra: &str) -> String {
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata:\n  name: {name}\nspec:\n  type: claude-code\n  prompt: {prompt:?}\n  image: {agent}\n  credentials:\n    type: api-key\n    secretRef:\n      name: key\n{extra}---\n"
    )
}

fn until_phase(env: &Env, name: &str, phase: &str) -> Value {
    let mut last = None;
    until(&format!("Task {name} {phase}"), || {
        last = env.task(name);
        last.as_ref().and_then(|t| str_at(t, "/status/phase")) == Some(phase)
    });
    last.expect("task")
}

#[test]
fn a_chain_runs_in_order_with_the_results_of_what_it_depends_on() {
    let env = Env::builder("deps").build();
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-deps");
    let git = GitServer::start().expect("git daemon");
    env.create_workspace("ws", &git.url());
    let scaffold = env.agent(
        "scaffold.sh",
        "set -e\ngit checkout -q -b feat/scaffold\necho one > one.txt\ngit add one.txt\ngit -c user.name=A -c user.email=a@example.invalid commit -qm one\necho scaffolded",
    );
    // The dependant records the prompt it got (its argument) and the branch it was given.
    let follow = env.agent(
        "follow.sh",
        "set -e\necho \"prompt: $1\"\necho \"branch: $(git rev-parse --abbrev-ref HEAD)\"",
    );
    let file = env.root().join("chain.yaml");
    let yaml = [
        // Listed first and created in the same second: it must still wait.
        task_yaml(
            "tests",
            &follow.to_string_lossy(),
            "Add tests on {{.Deps.scaffold.Branch}} after {{len .Deps.scaffold.Commits}} commit(s)",
            "  workspaceRef:\n    name: ws\n  dependsOn: [scaffold]\n",
        ),
        task_yaml(
            "scaffold",
            &scaffold.to_string_lossy(),
            "Scaffold {{not a template here}}",
            "  workspaceRef:\n    name: ws\n",
        ),
    ]
    .concat();
    std::fs::write(&file, yaml).expect("write yaml");
    let out = env.output(&["validate", "-f", &file.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out));
    env.ok(&["apply", "-f", &file.to_string_lossy()]);

    let scaffold = until_phase(&env, "scaffold", "Succeeded");
    let tests = until_phase(&env, "tests", "Succeeded");
    assert_eq!(
        str_at(&tests, "/status/prompt"),
        Some("Add tests on feat/scaffold after 1 commit(s)"),
        "{tests:#}"
    );
    // A Task without dependencies runs its prompt as written, `{{` and all.
    assert_eq!(str_at(&scaffold, "/status/prompt"), None, "{scaffold:#}");
    let started = str_at(&tests, "/status/startTime").expect("start");
    let done = str_at(&scaffold, "/status/completionTime").expect("done");
    assert!(
        started >= done,
        "tests started {started} before scaffold ended {done}"
    );
    assert_eq!(
        str_at(&tests, "/status/dependencies/0/phase"),
        Some("Succeeded"),
        "{tests:#}"
    );
    let logs = env.ok(&["logs", "tests"]);
    assert!(
        logs.contains("prompt: Add tests on feat/scaffold after 1 commit(s)"),
        "{logs}"
    );
}

#[test]
fn a_failed_dependency_fails_its_dependants_and_cycles_are_refused() {
    let env = Env::builder("deps-fail").build();
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-deps");
    let fail = env.agent("fail.sh", "echo failing; exit 4");
    let ok = env.agent("ok.sh", "echo ok");
    let (fail, ok) = (fail.to_string_lossy(), ok.to_string_lossy());

    // A cycle within one file: refused before anything is stored.
    let cyc = env.root().join("cycle.yaml");
    std::fs::write(
        &cyc,
        [
            task_yaml("a", &ok, "A", "  dependsOn: [b]\n"),
            task_yaml("b", &ok, "B", "  dependsOn: [a]\n"),
        ]
        .concat(),
    )
    .expect("write");
    for cmd in ["validate", "apply"] {
        let out = env.output(&[cmd, "-f", &cyc.to_string_lossy()]);
        assert!(!out.status.success(), "{cmd}: {}", text(&out));
        assert!(
            text(&out).contains("dependency cycle a -> b -> a"),
            "{cmd}: {}",
            text(&out)
        );
    }
    assert!(env.task("a").is_none());

    let file = env.root().join("fail.yaml");
    std::fs::write(
        &file,
        [
            task_yaml("first", &fail, "first", ""),
            task_yaml("second", &ok, "second", "  dependsOn: [first]\n"),
            task_yaml("third", &ok, "third", "  dependsOn: [second]\n"),
            task_yaml("later", &ok, "later", "  dependsOn: [not-yet]\n"),
        ]
        .concat(),
    )
    .expect("write");
    let out = env.output(&["validate", "-f", &file.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("warning: Task later depends on not-yet, which these files do not define"),
        "{}",
        text(&out)
    );
    env.ok(&["apply", "-f", &file.to_string_lossy()]);
    until_phase(&env, "first", "Failed");
    let second = until_phase(&env, "second", "Failed");
    let msg = str_at(&second, "/status/message").unwrap_or_default();
    assert!(msg.starts_with("dependency first failed: "), "{msg}");
    assert!(str_at(&second, "/status/startTime").is_none(), "{second:#}");
    let third = until_phase(&env, "third", "Failed");
    let msg = str_at(&third, "/status/message").unwrap_or_default();
    assert!(msg.starts_with("dependency second failed: "), "{msg}");

    // An unknown dependency waits, saying so, until a Task of that name exists.
    let later = until_phase(&env, "later", "Pending");
    until("later says what it waits for", || {
        env.task("later")
            .and_then(|t| str_at(&t, "/status/message").map(str::to_string))
            .is_some_and(|m| m == "waiting for dependencies: not-yet (not created yet)")
    });
    let waiting = env.task("later").expect("later");
    let cond = waiting["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Waiting"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(cond["reason"], "DependenciesNotReady", "{later:#}");
    // Closing a cycle with a stored Task is refused too.
    let back = env.root().join("back.yaml");
    std::fs::write(
        &back,
        task_yaml("not-yet", &ok, "x", "  dependsOn: [later]\n"),
    )
    .expect("write");
    let out = env.output(&["apply", "-f", &back.to_string_lossy()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dependency cycle"), "{}", text(&out));
    std::fs::write(&back, task_yaml("not-yet", &ok, "x", "")).expect("write");
    env.ok(&["apply", "-f", &back.to_string_lossy()]);
    until_phase(&env, "later", "Succeeded");
}
