//! The Task's prompt: where the runner reads it from, how large it may be, and how a custom
//! agent receives it.
//!
//! A prompt never travels as a command-line argument or an environment variable to a built-in
//! CLI: Linux limits each of those to 128 KiB (`MAX_ARG_STRLEN`, "Argument list too long").
//! The driver hands it over in a file (`--prompt-file` / `AXON_PROMPT_FILE`); the built-in CLIs
//! read it from standard input. A custom agent gets a read-only copy in `AXON_PROMPT_FILE` and,
//! for compatibility, the prompt as `$1` while it is small ([`custom_agent_argument`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::AgentError;

/// The largest prompt the runner accepts, in bytes (10 MiB).
pub const MAX_PROMPT_BYTES: usize = 10 * 1024 * 1024;

/// The largest prompt a custom agent still receives as `$1`, in bytes (100 KiB, well below the
/// kernel's 128 KiB per argument). Larger prompts are only in [`PROMPT_FILE_ENV`].
pub const MAX_ARGUMENT_PROMPT_BYTES: usize = 100 * 1024;

/// The variable naming the prompt file: read by the runner (from the driver), set by the
/// runner for a custom agent (a read-only copy).
pub const PROMPT_FILE_ENV: &str = axon_api::contract::ENV_PROMPT_FILE;

/// The file name of the custom agent's copy of the prompt.
const COPY_NAME: &str = "prompt.md";

/// Where the runner takes the prompt from, most explicit first: `--prompt-file`, a non-empty
/// prompt argument, `AXON_PROMPT_FILE`, an empty prompt argument. Explicit arguments win over
/// the environment, so a runner started by a custom agent that received `$1` and
/// `AXON_PROMPT_FILE` reads the same prompt either way.
pub fn resolve(
    argument: Option<&str>,
    file: Option<&Path>,
    env_file: Option<&Path>,
) -> Result<String, AgentError> {
    match (file, argument) {
        (Some(_), Some(arg)) if !arg.is_empty() => Err(AgentError::PromptTwice),
        (Some(path), _) => read_file(path, "--prompt-file"),
        (None, Some(arg)) if !arg.is_empty() => {
            check_size(arg.len(), "the prompt argument").map(|()| arg.to_string())
        }
        (None, arg) => match (env_file, arg) {
            (Some(path), _) => read_file(path, PROMPT_FILE_ENV),
            (None, Some(arg)) => Ok(arg.to_string()),
            (None, None) => Err(AgentError::NoPrompt),
        },
    }
}

/// Read a prompt file: at most [`MAX_PROMPT_BYTES`], UTF-8. Pipes and other special files
/// (`/dev/stdin`) work too: the size is checked while reading.
pub fn read_file(path: &Path, what: &'static str) -> Result<String, AgentError> {
    let wrap = |source| AgentError::ReadInput {
        what,
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(wrap)?;
    let mut bytes = Vec::new();
    file.take(MAX_PROMPT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(wrap)?;
    check_size(bytes.len(), &format!("{what} {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| AgentError::PromptNotUtf8 {
        path: path.to_path_buf(),
    })
}

fn check_size(len: usize, origin: &str) -> Result<(), AgentError> {
    if len > MAX_PROMPT_BYTES {
        return Err(AgentError::PromptTooLarge {
            origin: origin.to_string(),
        });
    }
    Ok(())
}

/// `$1` for a custom agent: the prompt while it is at most [`MAX_ARGUMENT_PROMPT_BYTES`],
/// else empty (the agent reads [`PROMPT_FILE_ENV`]).
pub fn custom_agent_argument(prompt: &str) -> &str {
    if prompt.len() <= MAX_ARGUMENT_PROMPT_BYTES {
        prompt
    } else {
        ""
    }
}

/// A read-only copy of the prompt in a private directory, removed when dropped.
#[derive(Debug)]
pub struct PromptFile {
    dir: tempfile::TempDir,
}

impl PromptFile {
    /// Write `prompt` to `prompt.md` (mode 0444) in a new private directory (mode 0700) below
    /// `parent`.
    pub fn create(parent: &Path, prompt: &str) -> Result<PromptFile, AgentError> {
        use std::os::unix::fs::PermissionsExt;
        let wrap = |source| AgentError::WritePromptFile {
            dir: parent.to_path_buf(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("axon-prompt-")
            .tempdir_in(parent)
            .map_err(wrap)?;
        let path = dir.path().join(COPY_NAME);
        std::fs::write(&path, prompt).map_err(wrap)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).map_err(wrap)?;
        Ok(PromptFile { dir })
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(COPY_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_sources_win_over_the_environment() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("p");
        std::fs::write(&file, "from the file").expect("write");
        let env = tmp.path().join("e");
        std::fs::write(&env, "from the env").expect("write");
        let r = |a: Option<&str>, f: Option<&Path>, e: Option<&Path>| resolve(a, f, e);
        assert_eq!(
            r(None, Some(&file), Some(&env)).ok().as_deref(),
            Some("from the file")
        );
        assert_eq!(
            r(Some("arg"), None, Some(&env)).ok().as_deref(),
            Some("arg")
        );
        assert_eq!(
            r(Some(""), None, Some(&env)).ok().as_deref(),
            Some("from the env")
        );
        assert_eq!(r(Some(""), None, None).ok().as_deref(), Some(""));
        assert_eq!(
            r(Some(""), Some(&file), None).ok().as_deref(),
            Some("from the file")
        );
        assert!(matches!(r(None, None, None), Err(AgentError::NoPrompt)));
        assert!(matches!(
            r(Some("arg"), Some(&file), None),
            Err(AgentError::PromptTwice)
        ));
    }

    #[test]
    fn a_prompt_over_the_limit_is_refused_naming_the_limit() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ok = tmp.path().join("ok");
        std::fs::write(&ok, "a".repeat(MAX_PROMPT_BYTES)).expect("write");
        assert_eq!(
            read_file(&ok, "--prompt-file").map(|p| p.len()).ok(),
            Some(MAX_PROMPT_BYTES)
        );
        let big = tmp.path().join("big");
        std::fs::write(&big, "a".repeat(MAX_PROMPT_BYTES + 1)).expect("write");
        let err = read_file(&big, "--prompt-file").expect_err("too large");
        let msg = err.to_string();
        assert!(
            msg.contains("10 MiB") && msg.contains("--prompt-file"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_or_binary_file_says_which() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("missing");
        let msg = read_file(&missing, PROMPT_FILE_ENV)
            .expect_err("missing")
            .to_string();
        assert!(
            msg.contains("AXON_PROMPT_FILE") && msg.contains("missing"),
            "{msg}"
        );
        let binary = tmp.path().join("bin");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("write");
        let msg = read_file(&binary, PROMPT_FILE_ENV)
            .expect_err("binary")
            .to_string();
        assert!(msg.contains("UTF-8"), "{msg}");
    }

    #[test]
    fn custom_agents_get_small_prompts_as_an_argument() {
        let small = "a".repeat(MAX_ARGUMENT_PROMPT_BYTES);
        assert_eq!(custom_agent_argument(&small), small);
        let large = "a".repeat(MAX_ARGUMENT_PROMPT_BYTES + 1);
        assert_eq!(custom_agent_argument(&large), "");
    }

    #[test]
    fn the_copy_is_read_only_and_removed_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let copy = PromptFile::create(tmp.path(), "the prompt").expect("copy");
        let path = copy.path();
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("the prompt")
        );
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
        drop(copy);
        assert!(!path.exists());
    }
}
