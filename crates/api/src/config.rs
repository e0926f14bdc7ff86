//! The config file (`~/.axon/config.yaml`): defaults for the CLI. Flags always win over it.
//! Tokens in it are never echoed back: `Debug` redacts them.

use crate::common::{AgentType, CredentialType};
use crate::error::ApiError;
use crate::model_price::ModelPrice;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// Which backend commands use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One machine, no cluster: SQLite store and sandboxed processes.
    #[default]
    Local,
    /// A Kubernetes cluster with the Axon controller installed.
    Kubernetes,
}

impl Backend {
    /// The name used in the config file and `--backend`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Kubernetes => "kubernetes",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Backend::Local),
            "kubernetes" | "k8s" => Ok(Backend::Kubernetes),
            other => Err(format!(
                "unknown backend {other:?}: expected local or kubernetes"
            )),
        }
    }
}

/// The contents of `~/.axon/config.yaml`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// `local` (default) or `kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// OAuth token; Axon creates the secret. `none` means an empty credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token: Option<String>,
    /// API key; Axon creates the secret. `none` means an empty credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// A pre-created secret holding the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Credential type when using `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_type: Option<CredentialType>,
    /// Default workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceConfig>,
    /// Default agent type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<AgentType>,
    /// Default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Default API-compatible model endpoint.
    #[serde(
        default,
        rename = "modelBaseURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_base_url: Option<String>,
    /// Default namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Local backend: how many Tasks run at once (default: the number of cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Timeout of Tasks without `spec.timeoutSeconds`, in seconds; 0: none. Unset: 4 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Model prices (USD per million tokens) overriding the shipped table for every Task; a
    /// Task's own `pricing` wins over these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pricing: Vec<ModelPrice>,
}

/// The `workspace` field: a reference by name, or an inline repository.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceConfig {
    /// Name of an existing Workspace (wins over `repo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Repository URL; Axon creates the Workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Git ref.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// GitHub token; Axon creates the secret and injects `GITHUB_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn redact(v: &Option<String>) -> &'static str {
    if v.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("backend", &self.backend)
            .field("oauth_token", &redact(&self.oauth_token))
            .field("api_key", &redact(&self.api_key))
            .field("secret", &self.secret)
            .field("credential_type", &self.credential_type)
            .field("workspace", &self.workspace)
            .field("type_", &self.type_)
            .field("model", &self.model)
            .field("model_base_url", &self.model_base_url)
            .field("namespace", &self.namespace)
            .field("concurrency", &self.concurrency)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("pricing", &self.pricing)
            .finish()
    }
}

impl fmt::Debug for WorkspaceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkspaceConfig")
            .field("name", &self.name)
            .field("repo", &self.repo)
            .field("git_ref", &self.git_ref)
            .field("token", &redact(&self.token))
            .finish()
    }
}

impl Config {
    /// Read the config file; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Config>, ApiError> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&file, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ApiError::Read {
                file,
                reason: e.to_string(),
            }),
        }
    }

    /// Parse config text; unknown fields are errors naming the field.
    pub fn parse(file: &str, text: &str) -> Result<Config, ApiError> {
        let err = |path: String, reason: String| ApiError::Config {
            file: file.to_string(),
            path,
            reason,
        };
        let value: Value = serde_saphyr::from_str(text)
            .map_err(|e| err(String::new(), crate::loader::one_line(&e.to_string())))?;
        if value.is_null() {
            return Ok(Config::default());
        }
        let config: Config =
            crate::loader::strict(value).map_err(|(path, reason)| err(path, reason))?;
        if let Some(t) = config.timeout_seconds {
            crate::rules::check_timeout_seconds(t)
                .map_err(|reason| err("timeoutSeconds".into(), reason))?;
        }
        if let Some((field, reason)) = crate::model_price::pricing_violations(&config.pricing)
            .into_iter()
            .next()
        {
            return Err(err(format!("pricing{field}"), reason));
        }
        Ok(config)
    }

    /// The commented template `axon init` writes.
    pub fn template() -> &'static str {
        include_str!("config_template.yaml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_is_all_defaults() {
        let c = Config::parse("template", Config::template()).expect("template parses");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn every_field_parses() {
        let text = "backend: kubernetes\noauthToken: tok\napiKey: key\nsecret: s\ncredentialType: oauth\nworkspace:\n  name: w\n  repo: https://example.com/r.git\n  ref: main\n  token: gh\ntype: codex\nmodel: m\nmodelBaseURL: http://127.0.0.1:1\nnamespace: ns\nconcurrency: 3\ntimeoutSeconds: 0\n";
        let c = Config::parse("c", text).expect("parses");
        assert_eq!(c.backend, Some(Backend::Kubernetes));
        assert_eq!(c.type_, Some(AgentType::Codex));
        assert_eq!(c.timeout_seconds, Some(0));
        assert_eq!(
            c.workspace.as_ref().and_then(|w| w.token.as_deref()),
            Some("gh")
        );
        let again =
            Config::parse("c", &serde_saphyr::to_string(&c).expect("yaml")).expect("round trip");
        assert_eq!(again, c);
    }

    #[test]
    fn unknown_field_is_named() {
        let e = Config::parse("c.yaml", "apikey: x\n").expect_err("unknown");
        assert_eq!(e.to_string(), "config file c.yaml: apikey: unknown field");
    }

    #[test]
    fn negative_default_timeout_is_refused() {
        let e = Config::parse("c.yaml", "timeoutSeconds: -5\n").expect_err("negative");
        assert_eq!(
            e.to_string(),
            "config file c.yaml: timeoutSeconds: must be 0 (no timeout) or a positive number of seconds, got -5"
        );
        let c = Config::parse("c.yaml", "timeoutSeconds: 1800\n").expect("parses");
        assert_eq!(c.timeout_seconds, Some(1800));
    }

    #[test]
    fn pricing_parses_and_bad_prices_are_refused() {
        let text = "pricing:\n- model: my-model\n  inputPerMTok: 3\n  outputPerMTok: 15\n  cacheReadPerMTok: 0.3\n  cacheWritePerMTok: 3.75\n- {model: free, inputPerMTok: 0, outputPerMTok: 0}\n";
        let c = Config::parse("c", text).expect("parses");
        assert_eq!(c.pricing.len(), 2);
        assert_eq!(c.pricing[0].cache_write_per_mtok, Some(3.75));
        let again =
            Config::parse("c", &serde_saphyr::to_string(&c).expect("yaml")).expect("round trip");
        assert_eq!(again, c);
        let e = Config::parse(
            "c.yaml",
            "pricing:\n- {model: m, inputPerMTok: -1, outputPerMTok: 1}\n",
        )
        .expect_err("negative");
        assert_eq!(
            e.to_string(),
            "config file c.yaml: pricing[0].inputPerMTok: must be 0 or more US dollars per million tokens, got -1"
        );
        let e = Config::parse(
            "c.yaml",
            "pricing:\n- {model: m, inputPerMTok: 1, outputPerMTok: 1}\n- {model: m, inputPerMTok: 2, outputPerMTok: 2}\n",
        )
        .expect_err("twice");
        assert_eq!(
            e.to_string(),
            "config file c.yaml: pricing[1].model: \"m\" is priced twice (also in entry 0): keep one entry per model"
        );
        let e = Config::parse("c.yaml", "pricing:\n- {model: m, inputPerMTok: 1}\n")
            .expect_err("missing");
        assert!(e.to_string().contains("pricing[0]"), "{e}");
    }

    #[test]
    fn debug_never_shows_tokens() {
        let c = Config::parse(
            "c",
            "oauthToken: sekret1\napiKey: sekret2\nworkspace:\n  token: sekret3\n",
        )
        .expect("parses");
        let d = format!("{c:?}");
        assert!(!d.contains("sekret"), "{d}");
    }
}
