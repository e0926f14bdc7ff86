//! One loader for multi-document YAML files holding any of the four kinds, used by
//! `axon apply -f`, `axon validate` and the examples' tests. Unknown fields are errors, and every
//! error names the file, the document's index and kind/name, and the field path.
//!
//! Two levels of checks: the structural ones (types, names, one source, durations) run on every
//! document, including what a backend reads back from its store ([`Resource::from_value`]); the
//! field rules of [`crate::rules`] (numbers, prompts, references, git arguments, file paths) run
//! on what users write ([`load_str`], [`load_file`]), so a document stored before a rule existed
//! can still be listed and deleted.

use crate::agent_config::AgentConfig;
use crate::error::ApiError;
use crate::task::Task;
use crate::task_spawner::TaskSpawner;
use crate::workspace::Workspace;
use crate::{API_VERSION, Duration};
use kube::core::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;

/// Any Axon resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    Task(Box<Task>),
    Workspace(Box<Workspace>),
    AgentConfig(Box<AgentConfig>),
    TaskSpawner(Box<TaskSpawner>),
}

/// The four kinds, as written in YAML.
pub const KINDS: [&str; 4] = ["Task", "Workspace", "AgentConfig", "TaskSpawner"];

impl Resource {
    /// The resource's kind, as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Task(_) => "Task",
            Resource::Workspace(_) => "Workspace",
            Resource::AgentConfig(_) => "AgentConfig",
            Resource::TaskSpawner(_) => "TaskSpawner",
        }
    }

    /// The resource's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::Task(r) => &r.metadata,
            Resource::Workspace(r) => &r.metadata,
            Resource::AgentConfig(r) => &r.metadata,
            Resource::TaskSpawner(r) => &r.metadata,
        }
    }

    /// The resource's metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Resource::Task(r) => &mut r.metadata,
            Resource::Workspace(r) => &mut r.metadata,
            Resource::AgentConfig(r) => &mut r.metadata,
            Resource::TaskSpawner(r) => &mut r.metadata,
        }
    }

    /// The resource's name (empty when unset).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The resource as JSON, with `apiVersion` and `kind`.
    pub fn to_value(&self) -> Value {
        let v = match self {
            Resource::Task(r) => serde_json::to_value(r),
            Resource::Workspace(r) => serde_json::to_value(r),
            Resource::AgentConfig(r) => serde_json::to_value(r),
            Resource::TaskSpawner(r) => serde_json::to_value(r),
        };
        v.unwrap_or(Value::Null)
    }

    /// Parse a resource from a JSON value (as stored), checking kind, fields and the structural
    /// rules; the field rules of [`crate::rules`] are not applied (see the module doc).
    pub fn from_value(value: Value) -> Result<Resource, ApiError> {
        parse_document("<value>", 0, value, Rules::Structural)
    }
}

/// A resource read from a file, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// File name (or `-` for standard input).
    pub file: String,
    /// Zero-based index of the document in the file.
    pub index: usize,
    /// The resource.
    pub resource: Resource,
}

/// Read every document of a file.
pub fn load_file(path: &Path) -> Result<Vec<Document>, ApiError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ApiError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    load_str(&file, &text)
}

/// Read every document of a YAML text, applying every check including the field rules of
/// [`crate::rules`] (the first broken one is the error). Empty documents are skipped.
pub fn load_str(file: &str, text: &str) -> Result<Vec<Document>, ApiError> {
    let values: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| ApiError::Syntax {
        file: file.to_string(),
        reason: one_line(&e.to_string()),
    })?;
    values
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_null())
        .map(|(index, value)| {
            parse_document(file, index, value, Rules::All).map(|resource| Document {
                file: file.to_string(),
                index,
                resource,
            })
        })
        .collect()
}

/// Which checks [`parse_document`] applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// Types and the structural checks only (what a backend stored).
    Structural,
    /// Those and the field rules (what a user wrote).
    All,
}

fn parse_document(
    file: &str,
    index: usize,
    value: Value,
    rules: Rules,
) -> Result<Resource, ApiError> {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let what = if name.is_empty() {
        if kind.is_empty() {
            "unknown".to_string()
        } else {
            kind.clone()
        }
    } else {
        format!("{kind}/{name}")
    };
    let err = |path: &str, reason: String| ApiError::Field {
        file: file.to_string(),
        index,
        what: what.clone(),
        path: path.to_string(),
        reason,
    };
    if !value.is_object() {
        return Err(err(
            "",
            "a document must be a mapping with apiVersion, kind, metadata and spec".into(),
        ));
    }
    match value.get("apiVersion").and_then(Value::as_str) {
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(err(
                "apiVersion",
                format!("unsupported apiVersion {other:?}: expected {API_VERSION:?}"),
            ));
        }
        None => {
            return Err(err(
                "apiVersion",
                format!("missing: expected {API_VERSION:?}"),
            ));
        }
    }
    let resource = match kind.as_str() {
        "Task" => Resource::Task(Box::new(strict(value).map_err(|(p, r)| err(&p, r))?)),
        "Workspace" => Resource::Workspace(Box::new(strict(value).map_err(|(p, r)| err(&p, r))?)),
        "AgentConfig" => {
            Resource::AgentConfig(Box::new(strict(value).map_err(|(p, r)| err(&p, r))?))
        }
        "TaskSpawner" => {
            Resource::TaskSpawner(Box::new(strict(value).map_err(|(p, r)| err(&p, r))?))
        }
        "" => {
            return Err(err(
                "kind",
                format!("missing: expected one of {}", KINDS.join(", ")),
            ));
        }
        other => {
            return Err(err(
                "kind",
                format!(
                    "unknown kind {other:?}: expected one of {}",
                    KINDS.join(", ")
                ),
            ));
        }
    };
    check(&resource).map_err(|(p, r)| err(&p, r))?;
    if rules == Rules::All
        && let Some(v) = crate::rules::violations(&resource).into_iter().next()
    {
        return Err(err(&v.path, v.reason));
    }
    Ok(resource)
}

/// Deserialize, rejecting unknown fields and reporting the failing field's path.
pub(crate) fn strict<T: DeserializeOwned>(value: Value) -> Result<T, (String, String)> {
    let mut unknown = Vec::new();
    // serde_ignored writes `?` for each `Option` it stepped into; users never wrote one.
    let mut record = |path: serde_ignored::Path<'_>| {
        let p = path.to_string();
        let clean: Vec<&str> = p.split('.').filter(|s| *s != "?").collect();
        unknown.push(clean.join("."))
    };
    let parsed: Result<T, _> = {
        let ignored = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize(ignored)
    };
    let parsed = parsed.map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, one_line(&e.into_inner().to_string()))
    })?;
    // The generated resource types read `apiVersion` and `kind` themselves.
    if let Some(first) = unknown
        .into_iter()
        .find(|p| p != "apiVersion" && p != "kind")
    {
        return Err((first, "unknown field".to_string()));
    }
    Ok(parsed)
}

/// Structural checks a schema cannot express: names, durations, one source.
fn check(resource: &Resource) -> Result<(), (String, String)> {
    let name = resource.name();
    if name.is_empty() {
        return Err((
            "metadata.name".into(),
            "missing: every resource needs a name".into(),
        ));
    }
    if let Err(reason) = check_name(name) {
        return Err(("metadata.name".into(), reason));
    }
    match resource {
        Resource::TaskSpawner(ts) => {
            let when = &ts.spec.when;
            let set: Vec<&str> = [
                (when.github_issues.is_some(), "githubIssues"),
                (when.cron.is_some(), "cron"),
                (when.items.is_some(), "items"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            match set.as_slice() {
                [] => {
                    return Err((
                        "spec.when".into(),
                        "exactly one source must be set: githubIssues, cron or items".into(),
                    ));
                }
                [_] => {}
                [a, b] => {
                    return Err((
                        "spec.when".into(),
                        format!("exactly one source must be set, found both {a} and {b}"),
                    ));
                }
                _ => {
                    return Err((
                        "spec.when".into(),
                        "exactly one source must be set, found githubIssues, cron and items".into(),
                    ));
                }
            }
            if let Some(gh) = &when.github_issues {
                if ts.spec.task_template.workspace_ref.is_none() {
                    return Err((
                        "spec.taskTemplate.workspaceRef".into(),
                        "required when spec.when.githubIssues is set (the repository to watch)"
                            .into(),
                    ));
                }
                if gh.types.is_empty() {
                    return Err((
                        "spec.when.githubIssues.types".into(),
                        "must name issues and/or pulls".into(),
                    ));
                }
                if gh
                    .webhook
                    .as_ref()
                    .is_some_and(|w| !w.review_states.is_empty())
                    && !gh.types.contains(&crate::ItemType::Pulls)
                {
                    return Err((
                        "spec.when.githubIssues.webhook.reviewStates".into(),
                        "takes pull request reviews: add pulls to spec.when.githubIssues.types"
                            .into(),
                    ));
                }
                if gh.webhook.as_ref().is_some_and(|w| w.checks.is_some())
                    && !gh.types.contains(&crate::ItemType::Pulls)
                {
                    return Err((
                        "spec.when.githubIssues.webhook.checks".into(),
                        "remediates pull requests' failed checks: add pulls to spec.when.githubIssues.types"
                            .into(),
                    ));
                }
                if gh.comment_policy.is_some() && gh.webhook.is_none() {
                    return Err((
                        "spec.when.githubIssues.commentPolicy".into(),
                        "needs spec.when.githubIssues.webhook: comment commands arrive as webhook deliveries".into(),
                    ));
                }
            }
            if let Some(interval) = &ts.spec.poll_interval {
                interval
                    .parse::<Duration>()
                    .map_err(|e| ("spec.pollInterval".to_string(), e))?;
            }
        }
        Resource::AgentConfig(ac) => {
            for (i, p) in ac.spec.plugins.iter().enumerate() {
                check_file_name(&p.name).map_err(|r| (format!("spec.plugins[{i}].name"), r))?;
                for (j, s) in p.skills.iter().enumerate() {
                    check_file_name(&s.name)
                        .map_err(|r| (format!("spec.plugins[{i}].skills[{j}].name"), r))?;
                }
                for (j, a) in p.agents.iter().enumerate() {
                    check_file_name(&a.name)
                        .map_err(|r| (format!("spec.plugins[{i}].agents[{j}].name"), r))?;
                }
            }
        }
        Resource::Task(_) | Resource::Workspace(_) => {}
    }
    Ok(())
}

/// A Kubernetes object name: DNS-1123 subdomain (dot-separated labels of lowercase
/// alphanumerics and `-`, each starting and ending with an alphanumeric; ≤ 253 characters).
pub fn check_name(name: &str) -> Result<(), String> {
    if crate::rules::is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid name {name:?}: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)"
        ))
    }
}

fn check_file_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name {name:?}: use letters, digits, '-', '_' and '.' (it becomes a file name)"
        ))
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Resource {
    /// The resource's kind as a value.
    pub fn kind_value(&self) -> crate::Kind {
        match self {
            Resource::Task(_) => crate::Kind::Task,
            Resource::Workspace(_) => crate::Kind::Workspace,
            Resource::AgentConfig(_) => crate::Kind::AgentConfig,
            Resource::TaskSpawner(_) => crate::Kind::TaskSpawner,
        }
    }
}
