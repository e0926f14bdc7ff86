//! Pushing from outside the sandbox with real git: the agent's branch to a local repository
//! (`outside_push`) and the WIP commit of a stopped run (`wip`), over `file://`, a plain path
//! and token-authenticated smart HTTP (`git http-backend` behind a small server here).
//!
//! Why: both run as the user who runs Axon (often root) on a `.git` the agent controlled, so
//! what they push must be exactly the agent's work, and nothing the agent's repository names
//! (hooks, `core.fsmonitor`, filters, alternates) may run or be read. The layout is the local
//! backend's: a mirror of the remote, the work tree a `--shared` clone of it whose `origin` is
//! the remote, the mirror's objects lent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axon_agent::outside_push::push_agent_branch;
use axon_agent::wip::{WipOutcome, WipRequest, commit_and_push};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A remote (bare, or a checkout), its mirror, and a work tree cloned from the mirror.
struct Layout {
    tmp: tempfile::TempDir,
    remote: PathBuf,
    lent: PathBuf,
    work: PathBuf,
    base: String,
}

impl Layout {
    fn new(bare: bool) -> Layout {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let seed = root.join("seed");
        std::fs::create_dir_all(&seed).expect("seed");
        git(&seed, &["init", "-q", "-b", "main"]);
        std::fs::write(seed.join("README.md"), "base\n").expect("readme");
        std::fs::write(seed.join(".gitignore"), "*.log\nbuild/\n").expect("ignore");
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "-qm", "base"]);
        let remote = root.join(if bare { "remote.git" } else { "remote" });
        let r = remote.to_string_lossy().to_string();
        if bare {
            git(root, &["clone", "-q", "--bare", "seed", &r]);
        } else {
            git(root, &["clone", "-q", "seed", &r]);
        }
        git(root, &["clone", "-q", "--mirror", &r, "mirror.git"]);
        git(root, &["clone", "-q", "--shared", "mirror.git", "work"]);
        let work = root.join("work");
        git(&work, &["remote", "set-url", "origin", &r]);
        let base = git(&work, &["rev-parse", "HEAD"]);
        Layout {
            remote,
            lent: root.join("mirror.git/objects"),
            work,
            base,
            tmp,
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.remote.display())
    }

    fn marker(&self) -> PathBuf {
        self.tmp.path().join("pwned")
    }

    /// The agent commits on `branch`.
    fn agent_commits(&self, branch: &str, file: &str) -> String {
        git(&self.work, &["checkout", "-q", "-b", branch]);
        std::fs::write(self.work.join(file), format!("{file}\n")).expect("write");
        git(&self.work, &["add", file]);
        git(&self.work, &["commit", "-qm", file]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Everything a `.git` can name to make a git run a program, aimed at [`Layout::marker`].
    fn plant_traps(&self) {
        let touch = format!("touch {}", self.marker().display());
        let w = &self.work;
        for (key, value) in [
            ("core.fsmonitor", touch.clone()),
            ("core.pager", touch.clone()),
            ("core.sshCommand", touch.clone()),
            ("core.alternateRefsCommand", touch.clone()),
            ("uploadpack.packObjectsHook", touch.clone()),
            ("filter.x.clean", format!("{touch}; cat")),
            ("filter.x.smudge", format!("{touch}; cat")),
            ("filter.x.process", touch.clone()),
            ("filter.x.required", "true".into()),
            ("credential.helper", format!("!{touch}")),
            ("remote.origin.receivepack", touch.clone()),
            ("remote.origin.uploadpack", touch.clone()),
        ] {
            git(w, &["config", key, &value]);
        }
        let hooks = w.join(".git/hooks");
        std::fs::create_dir_all(&hooks).expect("hooks");
        for hook in [
            "pre-push",
            "pre-commit",
            "post-commit",
            "post-update",
            "pre-receive",
            "update",
            "reference-transaction",
            "post-index-change",
            "pre-auto-gc",
            "post-checkout",
        ] {
            let p = hooks.join(hook);
            std::fs::write(&p, format!("#!/bin/sh\n{touch}\n")).expect("hook");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        std::fs::write(w.join(".gitattributes"), "* filter=x\n").expect("attributes");
    }
}

#[tokio::test]
async fn the_agents_branch_lands_in_a_local_repository_and_nothing_of_its_git_runs() {
    for bare in [true, false] {
        let l = Layout::new(bare);
        let head = l.agent_commits("axon/fix", "fix.txt");
        l.plant_traps();
        // A bare repository by `file://`, a checkout (on main) by its path.
        let url = if bare {
            l.url()
        } else {
            l.remote.display().to_string()
        };
        let pushed = push_agent_branch(&l.work, Some("main"), Some(&l.base), &url, Some(&l.lent))
            .await
            .expect("pushed")
            .expect("something to push");
        assert_eq!(
            (pushed.branch.as_str(), pushed.commit.as_str()),
            ("axon/fix", head.as_str())
        );
        assert_eq!(git(&l.remote, &["rev-parse", "refs/heads/axon/fix"]), head);
        assert_eq!(
            git(&l.remote, &["show", "axon/fix:fix.txt"]),
            "fix.txt",
            "bare: {bare}"
        );
        assert!(
            !l.marker().exists(),
            "a program named by the agent's .git ran"
        );
    }
}

#[tokio::test]
async fn the_base_branch_a_detached_head_and_no_commits_are_not_pushed() {
    let l = Layout::new(true);
    let url = l.url();
    let none = push_agent_branch(&l.work, Some("main"), Some(&l.base), &url, Some(&l.lent)).await;
    assert_eq!(none.expect("ok"), None, "no commits");
    // Commits on the base branch itself: never pushed from outside.
    std::fs::write(l.work.join("x"), "x").expect("write");
    git(&l.work, &["add", "x"]);
    git(&l.work, &["commit", "-qm", "on main"]);
    let on_base =
        push_agent_branch(&l.work, Some("main"), Some(&l.base), &url, Some(&l.lent)).await;
    assert_eq!(on_base.expect("ok"), None);
    assert_eq!(git(&l.remote, &["rev-parse", "main"]), l.base);
    git(&l.work, &["checkout", "-q", "--detach"]);
    let detached =
        push_agent_branch(&l.work, Some("main"), Some(&l.base), &url, Some(&l.lent)).await;
    assert_eq!(detached.expect("ok"), None);
}

/// The agent points its alternates at another repository on the host and makes its branch
/// build on a commit only that repository has: the push fails rather than carry it over.
#[tokio::test]
async fn objects_reached_through_the_agents_alternates_are_not_pushed() {
    let l = Layout::new(true);
    let secret = l.tmp.path().join("secret");
    std::fs::create_dir_all(&secret).expect("secret");
    git(&secret, &["init", "-q", "-b", "main"]);
    std::fs::write(secret.join("key"), "PRIVATE-CONTENT").expect("write");
    git(&secret, &["add", "key"]);
    git(&secret, &["commit", "-qm", "private"]);
    let private = git(&secret, &["rev-parse", "HEAD"]);
    let alternates = l.work.join(".git/objects/info/alternates");
    let mut list = std::fs::read_to_string(&alternates).expect("alternates");
    list.push_str(&format!("{}\n", secret.join(".git/objects").display()));
    std::fs::write(&alternates, list).expect("write alternates");
    git(&l.work, &["checkout", "-q", "-b", "axon/steal", &private]);
    git(&l.work, &["commit", "-q", "--allow-empty", "-m", "on top"]);
    let err = push_agent_branch(
        &l.work,
        Some("main"),
        Some(&l.base),
        &l.url(),
        Some(&l.lent),
    )
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("axon/steal"), "{err}");
    let refs = git(&l.remote, &["for-each-ref"]);
    assert!(!refs.contains("axon/steal"), "{refs}");
    let has = Command::new("git")
        .args(["cat-file", "-e", &private])
        .current_dir(&l.remote)
        .status()
        .expect("git");
    assert!(!has.success(), "the private commit reached the remote");
}

/// Root pushing into another user's repository pushes as that user: no root-owned files.
#[tokio::test]
async fn root_pushes_into_another_users_repository_as_that_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: nothing to switch");
        return;
    }
    let l = Layout::new(true);
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(l.tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&l.remote)
        .status()
        .expect("chown");
    assert!(chown.success());
    let head = l.agent_commits("axon/owned", "owned.txt");
    push_agent_branch(
        &l.work,
        Some("main"),
        Some(&l.base),
        &l.url(),
        Some(&l.lent),
    )
    .await
    .expect("pushed")
    .expect("something to push");
    assert_eq!(
        git(&l.remote, &["rev-parse", "refs/heads/axon/owned"]),
        head
    );
    let mut root_owned = Vec::new();
    let mut stack = vec![l.remote.clone()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).expect("stat");
        if m.uid() == 0 {
            root_owned.push(p.clone());
        }
        if m.is_dir() {
            for e in std::fs::read_dir(&p).expect("dir") {
                stack.push(e.expect("entry").path());
            }
        }
    }
    assert!(root_owned.is_empty(), "{root_owned:?}");
}

#[tokio::test]
async fn the_wip_commit_holds_what_the_work_tree_held_and_runs_nothing() {
    let l = Layout::new(true);
    let head = l.agent_commits("axon/budget", "committed.txt");
    std::fs::write(l.work.join("README.md"), "changed, not committed\n").expect("write");
    std::fs::write(l.work.join("untracked.txt"), "new\n").expect("write");
    std::fs::create_dir_all(l.work.join("sub/build")).expect("mkdir");
    std::fs::write(l.work.join("sub/deep.txt"), "deep\n").expect("write");
    std::fs::write(l.work.join("sub/build/out.bin"), "ignored\n").expect("write");
    std::fs::write(l.work.join("debug.log"), "ignored\n").expect("write");
    l.plant_traps();
    let url = l.url();
    let req = WipRequest {
        work: &l.work,
        base_head: Some(&l.base),
        task: "fix-it",
        remote: &url,
        token_file: None,
        lent_objects: Some(&l.lent),
    };
    let out = commit_and_push(&req).await.expect("wip").expect("a commit");
    assert_eq!(out.branch, "axon/wip/fix-it");
    assert!(out.pushed, "{out:?}");
    let r = &l.remote;
    assert_eq!(git(r, &["rev-parse", "axon/wip/fix-it"]), out.commit);
    assert_eq!(git(r, &["rev-parse", "axon/wip/fix-it^"]), head);
    assert_eq!(
        git(r, &["show", "axon/wip/fix-it:README.md"]),
        "changed, not committed"
    );
    for f in [
        "untracked.txt",
        "sub/deep.txt",
        "committed.txt",
        ".gitattributes",
    ] {
        git(r, &["cat-file", "-e", &format!("axon/wip/fix-it:{f}")]);
    }
    let files = git(r, &["ls-tree", "-r", "--name-only", "axon/wip/fix-it"]);
    assert!(
        !files.contains("debug.log") && !files.contains("out.bin"),
        "{files}"
    );
    assert!(
        !l.marker().exists(),
        "a program named by the agent's .git ran"
    );
    // The agent's own index and branch are untouched.
    assert_eq!(git(&l.work, &["rev-parse", "HEAD"]), head);

    // Again after more changes: a sibling of the first WIP, which stays.
    std::fs::write(l.work.join("untracked.txt"), "newer\n").expect("write");
    let again = commit_and_push(&req).await.expect("wip").expect("a commit");
    let short: String = again.commit.chars().take(12).collect();
    assert_eq!(again.branch, format!("axon/wip/fix-it-{short}"));
    assert!(again.pushed, "{again:?}");
    assert_eq!(git(r, &["rev-parse", "axon/wip/fix-it"]), out.commit);
    assert_eq!(git(r, &["rev-parse", &format!("{}^", again.branch)]), head);
}

#[tokio::test]
async fn an_earlier_wip_branch_is_not_overwritten() {
    let l = Layout::new(true);
    // Another run's WIP already holds the name, on a history of its own.
    git(
        &l.work,
        &[
            "push",
            "-q",
            &l.url(),
            &format!("{}:refs/heads/axon/wip/t", l.base),
        ],
    );
    std::fs::write(l.work.join("a.txt"), "a\n").expect("write");
    let url = l.url();
    let first = commit_and_push(&WipRequest {
        work: &l.work,
        base_head: Some(&l.base),
        task: "t",
        remote: &url,
        token_file: None,
        lent_objects: Some(&l.lent),
    })
    .await
    .expect("wip")
    .expect("a commit");
    // The base is an ancestor: a fast-forward of the old branch is fine.
    assert_eq!(first.branch, "axon/wip/t");
    // Now a different history.
    git(&l.work, &["checkout", "-q", "-b", "other"]);
    git(&l.work, &["commit", "-q", "--allow-empty", "-m", "other"]);
    std::fs::write(l.work.join("a.txt"), "b\n").expect("write");
    let second = commit_and_push(&WipRequest {
        work: &l.work,
        base_head: Some(&l.base),
        task: "t",
        remote: &url,
        token_file: None,
        lent_objects: Some(&l.lent),
    })
    .await
    .expect("wip")
    .expect("a commit");
    let short: String = second.commit.chars().take(12).collect();
    assert_eq!(second.branch, format!("axon/wip/t-{short}"));
    assert!(second.pushed);
    assert_eq!(git(&l.remote, &["rev-parse", "axon/wip/t"]), first.commit);
}

#[tokio::test]
async fn nothing_to_commit_and_no_commits_is_no_wip() {
    let l = Layout::new(true);
    let url = l.url();
    let req = WipRequest {
        work: &l.work,
        base_head: Some(&l.base),
        task: "idle",
        remote: &url,
        token_file: None,
        lent_objects: Some(&l.lent),
    };
    // Only ignored files written.
    std::fs::write(l.work.join("x.log"), "ignored").expect("write");
    assert_eq!(commit_and_push(&req).await.expect("wip"), None);
    // Commits but a clean tree: the agent's HEAD is the WIP.
    let head = l.agent_commits("axon/done", "done.txt");
    let out = commit_and_push(&req)
        .await
        .expect("wip")
        .expect("its commits");
    assert_eq!(
        out,
        WipOutcome {
            branch: "axon/wip/idle".into(),
            commit: head.clone(),
            pushed: true,
            push_error: None,
        }
    );
    // No repository at all.
    let empty = l.tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let none = commit_and_push(&WipRequest {
        work: &empty,
        base_head: None,
        ..req
    })
    .await
    .expect("wip");
    assert_eq!(none, None);
}

/// Over smart HTTP with a token: the token from the file reaches the server through the
/// credential helper; without it the push fails and says so, without the token anywhere.
#[tokio::test]
async fn the_wip_is_pushed_with_the_token_from_its_file() {
    let l = Layout::new(true);
    let token = "ghs_wip-token-4242";
    let server = GitHttp::start(l.tmp.path(), "remote.git", token);
    std::fs::write(l.work.join("new.txt"), "new\n").expect("write");
    let token_file = l.tmp.path().join("token");
    std::fs::write(&token_file, token).expect("token");
    let wrong_file = l.tmp.path().join("wrong");
    std::fs::write(&wrong_file, "nope").expect("token");
    let url = server.url();
    let mut req = WipRequest {
        work: &l.work,
        base_head: Some(&l.base),
        task: "http",
        remote: &url,
        token_file: Some(&wrong_file),
        lent_objects: Some(&l.lent),
    };
    let refused = commit_and_push(&req).await.expect("wip").expect("a commit");
    assert!(!refused.pushed);
    let why = refused.push_error.clone().unwrap_or_default();
    assert!(!why.is_empty() && !why.contains(token), "{why}");
    req.token_file = Some(&token_file);
    let out = commit_and_push(&req).await.expect("wip").expect("a commit");
    assert!(out.pushed, "{out:?}");
    assert_eq!(git(&l.remote, &["rev-parse", "axon/wip/http"]), out.commit);
    assert!(server.authorized() > 0);
}

/// `git http-backend` behind a minimal HTTP/1.1 server on 127.0.0.1 that wants
/// `Basic x-access-token:TOKEN` (any user name, as GitHub).
struct GitHttp {
    port: u16,
    repo: String,
    authorized: Arc<Mutex<usize>>,
}

impl GitHttp {
    fn start(root: &Path, repo: &str, token: &str) -> GitHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let authorized = Arc::new(Mutex::new(0));
        let (root, token, count) = (root.to_path_buf(), token.to_string(), authorized.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (root, token, count) = (root.clone(), token.clone(), count.clone());
                std::thread::spawn(move || serve(conn, &root, &token, &count));
            }
        });
        GitHttp {
            port,
            repo: repo.to_string(),
            authorized,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, self.repo)
    }

    fn authorized(&self) -> usize {
        *self.authorized.lock().expect("lock")
    }
}

fn serve(conn: std::net::TcpStream, root: &Path, token: &str, count: &Mutex<usize>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(len, 0);
        let _ = reader.read_exact(&mut body);
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            let _ = reader.read_line(&mut size);
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            let _ = reader.read_exact(&mut chunk);
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let want = format!("Basic {}", base64(&format!("x-access-token:{token}")));
    if header("authorization").as_deref() != Some(want.as_str()) {
        let _ = out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    *count.lock().expect("lock") += 1;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REMOTE_USER", "x-access-token")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_GIT_PROTOCOL",
            header("git-protocol").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("http-backend");
    let mut stdin = cgi.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let output = cgi.wait_with_output().expect("http-backend output");
    let _ = writer.join();
    let text = output.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, sep)) = split else { return };
    let head = String::from_utf8_lossy(&text[..at]).to_string();
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => response.extend_from_slice(format!("{h}\r\n").as_bytes()),
            None => {}
        }
    }
    let body = &text[at + sep..];
    let _ = out.write_all(format!("HTTP/1.1 {status}\r\n").as_bytes());
    let _ = out.write_all(&response);
    let _ = out.write_all(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = out.write_all(body);
}

fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, c)| acc | (u32::from(*c) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
