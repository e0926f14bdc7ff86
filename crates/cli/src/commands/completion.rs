//! `axon completion bash|zsh|fish`.

use crate::args::{Cli, CompletionArgs};
use clap::CommandFactory;
use std::process::ExitCode;

pub fn run(args: &CompletionArgs) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "axon", &mut std::io::stdout());
    ExitCode::SUCCESS
}
