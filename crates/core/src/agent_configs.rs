//! A Task's AgentConfigs (`agentConfigRef`, then `agentConfigRefs`), merged into the one the
//! run plan uses. Decided here once so that both backends (and the gateway's grant) merge
//! alike: later AgentConfigs win per field — a plugin by its name, whole — and instructions
//! (`agentsMD`) are concatenated in order, separated by a blank line, so a team can layer
//! "org defaults", "repository rules" and "this pipeline's role".

use axon_api::{AgentConfig, AgentConfigSpec, TaskSpec};

/// The Task's AgentConfigs merged from `found` (any order; looked up by name), or the names
/// of those missing from it. `Ok(None)`: the Task references none.
pub fn resolve(spec: &TaskSpec, found: &[AgentConfig]) -> Result<Option<AgentConfig>, Vec<String>> {
    let names = spec.agent_config_names();
    if names.is_empty() {
        return Ok(None);
    }
    let mut ordered = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match found
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
        {
            Some(c) => ordered.push(c),
            None => missing.push(name.to_string()),
        }
    }
    if missing.is_empty() {
        Ok(Some(merge(&ordered)))
    } else {
        Err(missing)
    }
}

/// `configs` merged in order (see the module comment); named after the first.
pub fn merge(configs: &[&AgentConfig]) -> AgentConfig {
    if let [one] = configs {
        return (*one).clone();
    }
    let mut spec = AgentConfigSpec::default();
    let mut md: Vec<&str> = Vec::new();
    for c in configs {
        if let Some(text) = c.spec.agents_md.as_deref().filter(|t| !t.trim().is_empty()) {
            md.push(text.trim_end_matches('\n'));
        }
        for plugin in &c.spec.plugins {
            match spec.plugins.iter_mut().find(|p| p.name == plugin.name) {
                Some(existing) => *existing = plugin.clone(),
                None => spec.plugins.push(plugin.clone()),
            }
        }
    }
    if !md.is_empty() {
        spec.agents_md = Some(md.join("\n\n") + "\n");
    }
    let name = configs
        .first()
        .and_then(|c| c.metadata.name.clone())
        .unwrap_or_default();
    let mut merged = AgentConfig::new(&name, spec);
    merged.metadata.namespace = configs.first().and_then(|c| c.metadata.namespace.clone());
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::{LocalObjectReference, Plugin, PluginSkill};

    fn config(name: &str, md: Option<&str>, plugins: &[(&str, &str)]) -> AgentConfig {
        AgentConfig::new(
            name,
            AgentConfigSpec {
                agents_md: md.map(String::from),
                plugins: plugins
                    .iter()
                    .map(|(p, skill)| Plugin {
                        name: p.to_string(),
                        skills: vec![PluginSkill {
                            name: skill.to_string(),
                            content: format!("{p}/{skill} from {name}"),
                        }],
                        agents: vec![],
                    })
                    .collect(),
            },
        )
    }

    fn spec(one: Option<&str>, more: &[&str]) -> TaskSpec {
        let mut spec: TaskSpec =
            serde_json::from_value(serde_json::json!({"type": "claude-code", "prompt": "p", "credentials": {"type": "api-key", "secretRef": {"name": "s"}}}))
                .expect("spec");
        spec.agent_config_ref = one.map(|n| LocalObjectReference { name: n.into() });
        spec.agent_config_refs = more
            .iter()
            .map(|n| LocalObjectReference {
                name: n.to_string(),
            })
            .collect();
        spec
    }

    #[test]
    fn later_configs_win_per_plugin_and_instructions_concatenate() {
        let found = [
            config(
                "repo",
                Some("Run make test."),
                &[("lint", "b"), ("docs", "c")],
            ),
            config("org", Some("Be kind.\n"), &[("lint", "a")]),
            config("role", None, &[("review", "d")]),
        ];
        let merged = resolve(&spec(Some("org"), &["repo", "role", "org"]), &found)
            .expect("all found")
            .expect("some");
        insta::assert_yaml_snapshot!(merged.spec, @r#"
        agentsMD: "Be kind.\n\nRun make test.\n"
        plugins:
          - name: lint
            skills:
              - name: b
                content: lint/b from repo
          - name: docs
            skills:
              - name: c
                content: docs/c from repo
          - name: review
            skills:
              - name: d
                content: review/d from role
        "#);
        assert_eq!(merged.metadata.name.as_deref(), Some("org"));
    }

    #[test]
    fn missing_ones_are_named_and_none_is_none() {
        let found = [config("org", Some("x"), &[])];
        assert_eq!(
            resolve(&spec(Some("org"), &["gone", "also-gone"]), &found),
            Err(vec!["gone".to_string(), "also-gone".to_string()])
        );
        assert_eq!(resolve(&spec(None, &[]), &found), Ok(None));
        let one = resolve(&spec(None, &["org"]), &found).expect("found");
        assert_eq!(
            one,
            Some(found[0].clone()),
            "one AgentConfig is used as it is"
        );
    }
}
