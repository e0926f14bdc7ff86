//! The four kinds as a value, with the names the CLI accepts (`tasks`, `task`, `tk`, ...).

use std::fmt;
use std::str::FromStr;

/// One of Axon's four resource kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Task,
    Workspace,
    AgentConfig,
    TaskSpawner,
}

impl Kind {
    /// Every kind, in dependency order (what a Task references comes first).
    pub const ALL: [Kind; 4] = [
        Kind::Workspace,
        Kind::AgentConfig,
        Kind::Task,
        Kind::TaskSpawner,
    ];

    /// The kind as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "Task",
            Kind::Workspace => "Workspace",
            Kind::AgentConfig => "AgentConfig",
            Kind::TaskSpawner => "TaskSpawner",
        }
    }

    /// The plural, lowercase resource name (`tasks`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Task => "tasks",
            Kind::Workspace => "workspaces",
            Kind::AgentConfig => "agentconfigs",
            Kind::TaskSpawner => "taskspawners",
        }
    }

    /// The short name (`tk`, `ws`, `ac`, `tsp`).
    pub fn short_name(self) -> &'static str {
        match self {
            Kind::Task => "tk",
            Kind::Workspace => "ws",
            Kind::AgentConfig => "ac",
            Kind::TaskSpawner => "tsp",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| {
                lower == k.plural()
                    || lower == k.short_name()
                    || lower == k.as_str().to_ascii_lowercase()
            })
            .ok_or_else(|| {
                format!("unknown resource type {s:?}: expected tasks, workspaces, agentconfigs or taskspawners")
            })
    }
}

/// A command-line resource argument: `KIND` (`tasks`, `tk`, ...) or `KIND/NAME` (`task/x`, as
/// `-o name` prints it, kubectl style): the kind, and the name when given.
pub fn parse_kind_name(s: &str) -> Result<(Kind, Option<String>), String> {
    let Some((kind, name)) = s.split_once('/') else {
        return Ok((s.parse()?, None));
    };
    let kind: Kind = kind.parse()?;
    if name.is_empty() {
        return Err(format!(
            "{s:?}: the name after '/' is empty (expected {}/NAME)",
            kind.plural().trim_end_matches('s')
        ));
    }
    if name.contains('/') {
        return Err(format!(
            "{s:?}: a name cannot contain '/' (expected {}/NAME)",
            kind.plural().trim_end_matches('s')
        ));
    }
    Ok((kind, Some(name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_slash_name_like_kubectl() {
        assert_eq!(parse_kind_name("tasks"), Ok((Kind::Task, None)));
        assert_eq!(
            parse_kind_name("task/x"),
            Ok((Kind::Task, Some("x".to_string())))
        );
        for (s, kind) in [
            ("tk/x", Kind::Task),
            ("workspace/x", Kind::Workspace),
            ("ws/x", Kind::Workspace),
            ("agentconfig/x", Kind::AgentConfig),
            ("ac/x", Kind::AgentConfig),
            ("taskspawners/x", Kind::TaskSpawner),
            ("tsp/x", Kind::TaskSpawner),
            ("TaskSpawner/x", Kind::TaskSpawner),
        ] {
            assert_eq!(parse_kind_name(s), Ok((kind, Some("x".to_string()))), "{s}");
        }
        assert!(parse_kind_name("pod/x").is_err_and(|e| e.contains("unknown resource type")));
        assert!(parse_kind_name("task/").is_err_and(|e| e.contains("the name after '/' is empty")));
        assert!(parse_kind_name("task/a/b").is_err_and(|e| e.contains("cannot contain '/'")));
    }

    #[test]
    fn accepts_plural_singular_short_and_kind() {
        for s in ["tasks", "task", "tk", "Task", "TASKS"] {
            assert_eq!(s.parse::<Kind>(), Ok(Kind::Task), "{s}");
        }
        assert_eq!("tsp".parse::<Kind>(), Ok(Kind::TaskSpawner));
        assert_eq!("agentconfig".parse::<Kind>(), Ok(Kind::AgentConfig));
        assert!("pods".parse::<Kind>().is_err());
    }
}
