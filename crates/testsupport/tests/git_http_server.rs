//! The smart-HTTP git server: token check (401 without it, the token recorded with it), clone
//! and push through the real `git http-backend`, inspection, stop on drop.

use std::path::Path;
use std::process::{Command, Output};

use axon_testsupport::git_http_server::{GIT_EMAIL, GIT_NAME, GitHttpServer, SEED_README};

/// Runs git with no user config, no terminal prompt, and `token` (if any) from a credential
/// helper.
fn git(dir: &Path, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new("git");
    if let Some(token) = token {
        command.args([
            "-c",
            &format!(
                "credential.helper=!f() {{ echo username=x-access-token; echo password={token}; }}; f"
            ),
        ]);
    }
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("GIT_AUTHOR_NAME", GIT_NAME)
        .env("GIT_AUTHOR_EMAIL", GIT_EMAIL)
        .env("GIT_COMMITTER_NAME", GIT_NAME)
        .env("GIT_COMMITTER_EMAIL", GIT_EMAIL)
        .output()
        .expect("run git")
}

fn ok(out: Output) {
    assert!(
        out.status.success(),
        "git failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn token_protected_clone_and_push() {
    let server = GitHttpServer::start().expect("start server");
    server.require_token("ghs_real_token");
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(server.url().ends_with("/axon/repo.git"));
    assert_eq!(server.branches(), vec!["main".to_string()]);

    let tmp = tempfile::tempdir().expect("tempdir");
    // Without a credential: refused.
    let out = git(
        tmp.path(),
        None,
        &["clone", "--quiet", &server.url(), "anon"],
    );
    assert!(!out.status.success());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.status == 401 && !r.authorized)
    );
    // With the wrong one: refused too.
    let out = git(
        tmp.path(),
        Some("wrong"),
        &["clone", "--quiet", &server.url(), "wrong"],
    );
    assert!(!out.status.success());

    ok(git(
        tmp.path(),
        Some("ghs_real_token"),
        &["clone", "--quiet", &server.url(), "work"],
    ));
    let work = tmp.path().join("work");
    assert_eq!(
        std::fs::read_to_string(work.join("README.md")).expect("readme"),
        SEED_README
    );
    std::fs::write(work.join("b.txt"), "b\n").expect("write");
    ok(git(&work, None, &["add", "-A"]));
    ok(git(&work, None, &["commit", "--quiet", "-m", "Add b"]));
    ok(git(
        &work,
        Some("ghs_real_token"),
        &["push", "--quiet", "origin", "HEAD:refs/heads/feature/b"],
    ));
    assert_eq!(
        server.branches(),
        vec!["feature/b".to_string(), "main".to_string()]
    );
    assert_eq!(server.file_at("feature/b", "b.txt").as_deref(), Some("b\n"));
    assert_eq!(server.commits("feature/b")[0].subject, "Add b");
    let pushes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/git-receive-pack") && r.method == "POST")
        .collect();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].status, 200);
    assert_eq!(pushes[0].token.as_deref(), Some("ghs_real_token"));

    let base = server.base_url();
    drop(server);
    let port = base.rsplit(':').next().expect("port");
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err());
}
