//! The CLI skeleton through the real binary: version, init, validate, completion, run --dry-run,
//! install --dry-run. No backend is needed for any of these.

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
        .assert()
        .success()
        .stdout(predicate::str::contains("TaskSpawner/axon-workers valid"));
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
