//! Field rules beyond the types: what a value must look like before Axon acts on it.
//!
//! Why a module of its own: a security review found values that the types accept but that are
//! dangerous or meaningless further down — a Workspace `repo` or `ref` starting with `-` reaches
//! `git` as an option, a `files[].path` of `.git/hooks/post-checkout` plants a hook, a
//! `secretRef` of `../x` names a file outside the local secret store, a negative timeout or an
//! empty prompt makes no sense. Each rule is a small function returning the reason in words
//! (what is allowed, what was given), and [`violations`] applies all of them to a resource.
//!
//! The loader runs them on what users write (`axon apply -f`, `axon validate -f`); it does not
//! run them on what a backend already stored, so a document stored before a rule existed can
//! still be listed and deleted. The CRD schema carries the same rules where OpenAPI can say them
//! (the `*_PATTERN` constants, length limits and ranges on the types).
//!
//! The rules of the gateway's fields (`budget`, `network`, `policy`, `pricing`) live with their
//! types in [`crate::budget`], [`crate::network`], [`crate::policy`] and
//! [`crate::model_price`]; [`violations`] applies them too.

use crate::budget::{Budget, budget_violations, spawner_budget_violations};
use crate::common::LocalObjectReference;
use crate::loader::Resource;
use crate::model_price::{ModelPrice, pricing_violations};
use crate::network::{Network, network_violations};
use crate::policy::{Policy, policy_violations};
use crate::task::TaskSpec;
use crate::task_spawner::TaskTemplate;
use std::path::{Component, Path};

/// The largest prompt (or prompt template) accepted, in bytes.
pub const MAX_PROMPT_BYTES: usize = 10 * 1024 * 1024;
/// The largest `backoffLimit` accepted (retries of a failed run).
pub const MAX_BACKOFF_LIMIT: i32 = 10;
/// The longest object name (DNS-1123 subdomain).
pub const MAX_NAME_LENGTH: usize = 253;
/// The longest Task or TaskSpawner name: a DNS-1123 label. A Task's name becomes the name of
/// its Kubernetes Job and a label value on it and its Pod; a TaskSpawner's name becomes the
/// value of the `axon.io/taskspawner` label on each of its Tasks. Both backends refuse longer
/// names at apply, so a name that runs locally runs on a cluster too.
pub const MAX_LABEL_NAME_LENGTH: usize = 63;
/// A Task's or TaskSpawner's name, as a CEL rule on the whole object (OpenAPI cannot reach
/// `metadata.name`; CEL at the root can).
pub const LABEL_NAME_CEL: &str = "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')";
/// The longest Workspace `ref` accepted.
pub const MAX_GIT_REF_LENGTH: usize = 1024;
/// The longest Workspace `files[].path` accepted.
pub const MAX_FILE_PATH_LENGTH: usize = 4096;
/// The most `dependsOn` entries a Task (or a TaskSpawner's template) may have.
pub const MAX_DEPENDENCIES: usize = 64;

/// A DNS-1123 subdomain (Kubernetes object names), as an OpenAPI `pattern`.
pub const DNS1123_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// At least one character that is not whitespace, as an OpenAPI `pattern` (unanchored).
pub const NOT_BLANK_PATTERN: &str = r"\S";
/// A Workspace `repo`: no leading `-`, no ASCII control characters or spaces.
pub const REPO_PATTERN: &str = r"^[^-\x00-\x20\x7f][^\x00-\x20\x7f]*$";
/// A Workspace `remotes[].name`: a git remote name that is neither an option nor a path.
pub const REMOTE_NAME_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// A Workspace `ref` (empty, or no leading `-`, none of git's forbidden characters); the rest
/// of `git check-ref-format` is in [`GIT_REF_CEL`].
pub const GIT_REF_PATTERN: &str = r"^([^-\x00-\x20\x7f~^:?*\[\\][^\x00-\x20\x7f~^:?*\[\\]*)?$";
/// The rest of `git check-ref-format` for a Workspace `ref`, as a CEL rule on the field.
pub const GIT_REF_CEL: &str = "self == '' || (!self.contains('..') && !self.contains('@{') && !self.contains('//') && !self.contains('/.') && !self.startsWith('.') && !self.startsWith('/') && !self.endsWith('/') && !self.endsWith('.') && !self.endsWith('.lock') && !self.contains('.lock/') && self != '@')";
/// A Workspace `files[].path`: relative, no `..` component, no `.git` component (any case).
/// Written without look-ahead (OpenAPI patterns are RE2 on the server): a path is components
/// separated by `/`, the first one non-empty, none equal to `..` or `.git`.
pub const FILE_PATH_PATTERN: &str = concat!(
    r"^(",
    // one non-empty component that is neither `..` nor `.git` (any case)
    r"[^/]|[^/.][^/]|\.[^/.]|[^/]{3}|[^/.][^/]{3}|\.[^/gG][^/]{2}|\.[gG][^/iI][^/]|\.[gG][iI][^/tT]|[^/]{5,}",
    r")(/(",
    r"[^/]|[^/.][^/]|\.[^/.]|[^/]{3}|[^/.][^/]{3}|\.[^/gG][^/]{2}|\.[gG][^/iI][^/]|\.[gG][iI][^/tT]|[^/]{5,}",
    r")?)*$"
);

/// One broken rule: the field and what is allowed there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Dotted field path, e.g. `spec.timeoutSeconds`.
    pub path: String,
    /// What is wrong and what is allowed, in one line.
    pub reason: String,
}

impl Violation {
    fn at(path: impl Into<String>, reason: String) -> Violation {
        Violation {
            path: path.into(),
            reason,
        }
    }
}

/// `timeoutSeconds`: 0 (no timeout) or a positive number of seconds.
pub fn check_timeout_seconds(seconds: i64) -> Result<(), String> {
    if seconds < 0 {
        return Err(format!(
            "must be 0 (no timeout) or a positive number of seconds, got {seconds}"
        ));
    }
    Ok(())
}

/// `ttlSecondsAfterFinished`: 0 (delete at once) or a positive number of seconds.
pub fn check_ttl_seconds(seconds: i32) -> Result<(), String> {
    if seconds < 0 {
        return Err(format!(
            "must be 0 (delete as soon as the Task finishes) or a positive number of seconds, got {seconds}"
        ));
    }
    Ok(())
}

/// `backoffLimit`: 0 to [`MAX_BACKOFF_LIMIT`] retries.
pub fn check_backoff_limit(retries: i32) -> Result<(), String> {
    if !(0..=MAX_BACKOFF_LIMIT).contains(&retries) {
        return Err(format!(
            "must be between 0 (no retry) and {MAX_BACKOFF_LIMIT} retries, got {retries}"
        ));
    }
    Ok(())
}

/// A prompt or prompt template: not empty, not only whitespace, at most [`MAX_PROMPT_BYTES`].
pub fn check_prompt(prompt: &str) -> Result<(), String> {
    if prompt.is_empty() {
        return Err("must not be empty: it is what the agent is asked to do".into());
    }
    if prompt.trim().is_empty() {
        return Err("is only whitespace: it must say what the agent is asked to do".into());
    }
    if prompt.len() > MAX_PROMPT_BYTES {
        return Err(format!(
            "{} is over the {} MiB limit",
            mib(prompt.len()),
            MAX_PROMPT_BYTES / (1024 * 1024)
        ));
    }
    Ok(())
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A Kubernetes object name: a DNS-1123 subdomain — dot-separated labels of lowercase letters,
/// digits and `-`, each starting and ending with a letter or digit; at most 253 characters.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LENGTH
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or
/// digit; at most [`MAX_LABEL_NAME_LENGTH`] characters.
pub fn is_dns1123_label(name: &str) -> bool {
    is_dns1123_subdomain(name) && name.len() <= MAX_LABEL_NAME_LENGTH && !name.contains('.')
}

/// The name of a `kind` (Task or TaskSpawner) whose name must be a DNS-1123 label (see
/// [`MAX_LABEL_NAME_LENGTH`] for why).
pub fn check_label_name(name: &str, kind: &str) -> Result<(), String> {
    if name.len() > MAX_LABEL_NAME_LENGTH {
        return Err(format!(
            "is {} characters: a {kind} name is at most {MAX_LABEL_NAME_LENGTH} (a DNS-1123 label, as Kubernetes requires of Job names and label values)",
            name.len()
        ));
    }
    if !is_dns1123_label(name) {
        return Err(format!(
            "{name:?} is not a valid {kind} name: use lowercase letters, digits and '-', starting and ending with a letter or digit, no '.' (a DNS-1123 label of at most {MAX_LABEL_NAME_LENGTH} characters)"
        ));
    }
    Ok(())
}

/// The name in a reference (`secretRef`, `workspaceRef`, `agentConfigRef`): a valid object
/// name. `what` is the kind of object referred to (`Secret`, `Workspace`, `AgentConfig`).
pub fn check_reference_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("is empty: name the {what} to use"));
    }
    if !is_dns1123_subdomain(name) {
        return Err(format!(
            "{name:?} is not a valid {what} name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (at most {MAX_NAME_LENGTH} characters)"
        ));
    }
    Ok(())
}

/// `dependsOn`: at most [`MAX_DEPENDENCIES`] names of Tasks in the same namespace, none of
/// them the Task itself (`own_name`; `None` for a TaskSpawner's template, whose Tasks are named
/// later; their entries may be templates over the item, checked by the core once rendered).
/// Unknown names are allowed: the Task waits for them to be created.
pub fn check_depends_on(own_name: Option<&str>, deps: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    if deps.len() > MAX_DEPENDENCIES {
        out.push((
            MAX_DEPENDENCIES,
            format!(
                "has {} entries: a Task may depend on at most {MAX_DEPENDENCIES} Tasks (chain them through an intermediate Task instead)",
                deps.len()
            ),
        ));
        return out;
    }
    for (i, d) in deps.iter().enumerate() {
        if own_name.is_none() && d.contains("{{") {
            continue;
        }
        if let Some((ns, _)) = d.split_once('/') {
            out.push((
                i,
                format!(
                    "{d:?} names a Task in namespace {ns:?}: a Task may only depend on Tasks in its own namespace (give the bare name)"
                ),
            ));
        } else if let Err(reason) = check_reference_name(d, "Task") {
            out.push((i, reason));
        } else if Some(d.as_str()) == own_name {
            out.push((
                i,
                format!("{d:?} is the Task itself: a Task cannot depend on itself"),
            ));
        } else if deps[..i].contains(d) {
            out.push((i, format!("{d:?} is listed twice")));
        }
    }
    out
}

/// `branch`: a branch name git accepts (a template is checked by the core once rendered).
pub fn check_branch(branch: &str) -> Result<(), String> {
    if branch.is_empty() {
        return Err("is empty: name the branch to work on, or leave the field out".into());
    }
    if branch.contains("{{") {
        return Ok(());
    }
    check_git_ref(branch)
}

fn bad_char(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control() || c.is_whitespace())
}

/// A Workspace `repo`: a URL or path git can clone, never something git reads as an option.
pub fn check_repo(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("must not be empty: the git repository to clone (URL or path)".into());
    }
    if repo.starts_with('-') {
        return Err(format!(
            "{repo:?} starts with '-': it would reach git as an option, not as a repository"
        ));
    }
    if let Some(c) = bad_char(repo) {
        return Err(format!(
            "{repo:?} contains {c:?}: a repository URL or path has no whitespace or control characters"
        ));
    }
    Ok(())
}

/// A Workspace `ref`: empty (the default branch) or a name `git check-ref-format` accepts (a
/// branch, a tag or a commit id), never something git reads as an option.
pub fn check_git_ref(git_ref: &str) -> Result<(), String> {
    if git_ref.is_empty() {
        return Ok(());
    }
    if git_ref.starts_with('-') {
        return Err(format!(
            "{git_ref:?} starts with '-': it would reach git as an option, not as a ref"
        ));
    }
    let why = git_ref_problem(git_ref, false);
    match why {
        None => Ok(()),
        Some(why) => Err(format!(
            "{git_ref:?} is not a valid git ref name: {why} (a branch, tag or commit id, as `git check-ref-format` accepts)"
        )),
    }
}

/// Why `r` is not a name `git check-ref-format` accepts (`None`: it is). With `glob`, `*` is
/// allowed (a `protectedBranches` pattern).
pub(crate) fn git_ref_problem(r: &str, glob: bool) -> Option<String> {
    if r.len() > MAX_GIT_REF_LENGTH {
        return Some(format!("longer than {MAX_GIT_REF_LENGTH} characters"));
    }
    if let Some(c) = r.chars().find(|c| c.is_ascii_control()) {
        return Some(format!("it contains the control character {c:?}"));
    }
    if let Some(c) = r
        .chars()
        .find(|c| matches!(c, ' ' | '~' | '^' | ':' | '?' | '[' | '\\') || (*c == '*' && !glob))
    {
        return Some(format!("it contains {c:?}"));
    }
    if r == "@" {
        return Some("it is \"@\"".into());
    }
    if r.contains("..") {
        return Some("it contains \"..\"".into());
    }
    if r.contains("@{") {
        return Some("it contains \"@{\"".into());
    }
    if r.ends_with('/') || r.ends_with('.') {
        return Some("it ends with '/' or '.'".into());
    }
    for component in r.split('/') {
        if component.is_empty() {
            return Some("it has an empty component (a leading '/' or \"//\")".into());
        }
        if component.starts_with('.') {
            return Some(format!("its component {component:?} starts with '.'"));
        }
        if component.ends_with(".lock") {
            return Some(format!("its component {component:?} ends with \".lock\""));
        }
    }
    None
}

/// The longest Workspace `setupCommand` accepted.
pub const MAX_SETUP_COMMAND_LENGTH: usize = 16384;
/// The most `agentConfigRefs` a Task (or template) may have.
pub const MAX_AGENT_CONFIG_REFS: usize = 16;
/// The most Workspace `remotes` accepted.
pub const MAX_REMOTES: usize = 16;

/// A Workspace `setupCommand`: a non-blank shell command of bounded size.
pub fn check_setup_command(cmd: &str) -> Result<(), String> {
    if cmd.trim().is_empty() {
        return Err(
            "must not be blank: a shell command run before the agent (omit the field for none)"
                .into(),
        );
    }
    if cmd.len() > MAX_SETUP_COMMAND_LENGTH {
        return Err(format!(
            "is {} bytes: at most {MAX_SETUP_COMMAND_LENGTH} (put a longer script in the repository or in `files` and run that)",
            cmd.len()
        ));
    }
    if cmd.contains('\0') {
        return Err("contains a NUL character".into());
    }
    Ok(())
}

/// A Workspace `remotes[].name`: a plain git remote name, not `origin`, not repeated.
pub fn check_remote_name<'a>(
    name: &str,
    mut earlier: impl Iterator<Item = &'a str>,
) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.ends_with(".lock")
        && !name.contains("..");
    if !plain {
        return Err(format!(
            "invalid remote name {name:?}: use letters, digits, '.', '_' and '-', starting with a letter or digit"
        ));
    }
    if name == "origin" {
        return Err("\"origin\" is the Workspace's repo: name the extra remote differently".into());
    }
    if earlier.any(|e| e == name) {
        return Err(format!("remote {name:?} is listed twice"));
    }
    Ok(())
}

/// A Workspace `files[].path`: relative, inside the work tree, not inside `.git`.
pub fn check_file_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty: a path relative to the repository root".into());
    }
    if path.len() > MAX_FILE_PATH_LENGTH {
        return Err(format!("is longer than {MAX_FILE_PATH_LENGTH} characters"));
    }
    let p = Path::new(path);
    if p.is_absolute() {
        return Err(format!(
            "{path:?} is absolute: use a path relative to the repository root"
        ));
    }
    let mut normal = 0;
    for c in p.components() {
        match c {
            Component::ParentDir => {
                return Err(format!(
                    "{path:?} contains '..': the file must stay inside the repository"
                ));
            }
            Component::Normal(n) => {
                if n.eq_ignore_ascii_case(".git") {
                    return Err(format!(
                        "{path:?} is inside .git: a file there would change git itself (hooks, config), not the work tree"
                    ));
                }
                normal += 1;
            }
            _ => {}
        }
    }
    if normal == 0 {
        return Err(format!("{path:?} names no file"));
    }
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(format!("{path:?} contains the control character {c:?}"));
    }
    Ok(())
}

/// A GitHub login: 1 to 39 letters, digits or single hyphens, not starting or ending with one.
pub fn check_github_login(login: &str) -> Result<(), String> {
    let ok = !login.is_empty()
        && login.len() <= 39
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !login.starts_with('-')
        && !login.ends_with('-')
        && !login.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{login:?} is not a GitHub login: 1 to 39 letters, digits or single hyphens, not at either end"
        ))
    }
}

/// A GitHub team: `org/team-slug`, or `team-slug` (of the repository's owner).
pub fn check_github_team(team: &str) -> Result<(), String> {
    let (org, slug) = match team.split_once('/') {
        Some((o, s)) => (Some(o), s),
        None => (None, team),
    };
    let slug_ok = !slug.is_empty()
        && slug.len() <= 100
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if org.is_some_and(|o| check_github_login(o).is_err()) || !slug_ok {
        return Err(format!(
            "{team:?} is not a GitHub team: write org/team-slug (the slug as in the team's URL: lowercase letters, digits, '-', '_'), or team-slug for a team of the repository's owner"
        ));
    }
    Ok(())
}

/// Every broken rule of a resource, in field order (empty: none).
pub fn violations(resource: &Resource) -> Vec<Violation> {
    let mut out = Vec::new();
    match resource {
        Resource::Task(t) => {
            let name = t.metadata.name.as_deref().unwrap_or_default();
            push(&mut out, "metadata.name", check_label_name(name, "Task"));
            task_spec(t.metadata.name.as_deref(), &t.spec, &mut out)
        }
        Resource::TaskSpawner(ts) => {
            let name = ts.metadata.name.as_deref().unwrap_or_default();
            push(
                &mut out,
                "metadata.name",
                check_label_name(name, "TaskSpawner"),
            );
            task_template(&ts.spec.task_template, &mut out);
            if let Some(w) = ts
                .spec
                .when
                .github_issues
                .as_ref()
                .and_then(|g| g.webhook.as_ref())
            {
                push(
                    &mut out,
                    "spec.when.githubIssues.webhook.secretRef.name",
                    check_reference_name(&w.secret_ref.name, "Secret"),
                );
                if let Some(c) = &w.checks {
                    push(
                        &mut out,
                        "spec.when.githubIssues.webhook.checks.maxAttempts",
                        if (1..=20).contains(&c.max_attempts) {
                            Ok(())
                        } else {
                            Err(format!("{} is out of range: use 1 to 20", c.max_attempts))
                        },
                    );
                    for (i, n) in c.names.iter().enumerate() {
                        push(
                            &mut out,
                            &format!("spec.when.githubIssues.webhook.checks.names[{i}]"),
                            if n.trim().is_empty() || n.len() > 200 {
                                Err("must name a check or workflow (1 to 200 characters)"
                                    .to_string())
                            } else {
                                Ok(())
                            },
                        );
                    }
                }
            }
            if let Some(p) = ts
                .spec
                .when
                .github_issues
                .as_ref()
                .and_then(|g| g.comment_policy.as_ref())
            {
                for (i, u) in p.allowed_users.iter().enumerate() {
                    push(
                        &mut out,
                        &format!("spec.when.githubIssues.commentPolicy.allowedUsers[{i}]"),
                        check_github_login(u),
                    );
                }
                for (i, t) in p.allowed_teams.iter().enumerate() {
                    push(
                        &mut out,
                        &format!("spec.when.githubIssues.commentPolicy.allowedTeams[{i}]"),
                        check_github_team(t),
                    );
                }
            }
            if let Some(b) = &ts.spec.budget {
                for (field, reason) in spawner_budget_violations(b) {
                    out.push(Violation::at(format!("spec.budget.{field}"), reason));
                }
            }
        }
        Resource::Workspace(ws) => {
            let spec = &ws.spec;
            push(&mut out, "spec.repo", check_repo(&spec.repo));
            if let Some(r) = &spec.git_ref {
                push(&mut out, "spec.ref", check_git_ref(r));
            }
            if let Some(s) = &spec.secret_ref {
                push(
                    &mut out,
                    "spec.secretRef.name",
                    check_reference_name(&s.name, "Secret"),
                );
            }
            for (i, f) in spec.files.iter().enumerate() {
                push(
                    &mut out,
                    &format!("spec.files[{i}].path"),
                    check_file_path(&f.path),
                );
            }
            if spec.clone_depth == Some(0) {
                out.push(Violation::at(
                    "spec.cloneDepth",
                    "must be at least 1 (the number of commits to clone; omit it for a full clone)"
                        .to_string(),
                ));
            }
            if let Some(cmd) = &spec.setup_command {
                push(&mut out, "spec.setupCommand", check_setup_command(cmd));
            }
            for (i, r) in spec.remotes.iter().enumerate() {
                let earlier = spec.remotes[..i].iter().map(|e| e.name.as_str());
                push(
                    &mut out,
                    &format!("spec.remotes[{i}].name"),
                    check_remote_name(&r.name, earlier),
                );
                push(
                    &mut out,
                    &format!("spec.remotes[{i}].url"),
                    check_repo(&r.url),
                );
            }
            if spec.remotes.len() > MAX_REMOTES {
                out.push(Violation::at(
                    "spec.remotes",
                    format!(
                        "{} remotes: at most {MAX_REMOTES} are allowed",
                        spec.remotes.len()
                    ),
                ));
            }
        }
        Resource::AgentConfig(_) => {}
    }
    out
}

fn push(out: &mut Vec<Violation>, path: &str, result: Result<(), String>) {
    if let Err(reason) = result {
        out.push(Violation::at(path, reason));
    }
}

/// The fields a Task and a TaskSpawner's template share, under `prefix` (`spec` or
/// `spec.taskTemplate`).
struct Common<'a> {
    secret: &'a str,
    workspace: Option<&'a str>,
    agent_config: Option<&'a str>,
    agent_configs: &'a [LocalObjectReference],
    ttl: Option<i32>,
    timeout: Option<i64>,
    backoff: Option<i32>,
    own_name: Option<&'a str>,
    depends_on: &'a [String],
    branch: Option<&'a str>,
    budget: Option<&'a Budget>,
    network: Option<&'a Network>,
    policy: Option<&'a Policy>,
    pricing: &'a [ModelPrice],
}

fn common(prefix: &str, c: Common<'_>, out: &mut Vec<Violation>) {
    push(
        out,
        &format!("{prefix}.credentials.secretRef.name"),
        check_reference_name(c.secret, "Secret"),
    );
    if let Some(w) = c.workspace {
        push(
            out,
            &format!("{prefix}.workspaceRef.name"),
            check_reference_name(w, "Workspace"),
        );
    }
    if let Some(a) = c.agent_config {
        push(
            out,
            &format!("{prefix}.agentConfigRef.name"),
            check_reference_name(a, "AgentConfig"),
        );
    }
    for (i, r) in c.agent_configs.iter().enumerate() {
        push(
            out,
            &format!("{prefix}.agentConfigRefs[{i}].name"),
            check_reference_name(&r.name, "AgentConfig"),
        );
    }
    if c.agent_configs.len() > MAX_AGENT_CONFIG_REFS {
        out.push(Violation::at(
            format!("{prefix}.agentConfigRefs"),
            format!(
                "{} AgentConfigs: at most {MAX_AGENT_CONFIG_REFS} are allowed",
                c.agent_configs.len()
            ),
        ));
    }
    if let Some(t) = c.ttl {
        push(
            out,
            &format!("{prefix}.ttlSecondsAfterFinished"),
            check_ttl_seconds(t),
        );
    }
    if let Some(t) = c.timeout {
        push(
            out,
            &format!("{prefix}.timeoutSeconds"),
            check_timeout_seconds(t),
        );
    }
    if let Some(b) = c.backoff {
        push(
            out,
            &format!("{prefix}.backoffLimit"),
            check_backoff_limit(b),
        );
    }
    for (i, reason) in check_depends_on(c.own_name, c.depends_on) {
        out.push(Violation::at(format!("{prefix}.dependsOn[{i}]"), reason));
    }
    if let Some(b) = c.branch {
        push(out, &format!("{prefix}.branch"), check_branch(b));
    }
    if let Some(b) = c.budget {
        for (field, reason) in budget_violations(b) {
            out.push(Violation::at(format!("{prefix}.budget.{field}"), reason));
        }
    }
    if let Some(n) = c.network {
        for (field, reason) in network_violations(n) {
            out.push(Violation::at(format!("{prefix}.network.{field}"), reason));
        }
    }
    if let Some(p) = c.policy {
        for (field, reason) in policy_violations(p) {
            out.push(Violation::at(format!("{prefix}.policy.{field}"), reason));
        }
    }
    for (field, reason) in pricing_violations(c.pricing) {
        out.push(Violation::at(format!("{prefix}.pricing{field}"), reason));
    }
}

fn task_spec(name: Option<&str>, spec: &TaskSpec, out: &mut Vec<Violation>) {
    push(out, "spec.prompt", check_prompt(&spec.prompt));
    common(
        "spec",
        Common {
            secret: &spec.credentials.secret_ref.name,
            workspace: spec.workspace_ref.as_ref().map(|r| r.name.as_str()),
            agent_config: spec.agent_config_ref.as_ref().map(|r| r.name.as_str()),
            agent_configs: &spec.agent_config_refs,
            ttl: spec.ttl_seconds_after_finished,
            timeout: spec.timeout_seconds,
            backoff: spec.backoff_limit,
            own_name: name,
            depends_on: &spec.depends_on,
            branch: spec.branch.as_deref(),
            budget: spec.budget.as_ref(),
            network: spec.network.as_ref(),
            policy: spec.policy.as_ref(),
            pricing: &spec.pricing,
        },
        out,
    );
}

fn task_template(t: &TaskTemplate, out: &mut Vec<Violation>) {
    if let Some(p) = &t.prompt_template {
        push(out, "spec.taskTemplate.promptTemplate", check_prompt(p));
    }
    common(
        "spec.taskTemplate",
        Common {
            secret: &t.credentials.secret_ref.name,
            workspace: t.workspace_ref.as_ref().map(|r| r.name.as_str()),
            agent_config: t.agent_config_ref.as_ref().map(|r| r.name.as_str()),
            agent_configs: &t.agent_config_refs,
            ttl: t.ttl_seconds_after_finished,
            timeout: t.timeout_seconds,
            backoff: t.backoff_limit,
            own_name: None,
            depends_on: &t.depends_on,
            branch: t.branch.as_deref(),
            budget: t.budget.as_ref(),
            network: t.network.as_ref(),
            policy: t.policy.as_ref(),
            pricing: &t.pricing,
        },
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_local_names_not_self_not_too_many() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_depends_on(Some("docs"), &names(&["scaffold", "tests"])).is_empty());
        let bad = check_depends_on(
            Some("docs"),
            &names(&["other/x", "docs", "Bad_Name", "a", "a"]),
        );
        let reasons: Vec<String> = bad.iter().map(|(i, r)| format!("[{i}] {r}")).collect();
        insta::assert_snapshot!(reasons.join("\n"));
        let many: Vec<String> = (0..65).map(|i| format!("t{i}")).collect();
        let over = check_depends_on(None, &many);
        assert_eq!(over.len(), 1);
        assert!(over[0].1.contains("at most 64"), "{}", over[0].1);
    }

    #[test]
    fn branch_is_a_git_branch_or_a_template() {
        assert!(check_branch("feature/x").is_ok());
        assert!(check_branch("{{.Deps.scaffold.Branch}}").is_ok());
        assert!(check_branch("").is_err());
        assert!(check_branch("-rf").is_err());
        assert!(check_branch("a..b").is_err());
    }

    #[test]
    fn timeout_zero_means_none_negative_is_refused() {
        assert!(check_timeout_seconds(0).is_ok());
        assert!(check_timeout_seconds(3600).is_ok());
        assert_eq!(
            check_timeout_seconds(-5),
            Err("must be 0 (no timeout) or a positive number of seconds, got -5".into())
        );
    }

    #[test]
    fn ttl_and_backoff_bounds() {
        assert!(check_ttl_seconds(0).is_ok());
        assert!(check_ttl_seconds(-1).is_err_and(|e| e.contains("got -1")));
        assert!(check_backoff_limit(0).is_ok());
        assert!(check_backoff_limit(MAX_BACKOFF_LIMIT).is_ok());
        assert!(check_backoff_limit(-1).is_err_and(|e| e.contains("got -1")));
        assert!(check_backoff_limit(MAX_BACKOFF_LIMIT + 1).is_err_and(|e| e.contains("and 10")));
    }

    #[test]
    fn prompts_must_say_something_and_fit() {
        assert!(check_prompt("Fix the bug").is_ok());
        assert!(check_prompt("").is_err_and(|e| e.starts_with("must not be empty")));
        assert!(check_prompt(" \n\t ").is_err_and(|e| e.starts_with("is only whitespace")));
        assert!(check_prompt(&"x".repeat(MAX_PROMPT_BYTES)).is_ok());
        let big = "x".repeat(12 * 1024 * 1024 + 300 * 1024);
        assert_eq!(
            check_prompt(&big),
            Err("12.3 MiB is over the 10 MiB limit".into())
        );
    }

    #[test]
    fn task_and_spawner_names_are_dns1123_labels() {
        for ok in ["a", "fix-bugs-42", "0", &"a".repeat(63)] {
            assert!(check_label_name(ok, "Task").is_ok(), "{ok}");
        }
        assert_eq!(
            check_label_name(&"a".repeat(64), "Task"),
            Err("is 64 characters: a Task name is at most 63 (a DNS-1123 label, as Kubernetes requires of Job names and label values)".into())
        );
        let e = check_label_name(&"a".repeat(253), "TaskSpawner").expect_err("too long");
        assert!(
            e.starts_with("is 253 characters: a TaskSpawner name is at most 63"),
            "{e}"
        );
        for bad in ["a.b", "A", "-a", "a-", "", "a_b"] {
            assert!(check_label_name(bad, "Task").is_err(), "{bad}");
        }
    }

    #[test]
    fn comment_policy_needs_a_webhook_and_names_users_and_teams() {
        let spawner = |github: &str| {
            format!(
                "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {{name: s}}\nspec:\n  when: {{githubIssues: {github}}}\n  taskTemplate:\n    type: codex\n    credentials: {{type: api-key, secretRef: {{name: c}}}}\n    workspaceRef: {{name: w}}\n"
            )
        };
        let ok = spawner(
            "{webhook: {secretRef: {name: hook}}, commentPolicy: {minimumPermission: triage, allowedUsers: [octo-cat], allowedTeams: [octo/core_team, reviewers], replyOnDenied: true}}",
        );
        let loaded = crate::loader::load_str("s.yaml", &ok).expect("loads");
        let crate::Resource::TaskSpawner(s) = &loaded[0].resource else {
            panic!("not a TaskSpawner");
        };
        let p = s
            .spec
            .when
            .github_issues
            .as_ref()
            .and_then(|g| g.comment_policy.clone());
        assert_eq!(
            p.map(|p| p.minimum_permission),
            Some(crate::RepoPermission::Triage)
        );
        let errors: Vec<String> = [
            "{commentPolicy: {}}",
            "{webhook: {secretRef: {name: hook}}, commentPolicy: {minimumPermission: owner}}",
            "{webhook: {secretRef: {name: hook}}, commentPolicy: {allowedUsers: ['-x', 'a b']}}",
            "{webhook: {secretRef: {name: hook}}, commentPolicy: {allowedTeams: ['Octo/Core', 'a/b/c']}}",
            "{webhook: {secretRef: {name: hook}, reviewStates: [changes_requested]}}",
            "{types: [pulls], webhook: {secretRef: {name: hook}, reviewStates: [dismissed]}}",
        ]
        .iter()
        .map(|g| {
            crate::loader::load_str("s.yaml", &spawner(g))
                .expect_err("refused")
                .to_string()
        })
        .collect();
        insta::assert_snapshot!(errors.join("\n"));
        assert!(crate::RepoPermission::Maintain > crate::RepoPermission::Write);
        assert_eq!(
            crate::RepoPermission::from_github("push"),
            Some(crate::RepoPermission::Write)
        );
        assert_eq!(crate::RepoPermission::from_github("none"), None);
    }

    #[test]
    fn check_remediation_needs_pulls_and_bounded_attempts() {
        let spawner = |github: &str| {
            format!(
                "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {{name: s}}\nspec:\n  when: {{githubIssues: {github}}}\n  taskTemplate:\n    type: codex\n    credentials: {{type: api-key, secretRef: {{name: c}}}}\n    workspaceRef: {{name: w}}\n"
            )
        };
        let loaded = crate::loader::load_str(
            "s.yaml",
            &spawner("{types: [pulls], webhook: {secretRef: {name: hook}, checks: {}}}"),
        )
        .expect("loads");
        let crate::Resource::TaskSpawner(s) = &loaded[0].resource else {
            panic!("not a TaskSpawner");
        };
        let checks = s
            .spec
            .when
            .github_issues
            .as_ref()
            .and_then(|g| g.webhook.as_ref())
            .and_then(|w| w.checks.clone());
        assert_eq!(checks, Some(crate::CheckRemediation::default()));
        let errors: Vec<String> = [
            "{webhook: {secretRef: {name: hook}, checks: {}}}",
            "{types: [pulls], webhook: {secretRef: {name: hook}, checks: {maxAttempts: 0}}}",
            "{types: [pulls], webhook: {secretRef: {name: hook}, checks: {maxAttempts: 21}}}",
            "{types: [pulls], webhook: {secretRef: {name: hook}, checks: {names: [' ']}}}",
            "{types: [pulls], webhook: {secretRef: {name: hook}, checks: {conclusions: [red]}}}",
        ]
        .iter()
        .map(|g| {
            crate::loader::load_str("s.yaml", &spawner(g))
                .expect_err("refused")
                .to_string()
        })
        .collect();
        insta::assert_snapshot!(errors.join("\n"));
    }

    #[test]
    fn webhook_secret_is_a_secret_name() {
        let spawner = |secret: &str| {
            format!(
                "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {{name: s}}\nspec:\n  when: {{githubIssues: {{webhook: {{secretRef: {{name: '{secret}'}}}}}}}}\n  taskTemplate:\n    type: codex\n    credentials: {{type: api-key, secretRef: {{name: c}}}}\n    workspaceRef: {{name: w}}\n"
            )
        };
        assert!(crate::loader::load_str("s.yaml", &spawner("hook")).is_ok());
        let e = crate::loader::load_str("s.yaml", &spawner("Hook_1")).expect_err("refused");
        insta::assert_snapshot!(e.to_string(), @r#"
        s.yaml: document 0 (TaskSpawner/s): spec.when.githubIssues.webhook.secretRef.name: "Hook_1" is not a valid Secret name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)
        "#);
    }

    #[test]
    fn reference_names_are_dns1123_subdomains() {
        for ok in ["a", "key", "my-secret", "a.b-c.d", "0", &"a".repeat(253)] {
            assert!(check_reference_name(ok, "Secret").is_ok(), "{ok}");
        }
        for bad in [
            "../x",
            "A",
            "a_b",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a/b",
            "a.-b",
            " a",
            &"a".repeat(254),
        ] {
            assert!(check_reference_name(bad, "Secret").is_err(), "{bad}");
        }
        assert_eq!(
            check_reference_name("", "Secret"),
            Err("is empty: name the Secret to use".into())
        );
        let e = check_reference_name("../x", "Workspace").expect_err("bad");
        assert!(
            e.starts_with("\"../x\" is not a valid Workspace name"),
            "{e}"
        );
    }

    #[test]
    fn repos_never_reach_git_as_options() {
        for ok in [
            "https://github.com/o/r.git",
            "git@github.com:o/r.git",
            "ssh://git@host/r",
            "file:///srv/r.git",
            "/srv/r.git",
            "../relative/r",
        ] {
            assert!(check_repo(ok).is_ok(), "{ok}");
        }
        let e = check_repo("--upload-pack=touch /tmp/x").expect_err("option");
        assert!(e.contains("it would reach git as an option"), "{e}");
        assert!(check_repo("").is_err());
        for bad in [
            "https://h/r x",
            "https://h/r\n",
            "a\tb",
            "r\u{7f}",
            "r\u{a0}",
        ] {
            assert!(
                check_repo(bad).is_err_and(|e| e.contains("no whitespace or control")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refs_follow_git_check_ref_format() {
        for ok in [
            "",
            "main",
            "v1.2.3",
            "feature/x-y",
            "refs/pull/7/head",
            "0123456789abcdef0123456789abcdef01234567",
            "a@b",
            "release-1.0_rc",
        ] {
            assert!(check_git_ref(ok).is_ok(), "{ok}");
        }
        let e = check_git_ref("--upload-pack=x").expect_err("option");
        assert!(e.contains("it would reach git as an option"), "{e}");
        for (bad, why) in [
            ("a..b", "\"..\""),
            ("a@{1}", "\"@{\""),
            ("main.lock", ".lock"),
            ("x.lock/y", ".lock"),
            ("a\u{1}b", "control character"),
            ("a\u{7f}", "control character"),
            ("a b", "' '"),
            ("a~1", "'~'"),
            ("a^", "'^'"),
            ("a:b", "':'"),
            ("a?", "'?'"),
            ("a*", "'*'"),
            ("a[b", "'['"),
            ("a\\b", "'\\\\'"),
            ("main/", "ends with"),
            ("main.", "ends with"),
            ("/main", "empty component"),
            ("a//b", "empty component"),
            ("a/.b", "starts with '.'"),
            (".a", "starts with '.'"),
            ("@", "\"@\""),
        ] {
            let e = check_git_ref(bad).expect_err(bad);
            assert!(
                e.contains(why) && e.contains("not a valid git ref name"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn file_paths_stay_in_the_work_tree_and_out_of_git() {
        for ok in [
            "a",
            "notes.md",
            ".axon/notes.md",
            "src/./main.rs",
            ".github/workflows/ci.yml",
            ".gitignore",
            "x/.gitkeep",
            "..a",
            "a..",
        ] {
            assert!(check_file_path(ok).is_ok(), "{ok}");
        }
        assert!(check_file_path("/etc/passwd").is_err_and(|e| e.contains("is absolute")));
        for bad in ["../x", "a/../../x", "a/.."] {
            assert!(
                check_file_path(bad).is_err_and(|e| e.contains("contains '..'")),
                "{bad}"
            );
        }
        for bad in [".git/hooks/pre-commit", "sub/.GIT/config", ".Git", "a/.git"] {
            assert!(
                check_file_path(bad).is_err_and(|e| e.contains("is inside .git")),
                "{bad}"
            );
        }
        assert!(check_file_path("").is_err());
        assert!(check_file_path(".").is_err_and(|e| e.contains("names no file")));
    }
}
