//! AgentConfig plugins as the driver lays them out in `AXON_PLUGINS_DIR`:
//! `<plugin>/skills/<skill>/SKILL.md` and `<plugin>/agents/<agent>.md`.
//!
//! Scanning reads everything into memory once, so that each adapter can map plugins onto its
//! CLI's own layout with a pure function (and the mapping is snapshot-tested).

use std::path::Path;

use crate::error::AgentError;

/// One AgentConfig plugin: named skills and sub-agents, with their Markdown bodies.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Plugin {
    pub name: String,
    pub skills: Vec<NamedDoc>,
    pub agents: Vec<NamedDoc>,
}

/// A named Markdown document (a skill's `SKILL.md` or an agent's `<name>.md`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct NamedDoc {
    pub name: String,
    pub content: String,
}

/// Whether a name is safe to use as a single path component.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Read every plugin under `dir`. Entries that do not follow the layout are skipped with a
/// warning (returned, for the runner to print), never an error: a stray file must not stop a run.
pub fn scan(dir: &Path) -> Result<(Vec<Plugin>, Vec<String>), AgentError> {
    let mut warnings = Vec::new();
    let mut plugins = Vec::new();
    for plugin_dir in sorted_entries(dir).map_err(|source| AgentError::ReadInput {
        what: "plugins directory",
        path: dir.to_path_buf(),
        source,
    })? {
        let Some(name) = file_name(&plugin_dir) else {
            continue;
        };
        if !plugin_dir.is_dir() {
            continue;
        }
        if !is_safe_name(&name) {
            warnings.push(format!("skipping plugin {name:?}: not a valid name"));
            continue;
        }
        let mut plugin = Plugin {
            name: name.clone(),
            ..Default::default()
        };
        for skill_dir in sorted_entries(&plugin_dir.join("skills")).unwrap_or_default() {
            let Some(skill) = file_name(&skill_dir) else {
                continue;
            };
            let file = skill_dir.join("SKILL.md");
            if !is_safe_name(&skill) || !file.is_file() {
                warnings.push(format!(
                    "skipping skill {name}/{skill}: expected skills/<name>/SKILL.md"
                ));
                continue;
            }
            plugin.skills.push(NamedDoc {
                name: skill,
                content: read(&file)?,
            });
        }
        for agent_file in sorted_entries(&plugin_dir.join("agents")).unwrap_or_default() {
            let Some(file) = file_name(&agent_file) else {
                continue;
            };
            let Some(agent) = file.strip_suffix(".md") else {
                warnings.push(format!(
                    "skipping agent {name}/{file}: expected agents/<name>.md"
                ));
                continue;
            };
            if !is_safe_name(agent) || !agent_file.is_file() {
                warnings.push(format!("skipping agent {name}/{file}: not a valid name"));
                continue;
            }
            plugin.agents.push(NamedDoc {
                name: agent.to_string(),
                content: read(&agent_file)?,
            });
        }
        plugins.push(plugin);
    }
    Ok((plugins, warnings))
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect::<Vec<_>>();
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()?.to_str().map(str::to_string)
}

fn read(path: &Path) -> Result<String, AgentError> {
    std::fs::read_to_string(path).map_err(|source| AgentError::ReadInput {
        what: "plugin file",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_the_documented_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("review");
        std::fs::create_dir_all(p.join("skills/lint")).expect("mkdir");
        std::fs::create_dir_all(p.join("agents")).expect("mkdir");
        std::fs::write(p.join("skills/lint/SKILL.md"), "lint it").expect("write");
        std::fs::write(p.join("agents/critic.md"), "be critical").expect("write");
        std::fs::write(p.join("agents/notes.txt"), "x").expect("write");
        let (plugins, warnings) = scan(dir.path()).expect("scan");
        assert_eq!(plugins.len(), 1);
        assert_eq!(plugins[0].skills[0].name, "lint");
        assert_eq!(plugins[0].agents[0].content, "be critical");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn names_are_single_components() {
        assert!(is_safe_name("code-review_2"));
        assert!(!is_safe_name(".."));
        assert!(!is_safe_name("a/b"));
        assert!(!is_safe_name(".hidden"));
    }
}
