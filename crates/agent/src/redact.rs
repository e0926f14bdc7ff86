//! Removing secret values from everything the runner itself writes (the forwarded log, the
//! results document, its own messages). Secrets are the credential variables of the
//! environment contract; an agent echoing its environment must not leak them.

/// Replaces known secret values with `***`.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Redact these values. Very short values are ignored: replacing them would mangle
    /// ordinary text and they are not credentials.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 6).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// The text with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_secrets() {
        let r = Redactor::new(["sk-ant-123456".to_string(), "abc".to_string()]);
        assert_eq!(r.redact("key=sk-ant-123456 abc"), "key=*** abc");
    }
}
