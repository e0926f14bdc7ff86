//! The git server: seeded bare repo, clone and push over `git://` on 127.0.0.1, inspection.

use std::path::Path;
use std::process::Command;

use axon_testsupport::git_server::{GIT_EMAIL, GIT_NAME, GitServer, SEED_README};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", GIT_NAME)
        .env("GIT_AUTHOR_EMAIL", GIT_EMAIL)
        .env("GIT_COMMITTER_NAME", GIT_NAME)
        .env("GIT_COMMITTER_EMAIL", GIT_EMAIL)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn seeded_clone_push_and_inspect() {
    let server = GitServer::start().expect("start git server");
    assert!(server.url().starts_with("git://127.0.0.1:"));
    assert!(server.url().ends_with("/repo.git"));
    assert_eq!(server.branches(), vec!["main".to_string()]);
    assert_eq!(
        server.file_at("main", "README.md").as_deref(),
        Some(SEED_README)
    );
    assert_eq!(server.file_at("main", "missing.txt"), None);
    assert_eq!(server.file_at("nope", "README.md"), None);
    assert_eq!(server.commits("main").len(), 1);
    assert!(server.commits("nope").is_empty());

    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().join("work");
    git(tmp.path(), &["clone", "--quiet", &server.url(), "work"]);
    std::fs::write(work.join("a.txt"), "a\n").expect("write");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "Add a"]);
    git(
        &work,
        &["push", "--quiet", "origin", "HEAD:refs/heads/feature/x"],
    );

    assert_eq!(
        server.branches(),
        vec!["feature/x".to_string(), "main".to_string()]
    );
    assert_eq!(server.file_at("feature/x", "a.txt").as_deref(), Some("a\n"));
    let commits = server.commits("feature/x");
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].subject, "Add a");
    assert_eq!(commits[0].author, GIT_NAME);
    assert_eq!(commits[1].subject, "Initial commit");

    // The file URL sees the same repository.
    let clone2 = tmp.path().join("clone2");
    git(
        tmp.path(),
        &["clone", "--quiet", &server.file_url(), "clone2"],
    );
    assert!(clone2.join("README.md").exists());
}

#[test]
fn daemon_stops_on_drop() {
    let server = GitServer::start().expect("start git server");
    let port = server.port();
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
