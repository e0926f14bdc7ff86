//! The CLI skeleton through the real binary: version, init, validate, completion, run --dry-run,
//! install --dry-run (no backend needed), and the `KIND/NAME` argument forms on the local backend.

mod support;

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn axon(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("axon").expect("axon binary");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AXON_HOME", home.join(".axon"));
    cmd
}

#[test]
fn version_names_the_backend_and_its_source() {
    let home = tempfile::tempdir().expect("tmp");
    axon(home.path())
        .arg("version")
        .assert()
        .success()
        .stdout(predicate::str::contains("backend: local (from default)"));
    axon(home.path())
        .args(["version", "--backend", "kubernetes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "backend: kubernetes (from --backend flag",
        ));
}

#[test]
fn init_writes_a_template_and_refuses_to_overwrite() {
    let home = tempfile::tempdir().expect("tmp");
    axon(home.path()).arg("init").assert().success();
    let path = home.path().join(".axon/config.yaml");
    let text = std::fs::read_to_string(&path).expect("config written");
    assert!(text.contains("# oauthToken:"));
    assert!(text.contains("# timeoutSeconds: 14400"), "{text}");
    axon(home.path())
        .arg("init")
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists: pass --force"));
    std::fs::write(&path, "apiKey: sekret-value\nbackend: kubernetes\n").expect("write");
    axon(home.path())
        .arg("version")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "backend: kubernetes (from config file)",
        ))
        .stdout(predicate::str::contains("sekret-value").not());
    axon(home.path())
        .args(["init", "--force"])
        .assert()
        .success();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&path).expect("meta").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn config_errors_name_the_field() {
    let home = tempfile::tempdir().expect("tmp");
    let cfg = home.path().join("c.yaml");
    std::fs::write(&cfg, "backend: cloud\n").expect("write");
    axon(home.path())
        .args(["version", "--config"])
        .arg(&cfg)
        .assert()
        .success()
        .stdout(predicate::str::contains("backend: unknown variant `cloud`"));
    axon(home.path())
        .args(["status", "--config"])
        .arg(home.path().join("missing.yaml"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "does not exist: create it with `axon init`",
        ));
}

#[test]
fn validate_accepts_examples_and_rejects_with_one_line() {
    let home = tempfile::tempdir().expect("tmp");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    axon(home.path())
        .arg("validate")
        .arg("-f")
        .arg(examples.join("06-self-development.yaml"))
        .arg(examples.join("05-taskspawner-cron.yaml"))
        .arg(examples.join("08-budget-and-network.yaml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("TaskSpawner/axon-workers valid"))
        .stdout(predicate::str::contains("Task/fix-flaky-test valid"));
    let bad = home.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: s}\nspec:\n  when: {cron: {schedule: '0 25 * * *'}}\n  taskTemplate: {type: codex, credentials: {type: api-key, secretRef: {name: c}}}\n",
    )
    .expect("write");
    let out = axon(home.path())
        .arg("validate")
        .arg("-f")
        .arg(&bad)
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("bad.yaml: document 0 (TaskSpawner/s): spec.when.cron.schedule:"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn completions_for_each_shell() {
    let home = tempfile::tempdir().expect("tmp");
    for shell in ["bash", "zsh", "fish"] {
        axon(home.path())
            .args(["completion", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("taskspawners").or(predicate::str::contains("axon")));
    }
}

#[test]
fn run_dry_run_prints_resources_without_secret_values() {
    let home = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(home.path().join(".axon")).expect("dir");
    std::fs::write(
        home.path().join(".axon/config.yaml"),
        "apiKey: sk-very-secret\nworkspace:\n  repo: https://github.com/o/r.git\n  token: ghp-very-secret\n",
    )
    .expect("write");
    let out = axon(home.path())
        .args([
            "run",
            "-p",
            "Add tests",
            "--name",
            "t1",
            "--dry-run",
            "--env",
            "A=b",
            "--timeout",
            "10m",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("kind: Task") && stdout.contains("kind: Workspace"),
        "{stdout}"
    );
    assert!(stdout.contains("timeoutSeconds: 600"), "{stdout}");
    assert!(!stdout.contains("very-secret"), "{stdout}");
    axon(home.path())
        .args(["run", "--dry-run"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no prompt"));
}

#[test]
fn install_dry_run_prints_crds_and_controller() {
    let home = tempfile::tempdir().expect("tmp");
    let out = axon(home.path())
        .args(["install", "--dry-run"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for kind in [
        "CustomResourceDefinition",
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "Deployment",
    ] {
        assert!(stdout.contains(&format!("kind: {kind}")), "{kind} missing");
    }
    assert!(stdout.contains("tasks.axon.io") && stdout.contains("taskspawners.axon.io"));
    assert!(stdout.contains("kind: Service") && stdout.contains("name: axon-gateway"));
    assert!(
        !stdout.contains("kind: Secret")
            && stdout.contains("# Not shown: Secret axon-system/axon-gateway"),
        "the gateway's key material is generated at install, never printed"
    );
}

#[test]
fn sandbox_none_is_explicit_and_warns() {
    let home = tempfile::tempdir().expect("tmp");
    axon(home.path())
        .args(["--sandbox", "none", "get", "tasks"])
        .assert()
        .success()
        .stderr(predicate::str::contains("without isolation"));
    axon(home.path())
        .args(["--sandbox", "chroot", "get", "tasks"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--sandbox"));
}

const RESOURCES: &str = "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: ws}\nspec: {repo: https://example.invalid/r.git}\n---\napiVersion: axon.io/v1alpha1\nkind: AgentConfig\nmetadata: {name: cfg}\nspec: {agentsMD: Be brief.}\n---\napiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {name: sp}\nspec:\n  when: {cron: {schedule: '0 0 1 1 *'}}\n  taskTemplate: {type: codex, credentials: {type: api-key, secretRef: {name: key}}, promptTemplate: hi}\n";

/// `axon get KIND/NAME` (what `-o name` prints) works for every kind and its short names, and
/// so do `axon delete KIND/NAME...` and `axon logs task/NAME`.
#[test]
fn kind_slash_name_arguments_like_kubectl() {
    let env = support::Env::builder("kind-name").build();
    let file = env.root().join("resources.yaml");
    std::fs::write(&file, RESOURCES).expect("write");
    env.ok(&["apply", "-f", &file.to_string_lossy()]);
    env.create_secret("key", "CODEX_API_KEY", "sk-x");
    let agent = env.agent("agent.sh", "echo done");
    env.ok(&[
        "run",
        "-p",
        "hi",
        "--name",
        "t1",
        "--type",
        "codex",
        "--secret",
        "key",
        "--image",
        &agent.to_string_lossy(),
        "-w",
    ]);

    // What `-o name` prints is accepted back, for every kind.
    for (list, name) in [
        ("tasks", "task/t1"),
        ("workspaces", "workspace/ws"),
        ("agentconfigs", "agentconfig/cfg"),
        ("taskspawners", "taskspawner/sp"),
    ] {
        let names = env.ok(&["get", list, "-o", "name"]);
        assert_eq!(names.trim(), name, "{list}");
        assert_eq!(env.ok(&["get", name, "-o", "name"]).trim(), name);
    }
    for (arg, name) in [
        ("tk/t1", "task/t1"),
        ("tasks/t1", "task/t1"),
        ("ws/ws", "workspace/ws"),
        ("ac/cfg", "agentconfig/cfg"),
        ("tsp/sp", "taskspawner/sp"),
        ("taskspawners/sp", "taskspawner/sp"),
    ] {
        assert_eq!(env.ok(&["get", arg, "-o", "name"]).trim(), name, "{arg}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["get", "task/t1", "-o", "json"])).expect("one object");
    assert_eq!(json["metadata"]["name"], "t1");
    assert!(env.ok(&["get", "task/t1"]).starts_with("NAME"));

    for (args, message) in [
        (
            vec!["get", "task/t1", "t1"],
            "already names the Task \"t1\"",
        ),
        (vec!["get", "task/"], "the name after '/' is empty"),
        (vec!["get", "pod/x"], "unknown resource type \"pod\""),
        (vec!["get", "task/nope"], "Task \"nope\" not found"),
        (vec!["logs", "ws/ws"], "only Tasks have logs"),
        (vec!["delete", "tasks"], "name the tasks to delete"),
        (
            vec!["delete", "task/t1", "ws"],
            "every argument is TYPE/NAME",
        ),
    ] {
        let out = env.output(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }

    let logs = env.ok(&["logs", "task/t1"]);
    assert!(logs.contains("done"), "{logs}");
    let deleted = env.ok(&["delete", "task/t1", "ws/ws", "taskspawner/sp"]);
    assert_eq!(
        deleted,
        "task/t1 deleted\nworkspace/ws deleted\ntaskspawner/sp deleted\n"
    );
    assert_eq!(
        env.ok(&["delete", "ac", "cfg"]),
        "agentconfig/cfg deleted\n"
    );
    assert!(env.task("t1").is_none());
}

/// The loader's field rules through `axon validate` and `axon apply`: one line naming the field
/// and what is allowed, and nothing stored.
#[test]
fn field_rules_refuse_with_one_line() {
    let env = support::Env::builder("field-rules").build();
    for (doc, line) in [
        (
            "kind: Task\nmetadata: {name: x}\nspec: {type: codex, prompt: hi, timeoutSeconds: -5, credentials: {type: api-key, secretRef: {name: k}}}\n",
            "(Task/x): spec.timeoutSeconds: must be 0 (no timeout) or a positive number of seconds, got -5",
        ),
        (
            "kind: Task\nmetadata: {name: x}\nspec: {type: codex, prompt: hi, credentials: {type: oauth, secretRef: {name: k}}}\n",
            "(Task/x): spec.credentials.type: credential type oauth is supported only by claude-code, not codex",
        ),
        (
            "kind: Task\nmetadata: {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\nspec: {type: codex, prompt: hi, credentials: {type: api-key, secretRef: {name: k}}}\n",
            "(Task/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa): metadata.name: is 64 characters: a Task name is at most 63",
        ),
        (
            "kind: Workspace\nmetadata: {name: w}\nspec: {repo: '--upload-pack=touch /tmp/x'}\n",
            "(Workspace/w): spec.repo: \"--upload-pack=touch /tmp/x\" starts with '-': it would reach git as an option",
        ),
        (
            "kind: Workspace\nmetadata: {name: w}\nspec: {repo: r, secretRef: {name: ../x}}\n",
            "(Workspace/w): spec.secretRef.name: \"../x\" is not a valid Secret name",
        ),
        (
            "kind: Workspace\nmetadata: {name: w}\nspec: {repo: r, files: [{path: .git/hooks/post-checkout, content: x}]}\n",
            "(Workspace/w): spec.files[0].path: \".git/hooks/post-checkout\" is inside .git",
        ),
    ] {
        let file = env.root().join("bad.yaml");
        std::fs::write(&file, format!("apiVersion: axon.io/v1alpha1\n{doc}")).expect("write");
        for command in ["validate", "apply"] {
            let out = env.output(&[command, "-f", &file.to_string_lossy()]);
            assert!(!out.status.success(), "{command}: {doc}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(line), "{command}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
    assert!(env.task_list().is_empty());
    assert!(env.ok(&["get", "workspaces"]).is_empty());
}
