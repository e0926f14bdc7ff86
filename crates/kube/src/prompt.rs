//! The prompt on Kubernetes travels as a file: key `prompt` of the Task's ConfigMap, mounted
//! read-only into the agent container as `AXON_PROMPT_FILE`, never as an environment variable
//! or an argument in the Pod spec. Its size is bounded by what a ConfigMap holds (1 MiB): the
//! CLI refuses a larger prompt at apply time, and the controller fails such a Task with the
//! same message if one arrives anyway.

use thiserror::Error;

/// The largest prompt the Kubernetes backend runs (a ConfigMap holds at most 1 MiB).
pub const PROMPT_LIMIT: usize = 1024 * 1024;

/// The largest prompt a custom image also gets as `$1` (Linux caps one argument at 128 KiB).
pub const PROMPT_ARG_LIMIT: usize = 100 * 1024;

/// A prompt over [`PROMPT_LIMIT`].
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error(
    "spec.prompt: {} is over the Kubernetes backend's 1 MiB limit (ConfigMap); use the local backend or a shorter prompt",
    mib(*bytes)
)]
pub struct PromptTooLarge {
    /// The prompt's size in bytes.
    pub bytes: usize,
}

/// MiB with one decimal, rounded up (so a prompt just over the limit never reads "1.0 MiB").
fn mib(bytes: usize) -> String {
    let tenths = (bytes as u128 * 10).div_ceil(PROMPT_LIMIT as u128);
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

/// `Ok` when `prompt` fits the Kubernetes backend.
pub fn check_prompt(prompt: &str) -> Result<(), PromptTooLarge> {
    if prompt.len() > PROMPT_LIMIT {
        Err(PromptTooLarge {
            bytes: prompt.len(),
        })
    } else {
        Ok(())
    }
}

/// Whether a custom image gets the prompt as `$1` too (built-in images read the file).
pub fn prompt_as_argument(custom_image: bool, prompt: &str) -> bool {
    custom_image && prompt.len() <= PROMPT_ARG_LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mib_fits_and_more_is_refused_with_the_limit_named() {
        assert_eq!(check_prompt(&"x".repeat(PROMPT_LIMIT)), Ok(()));
        let e = check_prompt(&"x".repeat(PROMPT_LIMIT * 14 / 10)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.prompt: 1.4 MiB is over the Kubernetes backend's 1 MiB limit (ConfigMap); use the local backend or a shorter prompt"
        );
        let e = check_prompt(&"x".repeat(PROMPT_LIMIT + 1)).unwrap_err();
        assert!(
            e.to_string().starts_with("spec.prompt: 1.1 MiB is over"),
            "{e}"
        );
    }

    #[test]
    fn only_small_prompts_of_custom_images_are_arguments() {
        assert!(prompt_as_argument(true, "fix it"));
        assert!(!prompt_as_argument(false, "fix it"));
        assert!(!prompt_as_argument(true, &"x".repeat(PROMPT_ARG_LIMIT + 1)));
    }
}
