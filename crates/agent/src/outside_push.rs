//! Pushing what an agent made, from outside its sandbox, without running anything of its `.git`.
//!
//! Two cases need it: a Workspace whose repository is a path or `file://` URL on this machine
//! (the sandbox sees the host read-only, so the agent's own `git push` cannot land), and the
//! WIP commit of a stopped run ([`crate::wip`]). Both run after the agent's processes are gone.
//!
//! The agent's `.git` is never used as a repository: its config can name programs (hooks,
//! `core.fsmonitor`, filters, `uploadpack.packObjectsHook`, transports), and its
//! `objects/info/alternates` can point at any repository on the host, whose objects an upload
//! from there would carry along. Instead a [`Scratch`] repository is made in a fresh temporary
//! directory with our configuration only (no template, no hooks): the agent's loose objects
//! are copied in (regular files with well-formed names only), its packs are re-indexed by our
//! own `git index-pack` (which checks every object), and the objects Axon lent the work tree
//! (the mirror's) or the local repository's own are its alternates. The commit to push is
//! named by id (measured with [`crate::outside_git`]'s precautions) and pushed to exactly one
//! `refs/heads/` name, never force. Objects the agent reached only through its own alternates
//! are not there, so such a push fails instead of leaking them.
//!
//! When Axon runs as root and the local repository belongs to another user, the push runs as
//! that user (so the repository gets no root-owned files), from the scratch repository handed
//! to them, with the repository's own objects as the only alternates.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::error::OutsideGitError;
use crate::outside_git::{
    base_command, credential_helper, git_dir, is_branch_name, measure_tree, through_gateway,
};

/// Most bytes of the agent's objects copied into a scratch repository.
pub const MAX_OBJECT_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// How long one local git step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether `repo` names a repository on this machine: a path or a `file://` URL.
pub fn is_local_repository(repo: &str) -> bool {
    match repo.split_once("://") {
        Some((scheme, _)) => scheme.eq_ignore_ascii_case("file"),
        // scp-like `host:path` is remote unless a path of that name exists.
        None => match repo.split_once(':') {
            Some((host, _)) if !host.is_empty() && !host.contains('/') => Path::new(repo).exists(),
            _ => !repo.is_empty(),
        },
    }
}

/// The directory of a local repository (`file:///srv/r.git` → `/srv/r.git`).
pub fn local_path(repo: &str) -> Option<PathBuf> {
    if !is_local_repository(repo) {
        return None;
    }
    let path = match repo.split_once("://") {
        Some((_, rest)) => rest.strip_prefix("localhost").unwrap_or(rest),
        None => repo,
    };
    Some(PathBuf::from(path))
}

/// `scheme://user:secret@host/...` with the user information hidden.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && !userinfo.contains('/')
    {
        return format!("{scheme}://***@{host}");
    }
    url.to_string()
}

/// A branch pushed from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedBranch {
    /// The branch (without `refs/heads/`).
    pub branch: String,
    /// The commit it points at.
    pub commit: String,
}

/// Push the agent's branch to the local repository `url`: only when the work tree is on a
/// branch other than `base_branch` with commits since `base_head`. `Ok(None)`: nothing to
/// push. `lent_objects`: the object directory Axon lent the work tree (the mirror's).
pub async fn push_agent_branch(
    work: &Path,
    base_branch: Option<&str>,
    base_head: Option<&str>,
    url: &str,
    lent_objects: Option<&Path>,
) -> Result<Option<PushedBranch>, OutsideGitError> {
    let tree = measure_tree(work, base_head).await;
    let (Some(branch), Some(head)) = (tree.branch, tree.head) else {
        return Ok(None);
    };
    if tree.commits.is_empty() || Some(branch.as_str()) == base_branch {
        return Ok(None);
    }
    let target = Target::of(url);
    let scratch = Scratch::new(work, &head, &target.alternates(lent_objects)).await?;
    scratch
        .push(&target, &head, &branch, None)
        .await
        .map_err(|f| OutsideGitError::Git {
            what: format!("push of {branch} to {}", redact_url(url)),
            detail: f.message,
        })?;
    Ok(Some(PushedBranch {
        branch,
        commit: head,
    }))
}

/// Where a push goes, and as whom.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    url: String,
    /// The local repository's object directory (when local).
    objects: Option<PathBuf>,
    /// Run the push as this uid and gid (root pushing into another user's repository).
    owner: Option<(u32, u32)>,
}

impl Target {
    pub(crate) fn of(url: &str) -> Target {
        let dir = local_path(url);
        let objects = dir.as_deref().and_then(object_dir);
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let owner = dir
            .as_deref()
            .filter(|_| root)
            .and_then(|d| {
                use std::os::unix::fs::MetadataExt;
                std::fs::metadata(d).ok().map(|m| (m.uid(), m.gid()))
            })
            .filter(|(uid, _)| *uid != 0);
        Target {
            url: url.to_string(),
            objects,
            owner,
        }
    }

    /// The scratch repository's alternates: the objects Axon lent the work tree (unless the
    /// push runs as another user, who cannot read them) and the local repository's own.
    pub(crate) fn alternates(&self, lent: Option<&Path>) -> Vec<PathBuf> {
        lent.filter(|_| self.owner.is_none())
            .map(Path::to_path_buf)
            .into_iter()
            .chain(self.objects.clone())
            .filter(|p| p.is_dir())
            .collect()
    }
}

/// A local repository's object directory: `objects` of a bare one, `.git/objects` of a
/// checkout.
fn object_dir(repo: &Path) -> Option<PathBuf> {
    [repo.join("objects"), repo.join(".git").join("objects")]
        .into_iter()
        .find(|d| {
            std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir())
                && d.parent().is_some_and(|p| p.join("HEAD").is_file())
        })
}

/// Why a push did not land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PushFailure {
    /// The remote has the branch on another history (nothing wrong with the connection).
    pub(crate) rejected: bool,
    /// git's message, URL redacted.
    pub(crate) message: String,
}

/// A throwaway repository of Axon's own holding the agent's objects.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: tempfile::TempDir,
    git_dir: PathBuf,
}

impl Scratch {
    /// Make one with the objects of the work tree's `.git` (when it has a plain one) and
    /// `alternates`. `head` only tells the object format (64 hex digits: SHA-256).
    pub(crate) async fn new(
        work: &Path,
        head: &str,
        alternates: &[PathBuf],
    ) -> Result<Scratch, OutsideGitError> {
        let dir = tempfile::Builder::new()
            .prefix("axon-push-")
            .tempdir()
            .map_err(OutsideGitError::Scratch)?;
        let scratch_git = dir.path().join("git");
        let format = if head.len() == 64 { "sha256" } else { "sha1" };
        let mut init = base_command(dir.path());
        init.args([
            "init",
            "--quiet",
            "--bare",
            "--template=",
            &format!("--object-format={format}"),
            "--",
        ])
        .arg(&scratch_git);
        step(init, "init of a scratch repository").await?;
        let scratch = Scratch {
            dir,
            git_dir: scratch_git,
        };
        let objects = scratch.git_dir.join("objects");
        if !alternates.is_empty() {
            let list: String = alternates
                .iter()
                .map(|a| format!("{}\n", a.display()))
                .collect();
            let info = objects.join("info");
            std::fs::create_dir_all(&info).map_err(OutsideGitError::Scratch)?;
            std::fs::write(info.join("alternates"), list).map_err(OutsideGitError::Scratch)?;
        }
        if let Some(agent_git) = git_dir(work) {
            let from = agent_git.join("objects");
            let to = objects.clone();
            let packs = tokio::task::spawn_blocking(move || copy_objects(&from, &to))
                .await
                .map_err(|e| OutsideGitError::Scratch(std::io::Error::other(e)))??;
            for pack in packs {
                scratch.index_pack(&pack).await?;
            }
        }
        Ok(scratch)
    }

    /// Its git directory.
    pub(crate) fn path(&self) -> &Path {
        &self.git_dir
    }

    /// A git command on the scratch repository (and, with `work_tree`, that work tree).
    pub(crate) fn git(&self, work_tree: Option<&Path>) -> Command {
        let mut cmd = base_command(work_tree.unwrap_or(self.dir.path()));
        cmd.arg("-c")
            .arg("protocol.ext.allow=never")
            .arg(format!("--git-dir={}", self.git_dir.display()));
        if let Some(w) = work_tree {
            cmd.arg(format!("--work-tree={}", w.display()));
        }
        cmd
    }

    /// Re-index one of the agent's packs into the scratch repository: our `index-pack`
    /// reads it as it would a fetched pack (every object hashed and checked); the agent's
    /// index is not used.
    async fn index_pack(&self, pack: &Path) -> Result<(), OutsideGitError> {
        let file = open_regular(pack).map_err(|source| OutsideGitError::CopyObjects {
            path: pack.to_path_buf(),
            source,
        })?;
        let mut cmd = self.git(None);
        cmd.args(["index-pack", "--stdin"]).stdin(Stdio::from(file));
        step(cmd, "index-pack of the agent's objects")
            .await
            .map(|_| ())
    }

    /// Whether `object` (a commit) is there.
    pub(crate) async fn has_commit(&self, object: &str) -> bool {
        let mut cmd = self.git(None);
        cmd.args(["cat-file", "-e", &format!("{object}^{{commit}}")]);
        step(cmd, "cat-file").await.is_ok()
    }

    /// Push `commit` to `refs/heads/<branch>` of `target` (never force), with the token from
    /// `token_file` when given.
    pub(crate) async fn push(
        &self,
        target: &Target,
        commit: &str,
        branch: &str,
        token_file: Option<&Path>,
    ) -> Result<(), PushFailure> {
        if !is_branch_name(branch) || target.url.starts_with('-') {
            return Err(PushFailure {
                rejected: false,
                message: format!("refusing to push to {branch:?}"),
            });
        }
        let mut cmd = self.git(None);
        if let Some(file) = token_file {
            cmd.arg("-c")
                .arg("credential.helper=")
                .arg("-c")
                .arg(format!("credential.helper={}", credential_helper(file)));
        }
        through_gateway(&mut cmd);
        cmd.args(["push", "--no-verify", "--porcelain", "--"])
            .arg(&target.url)
            .arg(format!("{commit}:refs/heads/{branch}"));
        if let Some((uid, gid)) = target.owner {
            give_to(self.dir.path(), uid, gid).map_err(|e| PushFailure {
                rejected: false,
                message: format!("cannot hand the scratch repository to uid {uid}: {e}"),
            })?;
            cmd.uid(uid).gid(gid);
        }
        let out = run(cmd, PUSH_TIMEOUT)
            .await
            .map_err(|message| PushFailure {
                rejected: false,
                message,
            })?;
        if out.status.success() {
            return Ok(());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        // `--porcelain`: `!	<src>:<dst>	[rejected] (non-fast-forward)` for a refused update.
        let rejected = stdout
            .lines()
            .any(|l| l.starts_with('!') && l.contains("[rejected]"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let text: String = stdout
            .lines()
            .filter(|l| l.starts_with('!'))
            .chain(stderr.lines().filter(|l| !l.starts_with("hint:")))
            .map(|l| format!("{l}\n"))
            .collect();
        let red = redact_url(&target.url);
        let text = if red == target.url {
            text
        } else {
            text.replace(&target.url, &red)
        };
        Err(PushFailure {
            rejected,
            message: last_lines(&text, 4),
        })
    }
}

/// Copy the agent's loose objects and list its packs (regular files only; nothing followed).
fn copy_objects(from: &Path, to: &Path) -> Result<Vec<PathBuf>, OutsideGitError> {
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutsideGitError::CopyObjects { path, source }
    };
    if !std::fs::symlink_metadata(from).is_ok_and(|m| m.is_dir()) {
        return Ok(Vec::new());
    }
    let mut copied: u64 = 0;
    let mut packs = Vec::new();
    for entry in std::fs::read_dir(from).map_err(wrap(from))? {
        let entry = entry.map_err(wrap(from))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if name == "pack" {
            for p in std::fs::read_dir(&path).map_err(wrap(&path))? {
                let p = p.map_err(wrap(&path))?;
                let n = p.file_name().to_string_lossy().to_string();
                if n.starts_with("pack-")
                    && n.ends_with(".pack")
                    && p.file_type().is_ok_and(|t| t.is_file())
                {
                    let len = p.metadata().map(|m| m.len()).unwrap_or(0);
                    copied = copied.saturating_add(len);
                    if copied > MAX_OBJECT_BYTES {
                        return Err(OutsideGitError::TooLarge {
                            limit: MAX_OBJECT_BYTES,
                        });
                    }
                    packs.push(p.path());
                }
            }
            continue;
        }
        if !(name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit())) {
            continue;
        }
        let dest_dir = to.join(&name);
        for object in std::fs::read_dir(&path).map_err(wrap(&path))? {
            let object = object.map_err(wrap(&path))?;
            let n = object.file_name().to_string_lossy().to_string();
            let well_formed =
                matches!(n.len(), 38 | 62) && n.bytes().all(|b| b.is_ascii_hexdigit());
            if !well_formed || !object.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let mut src = open_regular(&object.path()).map_err(wrap(&object.path()))?;
            std::fs::create_dir_all(&dest_dir).map_err(wrap(&dest_dir))?;
            let dest = dest_dir.join(&n);
            let mut out = std::fs::File::create(&dest).map_err(wrap(&dest))?;
            use std::io::Read;
            let left = MAX_OBJECT_BYTES.saturating_sub(copied);
            let n = std::io::copy(&mut (&mut src).take(left + 1), &mut out)
                .map_err(wrap(&object.path()))?;
            copied = copied.saturating_add(n);
            if copied > MAX_OBJECT_BYTES {
                return Err(OutsideGitError::TooLarge {
                    limit: MAX_OBJECT_BYTES,
                });
            }
        }
    }
    Ok(packs)
}

/// Open a file the agent may have replaced: no symlink followed, no FIFO waited on, a
/// regular file only.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Give `root` and everything under it to `uid`:`gid`, without following symlinks.
fn give_to(root: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(root, Some(uid), Some(gid))?;
    if std::fs::symlink_metadata(root)?.is_dir() {
        for entry in std::fs::read_dir(root)? {
            give_to(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Run a local git step; its trimmed stdout.
pub(crate) async fn step(cmd: Command, what: &str) -> Result<String, OutsideGitError> {
    let out = run(cmd, STEP_TIMEOUT)
        .await
        .map_err(|detail| OutsideGitError::Git {
            what: what.to_string(),
            detail,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(OutsideGitError::Git {
            what: what.to_string(),
            detail: last_lines(&String::from_utf8_lossy(&out.stderr), 4),
        })
    }
}

async fn run(mut cmd: Command, limit: Duration) -> Result<std::process::Output, String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    match tokio::time::timeout(limit, cmd.output()).await {
        Err(_) => Err(format!("git took longer than {}s", limit.as_secs())),
        Ok(Err(e)) => Err(format!("cannot run git: {e}")),
        Ok(Ok(out)) => Ok(out),
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_repositories_are_told_from_remote_ones() {
        for local in ["/srv/r.git", "file:///srv/r.git", "./r.git", "r.git"] {
            assert!(is_local_repository(local), "{local}");
        }
        for remote in [
            "https://github.com/o/r.git",
            "git://127.0.0.1:9418/r.git",
            "ssh://git@host/r.git",
            "git@github.com:o/r.git",
            "",
        ] {
            assert!(!is_local_repository(remote), "{remote}");
        }
        assert_eq!(
            local_path("file:///srv/r.git"),
            Some(PathBuf::from("/srv/r.git"))
        );
        assert_eq!(
            local_path("file://localhost/srv/r.git"),
            Some(PathBuf::from("/srv/r.git"))
        );
        assert_eq!(local_path("/srv/r"), Some(PathBuf::from("/srv/r")));
        assert_eq!(local_path("https://h/r"), None);
        assert_eq!(redact_url("https://x:tok@h/r"), "https://***@h/r");
    }
}
