//! Before a Task's Pod is created, check that every Secret and key its plan reads exists, so a
//! missing one fails the Task with a message naming it (instead of a Pod stuck in
//! `CreateContainerConfigError`). Pure: the controller fetches the Secrets' key names only.

use std::collections::{BTreeMap, BTreeSet};

/// What the controller found for one Secret: `None` when it does not exist, else its key names.
pub type FoundSecrets = BTreeMap<String, Option<BTreeSet<String>>>;

/// The first missing Secret or key, as a message that names it and says how to fix it.
/// `required` is `RunPlan::secret_refs()` (Secret name → keys). Never includes a value.
pub fn check_secrets(
    required: &BTreeMap<String, Vec<String>>,
    found: &FoundSecrets,
) -> Result<(), String> {
    for (secret, keys) in required {
        match found.get(secret) {
            None | Some(None) => {
                let example = keys
                    .iter()
                    .map(|k| format!("--from-literal={k}=..."))
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(format!(
                    "Secret {secret:?} not found: create it (kubectl create secret generic {secret} {example}) or fix the reference"
                ));
            }
            Some(Some(have)) => {
                if let Some(key) = keys.iter().find(|k| !have.contains(*k)) {
                    let have: Vec<&str> = have.iter().map(String::as_str).collect();
                    return Err(format!(
                        "Secret {secret:?} has no key {key:?} (its keys: {}): add the key or fix credentials.type",
                        if have.is_empty() {
                            "none".to_string()
                        } else {
                            have.join(", ")
                        }
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([("claude".to_string(), vec!["ANTHROPIC_API_KEY".to_string()])])
    }

    #[test]
    fn missing_secret_is_named() {
        let err = check_secrets(&req(), &FoundSecrets::new()).unwrap_err();
        assert!(err.starts_with("Secret \"claude\" not found"), "{err}");
        assert!(err.contains("--from-literal=ANTHROPIC_API_KEY="), "{err}");
    }

    #[test]
    fn missing_key_is_named_with_the_keys_present() {
        let found = FoundSecrets::from([(
            "claude".to_string(),
            Some(BTreeSet::from(["CLAUDE_CODE_OAUTH_TOKEN".to_string()])),
        )]);
        let err = check_secrets(&req(), &found).unwrap_err();
        assert_eq!(
            err,
            "Secret \"claude\" has no key \"ANTHROPIC_API_KEY\" (its keys: CLAUDE_CODE_OAUTH_TOKEN): add the key or fix credentials.type"
        );
    }

    #[test]
    fn present_keys_pass() {
        let found = FoundSecrets::from([(
            "claude".to_string(),
            Some(BTreeSet::from(["ANTHROPIC_API_KEY".to_string()])),
        )]);
        assert_eq!(check_secrets(&req(), &found), Ok(()));
    }
}
