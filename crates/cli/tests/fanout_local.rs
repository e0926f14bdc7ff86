//! Fan-out (`when.items`) end to end on the local backend through the real `axon serve`: a
//! TaskSpawner with three items, each its own repository on a `git daemon`, a custom agent
//! (a shell script as `taskTemplate.image`) in bubblewrap that commits and pushes a branch.
//! Three Workspaces are made from the items' `repo`, three Tasks succeed under
//! `maxConcurrency: 2`, the status summary says so with the branches, a restart of `axon serve`
//! creates nothing more, and a bad item list is refused at apply with one line.

mod support;

use axon_testsupport::git_server::GitServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;
use support::{Env, poll, str_at};

const SERVICES: [&str; 3] = ["billing", "search", "auth"];

/// `axon serve`, its stderr in `serve.log`; killed when dropped.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Serve {
    fn start(env: &Env) -> Serve {
        let log = env.root().join("serve.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log");
        let child = env
            .axon_process()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("axon serve");
        Serve { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare clone of the daemon's seeded repository at `<base>/<name>.git`.
fn bare_repo(git: &GitServer, name: &str) -> PathBuf {
    let base = git.repo_path().parent().expect("base").to_path_buf();
    let path = base.join(format!("{name}.git"));
    let ok = std::process::Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(git.repo_path())
        .arg(&path)
        .status()
        .expect("git clone");
    assert!(ok.success());
    path
}

fn git_show(repo: &Path, rev: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["show", rev])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

fn spawner_json(env: &Env) -> Value {
    serde_json::from_str(&env.ok(&["get", "taskspawner", "fleet", "-o", "json"])).expect("json")
}

#[test]
fn three_items_three_repositories_three_succeeded_tasks() {
    let env = Env::builder("fanout-local")
        .config("backend: local\n")
        .build();
    let git = GitServer::start().expect("git daemon");
    let repos: Vec<PathBuf> = SERVICES.iter().map(|s| bare_repo(&git, s)).collect();
    let url = |s: &str| format!("git://127.0.0.1:{}/{s}.git", git.port());
    let agent = env.agent(
        "refactor.sh",
        r#"set -e
echo "refactoring: $1"
git checkout -q -b "fanout/$AXON_TASK"
echo "$1" > REFACTOR.md
git add REFACTOR.md
git -c user.name=Agent -c user.email=agent@example.invalid commit -qm "$1"
git push -q origin "fanout/$AXON_TASK"
echo "pushed fanout/$AXON_TASK""#,
    );
    env.create_secret("key", "ANTHROPIC_API_KEY", "sk-x");

    // A bad list is refused at apply, one line naming the field and the rule.
    let bad = env.root().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: fleet}\nspec:\n  when:\n    items: [{name: billing}, {name: billing}]\n  taskTemplate:\n    type: claude-code\n    credentials: {type: api-key, secretRef: {name: key}}\n    promptTemplate: 'Refactor {{.Item.name}}'\n",
    )
    .expect("bad manifest");
    let refused = env.output(&["apply", "-f", &bad.to_string_lossy()]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("spec.when.items[1].name: \"billing\" is also the name of spec.when.items[0]"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let manifests = env.root().join("fleet.yaml");
    let agent = agent.display();
    let items: String = SERVICES
        .iter()
        .map(|s| {
            format!(
                "      - {{name: {s}, repo: \"{}\", owner: team-{s}}}\n",
                url(s)
            )
        })
        .collect();
    std::fs::write(
        &manifests,
        format!(
            r#"apiVersion: axon.io/v1alpha1
kind: Workspace
metadata:
  name: base
spec:
  repo: "{base}"
  ref: main
---
apiVersion: axon.io/v1alpha1
kind: TaskSpawner
metadata:
  name: fleet
spec:
  pollInterval: 1s
  maxConcurrency: 2
  when:
    items:
{items}  taskTemplate:
    type: claude-code
    image: {agent}
    credentials:
      type: api-key
      secretRef:
        name: key
    workspaceRef:
      name: base
    promptTemplate: "Refactor {{{{.Item.name}}}} for {{{{.Item.owner}}}}"
"#,
            base = url("billing"),
        ),
    )
    .expect("manifests");
    env.ok(&["apply", "-f", &manifests.to_string_lossy()]);

    let serve = Serve::start(&env);
    // Never more than two unfinished at once; all three succeed.
    let mut most_unfinished = 0;
    let mut phases: Vec<(String, String)> = Vec::new();
    let done = poll(Duration::from_secs(180), || {
        phases = env
            .task_list()
            .iter()
            .map(|t| {
                (
                    str_at(t, "/metadata/name").unwrap_or("").to_string(),
                    str_at(t, "/status/phase").unwrap_or("Pending").to_string(),
                )
            })
            .collect();
        let unfinished = phases
            .iter()
            .filter(|(_, p)| p != "Succeeded" && p != "Failed")
            .count();
        most_unfinished = most_unfinished.max(unfinished);
        phases.len() == 3 && phases.iter().all(|(_, p)| p == "Succeeded")
    });
    assert!(
        done,
        "three Tasks did not succeed: {phases:?}\n{}",
        serve.log()
    );
    assert!(
        most_unfinished <= 2,
        "maxConcurrency 2, saw {most_unfinished}"
    );
    let mut names: Vec<&str> = phases.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["fleet-auth", "fleet-billing", "fleet-search"]);

    // Each item's Workspace was made from its repo, with the template Workspace's ref; each
    // Task worked on its own repository.
    for (service, repo) in SERVICES.iter().zip(&repos) {
        let ws: Value = serde_json::from_str(&env.ok(&[
            "get",
            "workspace",
            &format!("fleet-{service}"),
            "-o",
            "json",
        ]))
        .expect("workspace json");
        assert_eq!(str_at(&ws, "/spec/repo"), Some(url(service).as_str()));
        assert_eq!(str_at(&ws, "/spec/ref"), Some("main"));
        let task = env.task(&format!("fleet-{service}")).expect("task");
        assert_eq!(
            str_at(&task, "/spec/workspaceRef/name"),
            Some(format!("fleet-{service}").as_str())
        );
        assert_eq!(
            git_show(repo, &format!("fanout/fleet-{service}:REFACTOR.md")).as_deref(),
            Some(format!("Refactor {service} for team-{service}\n").as_str()),
            "{service}"
        );
    }

    // The summary follows at the next poll: three succeeded, with their branches.
    let mut summary = Value::Null;
    let summarised = poll(Duration::from_secs(30), || {
        summary = spawner_json(&env)["status"]["items"].clone();
        summary["succeeded"] == 3
    });
    assert!(summarised, "{summary:#}");
    assert_eq!(summary["total"], 3);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["running"], 0);
    assert_eq!(summary["waiting"], 0);
    let branches: Vec<&str> = summary["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["branch"].as_str())
        .collect();
    assert_eq!(
        branches,
        [
            "fanout/fleet-billing",
            "fanout/fleet-search",
            "fanout/fleet-auth"
        ]
    );
    let table = env.ok(&["get", "taskspawner", "fleet"]);
    assert!(
        table.contains("3 items: 3 succeeded, 0 failed, 0 running, 0 waiting"),
        "{table}"
    );
    assert!(table.contains("items (3)"), "{table}");
    let yaml = env.ok(&["get", "taskspawner", "fleet", "-o", "yaml"]);
    assert!(yaml.contains("branch: fanout/fleet-auth"), "{yaml}");

    // Killed and restarted: a few more polls create nothing.
    drop(serve);
    let before = spawner_json(&env)["status"]["lastDiscoveryTime"].clone();
    let serve = Serve::start(&env);
    let polled = poll(Duration::from_secs(30), || {
        spawner_json(&env)["status"]["lastDiscoveryTime"] != before
    });
    assert!(polled, "serve did not poll after restart: {}", serve.log());
    assert_eq!(env.task_list().len(), 3, "no Task created twice");
    assert_eq!(spawner_json(&env)["status"]["totalTasksCreated"], 3);

    // Deleting the spawner deletes what it owns: its Tasks and the Workspaces it made, not
    // the template's Workspace.
    drop(serve);
    env.ok(&["delete", "taskspawner", "fleet"]);
    assert!(env.task_list().is_empty(), "its Tasks go with it");
    let workspaces = env.ok(&["get", "workspaces"]);
    assert!(!workspaces.contains("fleet-"), "{workspaces}");
    assert!(workspaces.contains("base"), "{workspaces}");
}
