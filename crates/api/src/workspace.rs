//! The Workspace: a git repository the agent works on.

use crate::common::SecretReference;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A git repository (and ref) that Tasks clone into a fresh work tree.
#[derive(CustomResource, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "axon.io",
    version = "v1alpha1",
    kind = "Workspace",
    plural = "workspaces",
    namespaced,
    derive = "PartialEq",
    shortname = "ws",
    category = "axon",
    printcolumn(name = "Repo", type_ = "string", json_path = ".spec.repo"),
    printcolumn(name = "Ref", type_ = "string", json_path = ".spec.ref"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSpec {
    /// Git repository URL to clone (HTTPS, git://, SSH, file:// or a local path); never
    /// starting with `-`, no whitespace or control characters.
    #[schemars(length(min = 1), regex(pattern = crate::rules::REPO_PATTERN))]
    pub repo: String,
    /// Branch, tag, or commit SHA to check out (defaults to the repository's default branch);
    /// a name `git check-ref-format` accepts, never starting with `-`.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), regex(pattern = crate::rules::GIT_REF_PATTERN))]
    #[x_kube(validation = Rule::new(crate::rules::GIT_REF_CEL).message("must be a valid git ref name (git check-ref-format): no '..', '@{', '//', component starting with '.' or ending with '.lock', not ending with '/' or '.'"))]
    pub git_ref: Option<String>,
    /// Secret containing `GITHUB_TOKEN` for git auth and the gh CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    /// Files to inject into the cloned repository before the agent starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<WorkspaceFile>,
    /// A shell command run (`sh -c`) in the work tree after the clone and `files`, before the
    /// agent, in the agent's sandbox (or container) with its network rules; its output is in
    /// the Task's log and a non-zero exit fails the Task (`setup command exited N: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16384), regex(pattern = crate::rules::NOT_BLANK_PATTERN))]
    pub setup_command: Option<String>,
    /// Clone only the last N commits of the one branch (or tag, or commit) checked out: a
    /// shallow, single-branch clone, for very large repositories. Locally such a Workspace is
    /// cloned directly for each Task instead of through the mirror cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub clone_depth: Option<u32>,
    /// Extra git remotes added to the work tree (`origin` is always `repo`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub remotes: Vec<WorkspaceRemote>,
}

/// An extra git remote of the work tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceRemote {
    /// The remote's name (letters, digits, `.`, `_`, `-`; not `origin`).
    #[schemars(length(min = 1, max = 100), regex(pattern = crate::rules::REMOTE_NAME_PATTERN))]
    pub name: String,
    /// Its URL (like `repo`: never starting with `-`, no whitespace or control characters).
    #[schemars(length(min = 1), regex(pattern = crate::rules::REPO_PATTERN))]
    pub url: String,
}

/// A file written into the work tree before the agent starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceFile {
    /// Path relative to the repository root (not absolute, no `..` component, not inside `.git`).
    #[schemars(length(min = 1, max = 4096), regex(pattern = crate::rules::FILE_PATH_PATTERN))]
    pub path: String,
    /// File content.
    pub content: String,
}
