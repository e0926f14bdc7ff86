//! Workspace preparation: clone `repo`@`ref` into a fresh work tree through a mirror cache, write
//! the Workspace's `files[]`, and set up token auth through a credential helper. The local
//! supervisor and the Kubernetes init container (`axon workspace prepare`) run this same code.
//!
//! * The mirror (`CACHE/HASH.git`, `git clone --mirror` once, `git fetch --prune` after) is the
//!   only thing that talks to the remote; concurrent preparations of one repository share one
//!   fetch (a fetch that started after a caller asked satisfies it). A full commit id already in
//!   the mirror needs no fetch. The work tree is cloned (and configured) while waiting for the
//!   mirror's lock and fetching, and cloned again after it only if a ref of the mirror moved
//!   meanwhile (see `mirror_and_clone`).
//! * The work tree is a `--shared` clone of the mirror: its `objects/info/alternates` names the
//!   mirror's object directory, which the sandbox binds back **read-only** (the rest of the
//!   cache stays hidden). No inode of the mirror is writable from a Task — a hard-linked clone
//!   shared pack-file inodes, so one Task truncating "its" pack corrupted every later Task —
//!   and a Task that damages its own `.git` hurts only itself. Then `origin` is set to the
//!   real URL so the agent can push.
//! * Every user-supplied positional argument reaches git after `--` (or is a checked commit
//!   id), so a repository or ref starting with `-` is never taken for an option.
//! * A token is read from a file by an inline credential helper; only the file's path is in
//!   `.git/config`, never the token, and URLs are redacted in every message.

use crate::error::LocalError;
use crate::lock::Lock;
use sha2::{Digest, Sha256};
use std::path::{Component, Path};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// What a preparation produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedWorkspace {
    /// The branch (or tag, or commit) the work tree was cloned at.
    pub base_branch: String,
    /// The commit checked out.
    pub head: String,
    /// The mirror's object directory the work tree borrows from (`objects/info/alternates`):
    /// the sandbox binds it read-only.
    pub shared_objects: Option<std::path::PathBuf>,
}

/// What to prepare.
#[derive(Clone, Debug)]
pub struct PrepareRequest<'a> {
    /// Repository URL or path.
    pub repo: &'a str,
    /// Branch, tag or SHA; `None`: the default branch.
    pub git_ref: Option<&'a str>,
    /// The work tree to create (must not exist or be empty).
    pub dest: &'a Path,
    /// Files to write into the work tree (relative path, content).
    pub files: &'a [(String, String)],
    /// A file holding the token for git's credential helper.
    pub token_file: Option<&'a Path>,
    /// The mirror cache directory; `None`: clone directly from the repository.
    pub cache: Option<&'a Path>,
    /// The branch the Task works on: checked out from the remote when it exists there (the
    /// Task continues it), else created at `git_ref`.
    pub branch: Option<&'a str>,
    /// Extra remotes (name, URL) to add to the work tree.
    pub remotes: &'a [(String, String)],
    /// A shallow, single-branch clone of this many commits; only without `cache` (a mirror
    /// holds the whole repository).
    pub depth: Option<u32>,
}

/// Prepare a work tree (blocking: runs git).
pub fn prepare(req: &PrepareRequest<'_>) -> Result<PreparedWorkspace, LocalError> {
    for (what, value) in [
        ("repo", Some(req.repo)),
        ("ref", req.git_ref),
        ("branch", req.branch),
    ] {
        if let Some(v) = value
            && (v.starts_with('-') || v.chars().any(char::is_control))
        {
            return Err(LocalError::Invalid {
                what: format!("workspace {what} {v:?}"),
                reason: "must not start with '-' or hold control characters".into(),
            });
        }
    }
    let helper = req.token_file.map(credential_helper);
    if let Some(parent) = req.dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| LocalError::io(format!("create {}", parent.display()), e))?;
    }
    let (checked_out, shared_objects) = match req.cache {
        Some(cache) => {
            let (mirror, checked_out) = mirror_and_clone(req, cache, helper.as_deref())?;
            (checked_out, Some(mirror.join("objects")))
        }
        None => (
            clone_and_configure(req, Path::new(req.repo), helper.as_deref())?,
            None,
        ),
    };
    crate::profile::mark("fetched and cloned");
    add_remotes(req.dest, req.remotes, req.repo)?;
    write_files(req.dest, req.files)?;
    Ok(PreparedWorkspace {
        base_branch: checked_out.base_branch,
        head: checked_out.head,
        shared_objects,
    })
}

/// What a fresh clone checked out.
struct CheckedOut {
    base_branch: String,
    head: String,
}

/// Clone `src` into the work tree, make sure `origin` names the real repository, configure the
/// credential helper, and read what was checked out.
fn clone_and_configure(
    req: &PrepareRequest<'_>,
    src: &Path,
    helper: Option<&str>,
) -> Result<CheckedOut, LocalError> {
    let origin_is_the_repository = clone_into(req, src, helper)?;
    if !origin_is_the_repository {
        git(
            Some(req.dest),
            None,
            &["remote", "set-url", "--", "origin", req.repo],
            req.repo,
        )?;
    }
    if let Some(h) = helper {
        // Scoped to the repository's own site when it is an http(s) URL: the token is never
        // offered to another host (an extra remote, a redirect, a URL the agent fetches).
        let key = match credential_scope(req.repo) {
            Some(scope) => format!("credential.{scope}.helper"),
            None => "credential.helper".to_string(),
        };
        git(Some(req.dest), None, &["config", &key, h], req.repo)?;
    }
    if let Some(branch) = req.branch {
        fetch_work_branch(req, branch, helper)?;
        check_out_work_branch(req.dest, branch, req.repo)?;
    }
    // The commit and the branch checked out, in one git process.
    let out = git(
        Some(req.dest),
        None,
        &["rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
        req.repo,
    )?;
    let mut lines = out.lines();
    let head = lines.next().unwrap_or_default().to_string();
    let base_branch = match req.git_ref {
        Some(r) => r.to_string(),
        None => lines.next().unwrap_or_default().to_string(),
    };
    Ok(CheckedOut { base_branch, head })
}

/// Add the Workspace's extra remotes (names and URLs were validated at apply; checked again
/// here, since `axon workspace prepare` takes them from its command line).
fn add_remotes(dest: &Path, remotes: &[(String, String)], repo: &str) -> Result<(), LocalError> {
    for (i, (name, url)) in remotes.iter().enumerate() {
        let earlier = remotes[..i].iter().map(|(n, _)| n.as_str());
        axon_api::rules::check_remote_name(name, earlier).map_err(|reason| {
            LocalError::Invalid {
                what: format!("workspace remote name {name:?}"),
                reason,
            }
        })?;
        axon_api::rules::check_repo(url).map_err(|reason| LocalError::Invalid {
            what: format!("workspace remote {name} URL {:?}", redact_url(url)),
            reason: redact_all(&reason, url),
        })?;
        git(Some(dest), None, &["remote", "add", "--", name, url], repo)?;
    }
    Ok(())
}

/// The `scheme://host[:port]` of an http(s) repository URL (without user information), the
/// scope a credential helper is configured for; `None` for other URLs and paths.
fn credential_scope(repo: &str) -> Option<String> {
    let (scheme, rest) = repo.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (!host.is_empty()).then(|| format!("{}://{host}", scheme.to_ascii_lowercase()))
}

/// Continue `branch` from the remote when it has it, else start it here.
fn check_out_work_branch(dest: &Path, branch: &str, repo: &str) -> Result<(), LocalError> {
    let remote = format!("refs/remotes/origin/{branch}");
    let exists = git(
        Some(dest),
        None,
        &["for-each-ref", "--format=%(refname)", "--", &remote],
        repo,
    )? == remote;
    let args: &[&str] = if exists {
        &["checkout", "-q", "-B", branch, &remote, "--"]
    } else {
        &["checkout", "-q", "-b", branch, "--"]
    };
    git(Some(dest), None, args, repo).map(|_| ())
}

/// Clone `src` (the mirror, or the repository itself) into the work tree at the requested ref;
/// whether `origin` already names the repository.
fn clone_into(
    req: &PrepareRequest<'_>,
    src: &Path,
    helper: Option<&str>,
) -> Result<bool, LocalError> {
    if req.cache.is_none() {
        clone_direct(req, src, helper)?;
        return Ok(true);
    }
    let mirror = src.to_string_lossy().to_string();
    let dest = req.dest.to_string_lossy().to_string();
    // From the mirror: borrow its objects (read-only in the sandbox) instead of linking them,
    // and clone "the repository" through a URL rewrite to the mirror, valid for this one git
    // process: `origin` then names the real repository without a `remote set-url` afterwards.
    // Only for a URL (git looks at a local path before rewriting it); `-c` splits at the first
    // `=`, so a mirror path holding one clones the mirror by its path too.
    let rewrite = (req.cache.is_some() && is_remote_url(req.repo) && !mirror.contains(['=', '\n']))
        .then(|| format!("url.{mirror}.insteadOf={}", req.repo));
    let mut base: Vec<&str> = Vec::new();
    if let Some(r) = &rewrite {
        base.extend(["-c", r.as_str()]);
    }
    base.extend(["clone", "--quiet"]);
    if req.cache.is_some() {
        base.push("--shared");
    }
    let from = match &rewrite {
        Some(_) => req.repo,
        None => mirror.as_str(),
    };
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .chain(&["--", from, dest.as_str()])
            .map(|a| a.to_string())
            .collect()
    };
    match req.git_ref {
        None => {
            git(None, helper, &strs(&with(&[])), req.repo)?;
        }
        Some(r) if req.cache.is_none() || names_branch_or_tag(&mirror, r) => {
            let branch = format!("--branch={r}");
            git(None, helper, &strs(&with(&[&branch])), req.repo)?;
        }
        Some(r) => {
            git(None, helper, &strs(&with(&["--no-checkout"])), req.repo)?;
            git(
                Some(req.dest),
                None,
                &[
                    "checkout",
                    "--quiet",
                    "--detach",
                    &format!("{r}^{{commit}}"),
                ],
                req.repo,
            )
            .map_err(|_| {
                LocalError::Clone(format!(
                    "ref {r:?} not found in {}: it is not a branch, tag or commit there",
                    redact_url(req.repo)
                ))
            })?;
        }
    }
    Ok(rewrite.is_some() || req.cache.is_none())
}

/// Clone the repository itself (no mirror): at a branch or tag with `--branch`, at a commit
/// id by checking it out afterwards — or, shallow, by fetching just that commit.
fn clone_direct(
    req: &PrepareRequest<'_>,
    src: &Path,
    helper: Option<&str>,
) -> Result<(), LocalError> {
    let from = src.to_string_lossy().to_string();
    let dest = req.dest.to_string_lossy().to_string();
    let depth = req.depth.map(|d| format!("--depth={d}"));
    let depth = depth.as_deref();
    let not_found = |r: &str| {
        LocalError::Clone(format!(
            "ref {r:?} not found in {}: it is not a branch, tag or commit there",
            redact_url(req.repo)
        ))
    };
    match req.git_ref {
        Some(sha) if is_full_sha(sha) => match depth {
            Some(depth) => {
                git(None, None, &["init", "--quiet", "--", &dest], req.repo)?;
                git(
                    Some(req.dest),
                    None,
                    &["remote", "add", "--", "origin", &from],
                    req.repo,
                )?;
                git(
                    Some(req.dest),
                    helper,
                    &["fetch", "--quiet", depth, "--", "origin", sha],
                    req.repo,
                )
                .map_err(|_| not_found(sha))?;
                git(
                    Some(req.dest),
                    None,
                    &["checkout", "--quiet", "--detach", "FETCH_HEAD"],
                    req.repo,
                )?;
            }
            None => {
                let args = ["clone", "--quiet", "--no-checkout", "--", &from, &dest];
                git(None, helper, &args, req.repo)?;
                let commit = format!("{sha}^{{commit}}");
                let args = ["checkout", "--quiet", "--detach", commit.as_str()];
                git(Some(req.dest), None, &args, req.repo).map_err(|_| not_found(sha))?;
            }
        },
        r => {
            let branch = r.map(|r| format!("--branch={r}"));
            let mut args = vec!["clone", "--quiet"];
            args.extend(depth);
            args.extend(branch.as_deref());
            args.extend(["--", &from, &dest]);
            git(None, helper, &args, req.repo)?;
        }
    }
    Ok(())
}

/// In a shallow clone, fetch the Task's branch when the remote has it (a single-branch clone
/// brought only the base), so that it is continued rather than started afresh.
fn fetch_work_branch(
    req: &PrepareRequest<'_>,
    branch: &str,
    helper: Option<&str>,
) -> Result<(), LocalError> {
    let Some(depth) = req.depth else {
        return Ok(());
    };
    let depth = format!("--depth={depth}");
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    match git(
        Some(req.dest),
        helper,
        &["fetch", "--quiet", &depth, "--", "origin", &refspec],
        req.repo,
    ) {
        Ok(_) => Ok(()),
        Err(LocalError::Clone(msg)) if msg.contains("couldn't find remote ref") => Ok(()),
        Err(e) => Err(e),
    }
}

/// A URL git reaches over the network (`scheme://...` other than `file://`, or scp-like
/// `host:path`), as opposed to a local path.
fn is_remote_url(repo: &str) -> bool {
    match repo.split_once("://") {
        Some((scheme, _)) => scheme != "file",
        None => {
            repo.split_once(':')
                .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'))
                && !Path::new(repo).exists()
        }
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A full commit id (SHA-1 or SHA-256, hex): it names one immutable commit.
fn is_full_sha(r: &str) -> bool {
    matches!(r.len(), 40 | 64) && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `r` is a branch or a tag of the repository at `src` (one git process).
fn names_branch_or_tag(src: &str, r: &str) -> bool {
    let (heads, tags) = (format!("refs/heads/{r}"), format!("refs/tags/{r}"));
    Command::new("git")
        .args(["-C", src, "show-ref", "--", &heads, &tags])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_once(' ').map(|(_, name)| name))
                .any(|name| name == heads || name == tags)
        })
}

/// Bring the mirror of the repository up to date and clone the work tree from it.
///
/// The mirror is fetched (under its lock) unless a fetch that started after this call already
/// did it, or the requested ref is a full commit id already in the mirror (a commit id names the
/// same content forever). The work tree is cloned from the mirror as it is *while* waiting for
/// the lock and fetching; that clone is kept only if no ref of the mirror changed meanwhile:
/// every fetch that changes a ref (the only writer of the mirror, under the lock) bumps the
/// mirror's generation before releasing the lock, and the generation read before the clone
/// started must equal the one read under the lock afterwards. Otherwise (or if the early clone
/// failed, e.g. a branch only the fetch brings) the work tree is cloned again from the fetched
/// mirror. So a Task still always sees the remote as it is when the Task starts; only the
/// common case (the remote did not move) gets faster.
fn mirror_and_clone(
    req: &PrepareRequest<'_>,
    cache: &Path,
    helper: Option<&str>,
) -> Result<(std::path::PathBuf, CheckedOut), LocalError> {
    let repo = req.repo;
    let asked = SystemTime::now();
    std::fs::create_dir_all(cache)
        .map_err(|e| LocalError::io(format!("create {}", cache.display()), e))?;
    let key: String = Sha256::digest(repo.as_bytes())
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = cache.join(format!("{key}.git"));
    let stamp = cache.join(format!("{key}.fetched"));
    let generation = cache.join(format!("{key}.generation"));
    let lock_path = cache.join(format!("{key}.lock"));
    if !path.join("HEAD").exists() {
        let lock =
            Lock::acquire(&lock_path).map_err(|e| LocalError::io("lock the mirror cache", e))?;
        if !path.join("HEAD").exists() {
            touch(&stamp)?;
            let tmp = cache.join(format!("{key}.tmp-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            let t = tmp.to_string_lossy().to_string();
            git(
                None,
                helper,
                &["clone", "--mirror", "--quiet", "--", repo, &t],
                repo,
            )
            .inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&tmp);
            })?;
            // Work trees borrow the mirror's objects: a gc must never prune one of them.
            git(
                None,
                None,
                &["-C", &t, "config", "gc.pruneExpire", "never"],
                repo,
            )?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| LocalError::io(format!("move mirror into {}", path.display()), e))?;
            drop(lock);
            return clone_and_configure(req, &path, helper).map(|c| (path, c));
        }
        drop(lock);
    }
    let p = path.to_string_lossy().to_string();
    let before = read_generation(&generation);
    let (fetched, early) = std::thread::scope(|s| {
        let early = s.spawn(|| {
            let c = clone_and_configure(req, &path, helper);
            crate::profile::mark("early clone done");
            c
        });
        let fetched = (|| {
            let lock = Lock::acquire(&lock_path)
                .map_err(|e| LocalError::io("lock the mirror cache", e))?;
            let fresh = std::fs::metadata(&stamp)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= asked);
            let have_pinned = req.git_ref.filter(|r| is_full_sha(r)).is_some_and(|sha| {
                git(
                    None,
                    None,
                    &["-C", &p, "cat-file", "-e", &format!("{sha}^{{commit}}")],
                    repo,
                )
                .is_ok()
            });
            if !fresh && !have_pinned {
                touch(&stamp)?;
                if fetch_mirror(&p, helper, repo)? {
                    bump_generation(&generation, before);
                    // New objects arrived: the housekeeping the fetch itself would have done.
                    let _ = git(
                        None,
                        None,
                        &["-C", &p, "maintenance", "run", "--auto", "--quiet"],
                        repo,
                    );
                }
            }
            let after = read_generation(&generation);
            drop(lock);
            crate::profile::mark("mirror fetched");
            Ok::<_, LocalError>(after)
        })();
        (fetched, early.join())
    });
    let after = fetched.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(req.dest);
    })?;
    if let Ok(Ok(checked_out)) = early
        && before.is_some()
        && after == before
    {
        return Ok((path, checked_out));
    }
    if req.dest.exists() {
        std::fs::remove_dir_all(req.dest)
            .map_err(|e| LocalError::io(format!("remove {}", req.dest.display()), e))?;
    }
    clone_and_configure(req, &path, helper).map(|c| (path, c))
}

/// Fetch the mirror; whether a ref changed (created, moved or pruned). `--porcelain` (git
/// 2.41+) prints one line per changed ref and nothing when the remote did not move; an older
/// git refuses the option and gets a plain fetch, counted as a change (the early clone is
/// then never kept: correct, only slower). Automatic maintenance is left to the caller, which
/// runs it only when something arrived.
fn fetch_mirror(mirror: &str, helper: Option<&str>, repo: &str) -> Result<bool, LocalError> {
    let porcelain = git(
        None,
        helper,
        &[
            "-C",
            mirror,
            "-c",
            "maintenance.auto=false",
            "fetch",
            "--porcelain",
            "--prune",
            "origin",
        ],
        repo,
    );
    match porcelain {
        Ok(out) => Ok(out
            .lines()
            .any(|l| !l.trim().is_empty() && !l.starts_with('='))),
        Err(LocalError::Clone(msg)) if msg.contains("unknown option") => {
            git(
                None,
                helper,
                &["-C", mirror, "fetch", "--prune", "--quiet", "origin"],
                repo,
            )?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// The mirror's generation (bumped by every fetch that changed a ref); `None` when unknown
/// (unreadable, or being rewritten), which never matches.
fn read_generation(path: &Path) -> Option<u64> {
    match std::fs::read_to_string(path) {
        Ok(s) => s.trim().parse().ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
        Err(_) => None,
    }
}

/// Record, under the mirror's lock, that a ref of the mirror changed.
fn bump_generation(path: &Path, seen: Option<u64>) {
    let next = read_generation(path).or(seen).unwrap_or(0).wrapping_add(1);
    if std::fs::write(path, next.to_string()).is_err() {
        // Make it unreadable instead: every early clone is then redone, never wrongly kept.
        let _ = std::fs::remove_file(path);
        let _ = std::fs::create_dir(path);
    }
}

fn touch(path: &Path) -> Result<(), LocalError> {
    std::fs::write(path, b"").map_err(|e| LocalError::io(format!("write {}", path.display()), e))
}

/// Run git; its trimmed stdout, or an error carrying git's own message (URL redacted).
fn git(
    dir: Option<&Path>,
    helper: Option<&str>,
    args: &[&str],
    repo: &str,
) -> Result<String, LocalError> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    if let Some(h) = helper {
        cmd.arg("-c")
            .arg("credential.helper=")
            .arg("-c")
            .arg(format!("credential.helper={h}"));
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| LocalError::Clone(format!("cannot run git: {e} (is git installed?)")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let msg: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let shown: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('/') && **a != "-C")
        .copied()
        .collect();
    Err(LocalError::Clone(redact_all(
        &format!("git {}: {}", shown.join(" "), msg.join(" ")),
        repo,
    )))
}

pub use axon_agent::outside_git::credential_helper;

/// `scheme://user:secret@host/...` → `scheme://***@host/...`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && !userinfo.contains('/')
    {
        return format!("{scheme}://***@{host}");
    }
    url.to_string()
}

fn redact_all(text: &str, repo: &str) -> String {
    let red = redact_url(repo);
    if red == repo {
        text.to_string()
    } else {
        text.replace(repo, &red)
    }
}

fn write_files(dest: &Path, files: &[(String, String)]) -> Result<(), LocalError> {
    for (rel, content) in files {
        let p = Path::new(rel);
        if rel.is_empty()
            || p.is_absolute()
            || p.components().any(|c| matches!(c, Component::ParentDir))
        {
            return Err(LocalError::Invalid {
                what: format!("workspace file {rel:?}"),
                reason: "must be a relative path inside the repository".into(),
            });
        }
        let target = dest.join(p);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| LocalError::io(format!("create {}", parent.display()), e))?;
        }
        std::fs::write(&target, content)
            .map_err(|e| LocalError::io(format!("write workspace file {rel}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A local repository with `main` (2 commits), a branch `dev` and a tag `v1`.
    fn origin(dir: &Path) -> (PathBuf, String) {
        let o = dir.join("origin");
        std::fs::create_dir_all(&o).expect("mkdir");
        run(&o, &["init", "-q", "-b", "main"]);
        run(&o, &["config", "user.email", "t@example.invalid"]);
        run(&o, &["config", "user.name", "t"]);
        std::fs::write(o.join("a.txt"), "1").expect("write");
        run(&o, &["add", "."]);
        run(&o, &["commit", "-qm", "one"]);
        let first = run(&o, &["rev-parse", "HEAD"]);
        run(&o, &["tag", "v1"]);
        run(&o, &["branch", "dev"]);
        std::fs::write(o.join("a.txt"), "2").expect("write");
        run(&o, &["commit", "-qam", "two"]);
        (o, first)
    }

    #[test]
    fn branch_tag_sha_default_files_and_helper() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (o, first) = origin(tmp.path());
        let repo = o.to_string_lossy().to_string();
        let cache = tmp.path().join("cache");
        let token = tmp.path().join("token");
        std::fs::write(&token, "tok-123").expect("token");
        let files = vec![("sub/dir/x.txt".to_string(), "hello".to_string())];
        let cases: [(Option<&str>, &str, &str); 4] = [
            (None, "main", "2"),
            (Some("dev"), "dev", "1"),
            (Some("v1"), "v1", "1"),
            (Some(first.as_str()), first.as_str(), "1"),
        ];
        for (i, (r, base, content)) in cases.into_iter().enumerate() {
            let dest = tmp.path().join(format!("w{i}"));
            let p = prepare(&PrepareRequest {
                repo: &repo,
                git_ref: r,
                dest: &dest,
                files: &files,
                token_file: Some(&token),
                cache: Some(&cache),
                branch: None,
                remotes: &[],
                depth: None,
            })
            .expect("prepare");
            assert_eq!(p.base_branch, base);
            assert_eq!(
                std::fs::read_to_string(dest.join("a.txt")).expect("a"),
                content
            );
            assert_eq!(
                std::fs::read_to_string(dest.join("sub/dir/x.txt")).expect("file"),
                "hello"
            );
            assert_eq!(run(&dest, &["remote", "get-url", "origin"]), repo);
            let config = std::fs::read_to_string(dest.join(".git/config")).expect("config");
            assert!(!config.contains("tok-123"));
            // The helper really answers with the token.
            let out = Command::new("git")
                .current_dir(&dest)
                .args(["credential", "fill"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin
                        .take()
                        .expect("stdin")
                        .write_all(b"protocol=https\nhost=example.com\n\n")?;
                    c.wait_with_output()
                })
                .expect("credential fill");
            assert!(String::from_utf8_lossy(&out.stdout).contains("password=tok-123"));
            // Borrowing the mirror's objects (bound read-only into the sandbox), not linking
            // its inodes.
            let alternates = std::fs::read_to_string(dest.join(".git/objects/info/alternates"))
                .expect("alternates");
            assert_eq!(
                Path::new(alternates.trim()),
                p.shared_objects.as_deref().expect("shared objects")
            );
        }
        assert_eq!(std::fs::read_dir(&cache).expect("cache").count(), 3);
    }

    #[test]
    fn direct_clones_full_and_shallow_at_branch_tag_commit_and_work_branch() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (o, first) = origin(tmp.path());
        // A work branch on the remote, one commit past main.
        run(&o, &["checkout", "-q", "-b", "axon/feature"]);
        std::fs::write(o.join("a.txt"), "3").expect("write");
        run(&o, &["commit", "-qam", "three"]);
        let feature = run(&o, &["rev-parse", "HEAD"]);
        run(&o, &["checkout", "-q", "main"]);
        // file:// so that git honours --depth (a plain path is a local clone).
        let repo = format!("file://{}", o.display());
        let cases: [(Option<&str>, Option<&str>, &str, usize); 5] = [
            (None, None, "2", 1),
            (Some("dev"), None, "1", 1),
            (Some("v1"), None, "1", 1),
            (Some(first.as_str()), None, "1", 1),
            (Some("main"), Some("axon/feature"), "3", 1),
        ];
        for depth in [None, Some(1)] {
            for (i, (r, branch, content, shallow_commits)) in cases.iter().enumerate() {
                let dest = tmp.path().join(format!("d{}-{i}", depth.unwrap_or(0)));
                let p = prepare(&PrepareRequest {
                    repo: &repo,
                    git_ref: *r,
                    dest: &dest,
                    files: &[],
                    token_file: None,
                    cache: None,
                    branch: *branch,
                    remotes: &[],
                    depth,
                })
                .unwrap_or_else(|e| panic!("{r:?} {branch:?} depth {depth:?}: {e}"));
                assert_eq!(p.shared_objects, None);
                let read = std::fs::read_to_string(dest.join("a.txt")).expect("a.txt");
                assert_eq!(read, *content, "{r:?} {branch:?} depth {depth:?}");
                let shallow = run(&dest, &["rev-parse", "--is-shallow-repository"]);
                assert_eq!(shallow == "true", depth.is_some(), "{r:?} depth {depth:?}");
                if depth.is_some() {
                    let count = run(&dest, &["rev-list", "--count", "HEAD"]);
                    assert_eq!(count, shallow_commits.to_string(), "{r:?} {branch:?}");
                }
                if let Some(b) = branch {
                    assert_eq!(run(&dest, &["rev-parse", "HEAD"]), feature);
                    assert_eq!(run(&dest, &["branch", "--show-current"]), *b);
                }
                if *r == Some(first.as_str()) {
                    assert_eq!(run(&dest, &["rev-parse", "HEAD"]), first);
                }
                assert_eq!(run(&dest, &["remote", "get-url", "origin"]), repo);
            }
        }
        // A work branch the remote does not have is started at the base, shallow too.
        let dest = tmp.path().join("new-branch");
        prepare(&PrepareRequest {
            repo: &repo,
            git_ref: Some("main"),
            dest: &dest,
            files: &[],
            token_file: None,
            cache: None,
            branch: Some("axon/new"),
            remotes: &[("upstream".to_string(), repo.clone())],
            depth: Some(1),
        })
        .expect("a new work branch");
        assert_eq!(run(&dest, &["branch", "--show-current"]), "axon/new");
        assert_eq!(run(&dest, &["remote", "get-url", "upstream"]), repo);
    }

    #[test]
    fn the_token_is_offered_only_to_the_repositorys_own_host() {
        assert_eq!(
            credential_scope("https://x:tok@GitHub.com:8443/o/r.git?a#b").as_deref(),
            Some("https://GitHub.com:8443")
        );
        assert_eq!(
            credential_scope("HTTP://127.0.0.1:9/r").as_deref(),
            Some("http://127.0.0.1:9")
        );
        for other in [
            "git://h/r",
            "ssh://h/r",
            "git@h:o/r",
            "/srv/r.git",
            "file:///r",
        ] {
            assert_eq!(credential_scope(other), None, "{other}");
        }
        // As git applies it: a work tree whose helper is scoped to its origin's host.
        let tmp = tempfile::tempdir().expect("tmp");
        let dest = tmp.path().join("w");
        std::fs::create_dir_all(&dest).expect("mkdir");
        run(&dest, &["init", "-q"]);
        let token = tmp.path().join("token");
        std::fs::write(&token, "tok-scoped").expect("token");
        let scope = credential_scope("https://git.example.com/o/r.git").expect("scope");
        run(
            &dest,
            &[
                "config",
                &format!("credential.{scope}.helper"),
                &credential_helper(&token),
            ],
        );
        let fill = |host: &str| {
            let mut child = Command::new("git")
                .current_dir(&dest)
                .args(["credential", "fill"])
                .env("GIT_TERMINAL_PROMPT", "0")
                .env("GIT_ASKPASS", "")
                .env("SSH_ASKPASS", "")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("git credential");
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("protocol=https\nhost={host}\n\n").as_bytes())
                .expect("write");
            let out = child.wait_with_output().expect("output");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert!(fill("git.example.com").contains("password=tok-scoped"));
        assert!(!fill("evil.example").contains("tok-scoped"));
    }

    #[test]
    fn a_pinned_commit_in_the_mirror_needs_no_fetch() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (o, first) = origin(tmp.path());
        let repo = o.to_string_lossy().to_string();
        let cache = tmp.path().join("cache");
        let prep = |git_ref: &str, dest: &str| {
            prepare(&PrepareRequest {
                repo: &repo,
                git_ref: Some(git_ref),
                dest: &tmp.path().join(dest),
                files: &[],
                token_file: None,
                cache: Some(&cache),
                branch: None,
                remotes: &[],
                depth: None,
            })
        };
        prep("main", "w0").expect("first clone fills the mirror");
        // The repository goes away: a branch needs a fetch and fails, the pinned commit does not.
        std::fs::rename(&o, tmp.path().join("moved")).expect("move origin");
        let e = prep("main", "w1").expect_err("fetch fails").to_string();
        assert!(e.contains("fetch"), "{e}");
        let p = prep(&first, "w2").expect("pinned commit from the mirror");
        assert_eq!(p.head, first);
        assert_eq!(p.base_branch, first);
        // An abbreviated id is not pinned: it is looked up after a fetch.
        assert!(prep(&first[..12], "w3").is_err());
    }

    #[test]
    fn what_the_fetch_brings_is_in_the_work_tree() {
        // Served by git daemon: the fetch is slow enough that the clone made meanwhile reads
        // the mirror before the fetch updates it.
        let server = axon_testsupport::git_server::GitServer::start().expect("git daemon");
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = server.url();
        let cache = tmp.path().join("cache");
        let prep = |git_ref: Option<&str>, dest: &str| {
            prepare(&PrepareRequest {
                repo: &repo,
                git_ref,
                dest: &tmp.path().join(dest),
                files: &[],
                token_file: None,
                cache: Some(&cache),
                branch: None,
                remotes: &[],
                depth: None,
            })
            .expect("prepare")
        };
        let unchanged = prep(None, "w0");
        assert_eq!(prep(None, "w1"), unchanged, "nothing moved: same commit");
        // The remote moves on and gets a new branch: the clone made while fetching is stale
        // (or fails) and is redone from the fetched mirror.
        let pusher = tmp.path().join("pusher");
        let bare = server.repo_path().to_string_lossy().to_string();
        run(tmp.path(), &["clone", "-q", &bare, "pusher"]);
        std::fs::write(pusher.join("moved.txt"), "3").expect("write");
        run(&pusher, &["add", "."]);
        run(
            &pusher,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-qm",
                "move",
            ],
        );
        run(
            &pusher,
            &["push", "-q", "origin", "HEAD:main", "HEAD:refs/heads/late"],
        );
        let moved = run(&pusher, &["rev-parse", "HEAD"]);
        for (r, dest) in [(None, "w2"), (Some("main"), "w3"), (Some("late"), "w4")] {
            let p = prep(r, dest);
            assert_eq!(p.head, moved, "{r:?}");
            let w = tmp.path().join(dest);
            assert_eq!(
                std::fs::read_to_string(w.join("moved.txt")).expect("file"),
                "3"
            );
            assert_eq!(
                run(&w, &["status", "--porcelain"]),
                "",
                "{r:?}: a clean tree"
            );
            assert_eq!(run(&w, &["rev-parse", "origin/late"]), moved, "{r:?}");
        }
    }

    /// Another Task's fetch moves the mirror while this preparation waits for the lock (its
    /// clone made meanwhile is stale) and satisfies it (started after it asked): the
    /// generation the other fetch bumped makes this preparation clone again.
    #[test]
    fn a_clone_made_while_another_fetch_moves_the_mirror_is_redone() {
        let server = axon_testsupport::git_server::GitServer::start().expect("git daemon");
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = server.url();
        let cache = tmp.path().join("cache");
        let prep = |dest: &Path| {
            prepare(&PrepareRequest {
                repo: &repo,
                git_ref: None,
                dest,
                files: &[],
                token_file: None,
                cache: Some(&cache),
                branch: None,
                remotes: &[],
                depth: None,
            })
        };
        let first = prep(&tmp.path().join("w0")).expect("prepare");
        let mirror = std::fs::read_dir(&cache)
            .expect("cache")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "git"))
            .expect("mirror");
        let key = mirror
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let lock = Lock::acquire(&cache.join(format!("{key}.lock"))).expect("lock");
        let dest = tmp.path().join("w1");
        std::thread::scope(|s| {
            let waiting = s.spawn(|| prep(&dest));
            // The early clone is made from the unmoved mirror.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !dest.join("README.md").exists() {
                assert!(std::time::Instant::now() < deadline, "no early clone");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let pusher = tmp.path().join("pusher");
            let bare = server.repo_path().to_string_lossy().to_string();
            run(tmp.path(), &["clone", "-q", &bare, "pusher"]);
            std::fs::write(pusher.join("moved.txt"), "3").expect("write");
            run(&pusher, &["add", "."]);
            run(
                &pusher,
                &[
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@example.invalid",
                    "commit",
                    "-qm",
                    "m",
                ],
            );
            run(&pusher, &["push", "-q", "origin", "HEAD:main"]);
            let moved = run(&pusher, &["rev-parse", "HEAD"]);
            // The other Task's fetch, under the lock, after this preparation asked.
            let m = mirror.to_string_lossy().to_string();
            touch(&cache.join(format!("{key}.fetched"))).expect("stamp");
            assert!(fetch_mirror(&m, None, &repo).expect("fetch"), "a ref moved");
            let generation = cache.join(format!("{key}.generation"));
            bump_generation(&generation, read_generation(&generation));
            drop(lock);
            let p = waiting.join().expect("thread").expect("prepare");
            assert_ne!(p.head, first.head);
            assert_eq!(p.head, moved);
            // Cloned through the URL rewrite: origin is the repository, objects the mirror's.
            assert_eq!(run(&dest, &["remote", "get-url", "origin"]), repo);
            let alternates = std::fs::read_to_string(dest.join(".git/objects/info/alternates"))
                .expect("alternates");
            assert_eq!(Path::new(alternates.trim()), mirror.join("objects"));
            assert_eq!(
                std::fs::read_to_string(dest.join("moved.txt")).expect("file"),
                "3"
            );
        });
        // Nothing moved since: a fetch that changes nothing says so.
        let m = mirror.to_string_lossy().to_string();
        assert!(!fetch_mirror(&m, None, &repo).expect("fetch"));
    }

    #[test]
    fn missing_ref_and_bad_repo_say_why() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (o, _) = origin(tmp.path());
        let repo = o.to_string_lossy().to_string();
        let e = prepare(&PrepareRequest {
            repo: &repo,
            git_ref: Some("nope"),
            dest: &tmp.path().join("w"),
            files: &[],
            token_file: None,
            cache: Some(&tmp.path().join("cache")),
            branch: None,
            remotes: &[],
            depth: None,
        })
        .expect_err("missing ref")
        .to_string();
        assert!(e.contains("\"nope\" not found"), "{e}");
        let e = prepare(&PrepareRequest {
            repo: "https://user:sekret@127.0.0.1:1/x.git",
            git_ref: None,
            dest: &tmp.path().join("w2"),
            files: &[],
            token_file: None,
            cache: Some(&tmp.path().join("cache")),
            branch: None,
            remotes: &[],
            depth: None,
        })
        .expect_err("unreachable")
        .to_string();
        assert!(
            e.starts_with("workspace clone failed: git clone --mirror"),
            "{e}"
        );
        assert!(!e.contains("sekret"), "{e}");
    }

    #[test]
    fn urls_are_told_from_local_paths() {
        for url in [
            "https://github.com/o/r.git",
            "git://127.0.0.1:9418/r.git",
            "ssh://git@host/r.git",
            "git@github.com:o/r.git",
        ] {
            assert!(is_remote_url(url), "{url}");
        }
        for path in [
            "/srv/r.git",
            "file:///srv/r.git",
            "./r.git",
            "r.git",
            "./a:b",
        ] {
            assert!(!is_remote_url(path), "{path}");
        }
    }

    #[test]
    fn redacts_userinfo() {
        assert_eq!(redact_url("https://a:b@h/x"), "https://***@h/x");
        assert_eq!(redact_url("git@github.com:o/r"), "git@github.com:o/r");
    }
}
