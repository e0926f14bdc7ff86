//! Routing a run through the Axon gateway, decided once for both drivers: the agent's
//! environment loses every secret reference and gains gateway values instead (its per-Task
//! token where a key went, the gateway's URL where the model endpoint went, the gateway as its
//! HTTP proxy, the CA bundle that trusts the gateway's interception), and the driver learns
//! which secrets the gateway must hold for the Task. The drivers only resolve the gateway
//! values (a local port, a Service address) and start or register the gateway.

use crate::budget::BudgetLimits;
use crate::plan::{EnvEntry, EnvValue, GITHUB_TOKEN_KEY, RunPlan};
use crate::pricing::{ModelPrice, PriceTable, PricingError};
use axon_api::contract;
use axon_api::{AgentType, NetworkMode, TaskSpec};
use thiserror::Error;

/// A value only the driver knows, resolved when it renders the agent's environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayValue {
    /// The Task's gateway token.
    Token,
    /// The gateway's origin (`http://host:port`) followed by `path` (the upstream's own path,
    /// so a `modelBaseURL` of `http://h/v1` becomes `http://gateway/v1`).
    ModelBaseUrl { path: String },
    /// `http://axon:<token>@<gateway host:port>`.
    ProxyUrl,
    /// The file holding the system CAs plus the Task's gateway CA.
    CaBundle,
}

/// A key of a secret the gateway reads for the Task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretKey {
    pub secret: String,
    pub key: String,
}

/// What the gateway must hold for a Task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayNeeds {
    /// Where model calls go: `scheme://host[:port]`, no path.
    pub model_upstream: String,
    /// The agent credential the gateway injects into model calls.
    pub model_credential: Option<SecretKey>,
    /// The Workspace's repository, when the Task has one.
    pub repo_url: Option<String>,
    /// The Workspace's GitHub token the gateway injects into in-scope GitHub requests.
    pub github_token: Option<SecretKey>,
}

/// Why a run cannot be routed through the gateway.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum GatewayPlanError {
    #[error(
        "modelBaseURL {0:?} is not an http(s) URL with a host: use e.g. https://llm.example.com/v1"
    )]
    BadModelBaseUrl(String),
}

/// Variables naming the gateway as the agent's HTTP proxy.
pub const PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"];
/// Variables naming the CA bundle that trusts the gateway's interception (OpenSSL and curl,
/// git, Node, Python).
pub const CA_BUNDLE_VARS: [&str; 5] = [
    "SSL_CERT_FILE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];
/// Variables cleared so that every destination goes through the proxy.
pub const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];
/// Variables holding the GitHub token.
pub const GITHUB_TOKEN_VARS: [&str; 2] = ["GITHUB_TOKEN", "GH_TOKEN"];

/// Where an agent type's CLI sends model calls when no `modelBaseURL` is given.
pub fn default_model_endpoint(agent: AgentType) -> &'static str {
    match agent {
        AgentType::ClaudeCode => "https://api.anthropic.com",
        AgentType::Codex => "https://api.openai.com",
        AgentType::Gemini => "https://generativelanguage.googleapis.com",
        AgentType::Opencode => "https://opencode.ai/zen",
    }
}

/// Split an endpoint URL into its origin (`scheme://host[:port]`) and its path (no trailing
/// slash, `""` for none). Query strings and user info are refused.
pub fn split_endpoint(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty()
        || authority.contains('@')
        || path.contains(['?', '#'])
        || authority.chars().any(|c| c.is_whitespace())
    {
        return None;
    }
    Some((
        format!("{scheme}://{authority}"),
        path.trim_end_matches('/').to_string(),
    ))
}

/// Rewrite `plan` so that the agent reaches models and GitHub only through the gateway, and
/// say what the gateway must hold. Every secret reference leaves the agent's environment; a
/// `spec.env` entry with a name the gateway sets is replaced (the gateway must stay in the
/// path for credentials to work).
pub fn route_through_gateway(plan: &mut RunPlan) -> Result<GatewayNeeds, GatewayPlanError> {
    let endpoint = plan
        .env
        .iter()
        .find(|e| e.name == contract::ENV_MODEL_BASE_URL)
        .and_then(|e| match &e.value {
            EnvValue::Literal(v) => Some(v.clone()),
            _ => None,
        });
    let (model_upstream, path) = match &endpoint {
        Some(url) => {
            split_endpoint(url).ok_or_else(|| GatewayPlanError::BadModelBaseUrl(url.clone()))?
        }
        None => split_endpoint(default_model_endpoint(plan.agent_type))
            .ok_or_else(|| GatewayPlanError::BadModelBaseUrl(String::new()))?,
    };

    let mut model_credential = None;
    let mut github_token = None;
    for e in &mut plan.env {
        if let EnvValue::Secret { secret, key } = &e.value {
            let sk = SecretKey {
                secret: secret.clone(),
                key: key.clone(),
            };
            if GITHUB_TOKEN_VARS.contains(&e.name.as_str()) && key == GITHUB_TOKEN_KEY {
                github_token.get_or_insert(sk);
            } else {
                model_credential.get_or_insert(sk);
            }
            e.value = EnvValue::Gateway(GatewayValue::Token);
        }
    }

    let set: Vec<(&str, EnvValue)> = std::iter::once((
        contract::ENV_MODEL_BASE_URL,
        EnvValue::Gateway(GatewayValue::ModelBaseUrl { path }),
    ))
    .chain(
        PROXY_VARS
            .iter()
            .map(|v| (*v, EnvValue::Gateway(GatewayValue::ProxyUrl))),
    )
    .chain(
        CA_BUNDLE_VARS
            .iter()
            .map(|v| (*v, EnvValue::Gateway(GatewayValue::CaBundle))),
    )
    .chain(
        NO_PROXY_VARS
            .iter()
            .map(|v| (*v, EnvValue::Literal(String::new()))),
    )
    // git's libcurl would ask the proxy without credentials first (a 407 per connection).
    .chain(std::iter::once((
        "GIT_HTTP_PROXY_AUTHMETHOD",
        EnvValue::Literal("basic".into()),
    )))
    .collect();
    plan.env
        .retain(|e| !set.iter().any(|(name, _)| *name == e.name));
    for (name, value) in set {
        plan.env.push(EnvEntry {
            name: name.to_string(),
            value,
        });
    }
    Ok(GatewayNeeds {
        model_upstream,
        model_credential,
        repo_url: plan.repo.as_ref().map(|r| r.url.clone()),
        github_token,
    })
}

/// What a Task's spec asks of its gateway: budget, egress rule, protected branches, prices.
#[derive(Clone, Debug)]
pub struct GatewayRules {
    pub budget: BudgetLimits,
    /// `Some(allow)`: `spec.network.mode: restricted`.
    pub restricted: Option<Vec<String>>,
    /// `spec.policy.protectedBranches` (the base branch is protected anyway).
    pub protected: Vec<String>,
    /// The shipped prices, then the config file's, then the Task's own.
    pub prices: PriceTable,
}

/// The gateway rules of a Task, with the config file's `pricing`.
pub fn gateway_rules(
    spec: &TaskSpec,
    config_pricing: &[axon_api::ModelPrice],
) -> Result<GatewayRules, PricingError> {
    let budget = spec
        .budget
        .as_ref()
        .map_or_else(BudgetLimits::default, |b| BudgetLimits {
            max_cost_usd: b.max_cost_usd,
            max_tokens: b.max_tokens.and_then(|n| u64::try_from(n).ok()),
            max_turns: b.max_turns.and_then(|n| u64::try_from(n).ok()),
        });
    let restricted = spec
        .network
        .as_ref()
        .filter(|n| n.mode == NetworkMode::Restricted)
        .map(|n| n.allow.clone());
    let protected = spec
        .policy
        .as_ref()
        .map(|p| p.protected_branches.clone())
        .unwrap_or_default();
    let price = |p: &axon_api::ModelPrice| {
        (
            p.model.clone(),
            ModelPrice {
                input_per_mtok: p.input_per_mtok,
                output_per_mtok: p.output_per_mtok,
                cache_read_per_mtok: p.cache_read_per_mtok,
                cache_write_per_mtok: p.cache_write_per_mtok,
            },
        )
    };
    let prices = PriceTable::shipped()
        .try_with_overrides(config_pricing.iter().map(price))?
        .try_with_overrides(spec.pricing.iter().map(price))?;
    Ok(GatewayRules {
        budget,
        restricted,
        protected,
        prices,
    })
}

/// The agent's `~/.gitconfig`: an identity, and a credential helper that answers with the
/// gateway token (the gateway swaps it for the real one on the Workspace's repository only).
pub fn agent_gitconfig() -> String {
    concat!(
        "[user]\n",
        "\tname = Axon Agent\n",
        "\temail = axon-agent@localhost\n",
        "[credential]\n",
        "\thelper = \"!f() { test \\\"$1\\\" = get || exit 0; echo username=x-access-token; echo password=$GITHUB_TOKEN; }; f\"\n",
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan_run;
    use axon_api::loader::{Resource, load_str};
    use axon_api::{Task, Workspace};

    fn plan(yaml: &str) -> RunPlan {
        let mut task: Option<Task> = None;
        let mut ws: Option<Workspace> = None;
        for d in load_str("t.yaml", yaml).expect("loads") {
            match d.resource {
                Resource::Task(t) => task = Some(*t),
                Resource::Workspace(w) => ws = Some(*w),
                _ => {}
            }
        }
        plan_run(&task.expect("a Task"), ws.as_ref(), None).expect("plans")
    }

    fn describe(plan: &RunPlan, needs: &GatewayNeeds) -> String {
        let mut out = format!("{needs:#?}\n");
        for e in &plan.env {
            out.push_str(&format!("{} = {:?}\n", e.name, e.value));
        }
        out
    }

    const WITH_REPO: &str = "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: ws}\nspec:\n  repo: https://github.com/o/r.git\n  secretRef: {name: gh}\n---\napiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {name: t}\nspec:\n  type: codex\n  prompt: Fix it\n  credentials: {type: api-key, secretRef: {name: key}}\n  workspaceRef: {name: ws}\n  modelBaseURL: http://127.0.0.1:8080/v1/\n  env: [{name: HTTPS_PROXY, value: 'http://elsewhere'}, {name: KEEP, value: '1'}]\n";

    #[test]
    fn no_secret_reference_is_left_in_the_agent_environment() {
        let mut p = plan(WITH_REPO);
        let needs = route_through_gateway(&mut p).expect("routes");
        assert!(
            !p.env
                .iter()
                .any(|e| matches!(e.value, EnvValue::Secret { .. }))
        );
        assert!(p.secret_refs().is_empty());
        insta::assert_snapshot!(describe(&p, &needs));
    }

    #[test]
    fn without_an_endpoint_the_provider_default_is_the_upstream() {
        let mut p = plan(
            "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {name: t}\nspec:\n  type: opencode\n  prompt: x\n  credentials: {type: api-key, secretRef: {name: key}}\n",
        );
        let needs = route_through_gateway(&mut p).expect("routes");
        assert_eq!(needs.model_upstream, "https://opencode.ai");
        assert_eq!(needs.repo_url, None);
        assert_eq!(needs.github_token, None);
        let base = p
            .env
            .iter()
            .find(|e| e.name == contract::ENV_MODEL_BASE_URL)
            .map(|e| e.value.clone());
        assert_eq!(
            base,
            Some(EnvValue::Gateway(GatewayValue::ModelBaseUrl {
                path: "/zen".into()
            }))
        );
    }

    #[test]
    fn endpoints_split_into_origin_and_path() {
        assert_eq!(
            split_endpoint("HTTP://h:1/v1/"),
            Some(("http://h:1".into(), "/v1".into()))
        );
        assert_eq!(
            split_endpoint("https://h"),
            Some(("https://h".into(), String::new()))
        );
        for bad in ["h:1", "ftp://h", "http://", "http://u:p@h", "http://h/?k=1"] {
            assert_eq!(split_endpoint(bad), None, "{bad}");
        }
    }

    #[test]
    fn rules_come_from_the_spec_and_the_task_prices_win() {
        let t = "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {name: t}\nspec:\n  type: codex\n  prompt: x\n  credentials: {type: api-key, secretRef: {name: key}}\n  budget: {maxTurns: 3, maxCostUSD: 1.5}\n  network: {mode: restricted, allow: [example.com]}\n  policy: {protectedBranches: ['release/*']}\n  pricing: [{model: m, inputPerMTok: 2, outputPerMTok: 4}]\n";
        let task = match load_str("t.yaml", t).expect("loads").remove(0).resource {
            Resource::Task(t) => *t,
            _ => panic!("a Task"),
        };
        let config = [axon_api::ModelPrice {
            model: "m".into(),
            input_per_mtok: 1.0,
            output_per_mtok: 1.0,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
        }];
        let r = gateway_rules(&task.spec, &config).expect("rules");
        assert_eq!(r.budget.max_turns, Some(3));
        assert_eq!(r.budget.max_cost_usd, Some(1.5));
        assert_eq!(r.budget.max_tokens, None);
        assert_eq!(r.restricted, Some(vec!["example.com".to_string()]));
        assert_eq!(r.protected, vec!["release/*".to_string()]);
        assert_eq!(r.prices.price("m").map(|p| p.input_per_mtok), Some(2.0));
    }

    #[test]
    fn the_git_credential_helper_answers_only_get() {
        let c = agent_gitconfig();
        assert!(c.contains("password=$GITHUB_TOKEN"));
        assert!(c.contains("test \\\"$1\\\" = get || exit 0"));
    }
}
