//! The hidden `axon __local ...` subcommands: the detached engine and the per-Task
//! supervisor. The `axon` binary routes them here; they are not for users.
//!
//! ```text
//! __local engine --home DIR
//! __local supervise --home DIR --task NAME --uid UID [--lock-fd N]
//! __local drop --uid UID --gid GID -- PROGRAM ARGS...
//! ```

use crate::lock::Lock;
use crate::paths::Home;
use std::path::PathBuf;
use std::process::ExitCode;

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Run a hidden subcommand. `args` may start with the program name and `__local`; what
/// follows `__local` (or everything, when it is absent) is the subcommand and its flags.
pub fn internal_main(args: Vec<String>) -> ExitCode {
    let args: Vec<String> = match args.iter().position(|a| a == "__local") {
        Some(i) => args[i + 1..].to_vec(),
        None => args,
    };
    if args.first().map(String::as_str) == Some("drop") {
        return crate::drop_privileges::drop_main(&args[1..]);
    }
    let Some(home) = flag(&args, "--home").map(PathBuf::from) else {
        eprintln!("axon __local: --home is required");
        return ExitCode::from(2);
    };
    let home = Home::new(&home);
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("axon __local: cannot find my own executable: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("axon __local: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("engine") => rt.block_on(crate::engine::run(
            home,
            exe,
            true,
            std::future::pending::<()>(),
        )),
        Some("supervise") => {
            let (Some(task), Some(uid)) = (flag(&args, "--task"), flag(&args, "--uid")) else {
                eprintln!("axon __local supervise: --task and --uid are required");
                return ExitCode::from(2);
            };
            let lock = match flag(&args, "--lock-fd").and_then(|f| f.parse::<i32>().ok()) {
                Some(fd) => Lock::from_inherited_fd(fd),
                None => match Lock::try_acquire(&home.task(&uid).lock()) {
                    Ok(Some(l)) => Ok(l),
                    Ok(None) => {
                        eprintln!("axon __local supervise: Task {task} is already being run");
                        return ExitCode::SUCCESS;
                    }
                    Err(e) => Err(e),
                },
            };
            match lock {
                Ok(lock) => rt.block_on(crate::supervisor::supervise(home, task, uid, lock, exe)),
                Err(e) => {
                    eprintln!("axon __local supervise: run lock: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        other => {
            eprintln!("axon __local: unknown subcommand {other:?}: expected engine or supervise");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axon __local: {e}");
            ExitCode::FAILURE
        }
    }
}
