//! `axon-fake-model`: the scripted fake model server as a process, for the quick start's
//! offline demo and for poking at agents by hand. Binds 127.0.0.1 only, answers for a bounded
//! time, and writes its address to `--addr-file` once it is listening.
//!
//! `--demo`: write hello.py, commit it on branch axon/hello and push it, then answer.

use axon_testsupport::model_server::{FakeModelServer, Limits, Script};
use std::process::ExitCode;
use std::time::Duration;

fn demo_script() -> Script {
    Script::new()
        .write_file("hello.py", "print(\"Hello, world!\")\n")
        .shell(
            "git checkout -b axon/hello && git add hello.py && git commit -m 'Add hello world program' && git push -u origin axon/hello",
        )
        .text("Added hello.py on branch axon/hello and pushed it.")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut addr_file = None;
    let mut max_seconds = 600u64;
    let mut demo = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--demo" => demo = true,
            "--addr-file" => addr_file = it.next().cloned(),
            "--max-seconds" => match it.next().and_then(|s| s.parse().ok()) {
                Some(n) => max_seconds = n,
                None => {
                    eprintln!("axon-fake-model: --max-seconds takes a whole number");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!(
                    "axon-fake-model: unknown argument {other:?}; usage: axon-fake-model --demo [--addr-file F] [--max-seconds N]"
                );
                return ExitCode::from(2);
            }
        }
    }
    if !demo {
        eprintln!("axon-fake-model: pass --demo (the only built-in script)");
        return ExitCode::from(2);
    }
    let limits = Limits {
        max_requests: 200,
        max_duration: Duration::from_secs(max_seconds),
    };
    let server = match FakeModelServer::start_with_limits(demo_script(), limits) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("axon-fake-model: cannot listen on 127.0.0.1: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.addr().to_string();
    eprintln!("axon-fake-model: listening on http://{addr} for {max_seconds}s");
    if let Some(f) = addr_file
        && let Err(e) = std::fs::write(&f, &addr)
    {
        eprintln!("axon-fake-model: cannot write {f}: {e}");
        return ExitCode::FAILURE;
    }
    std::thread::sleep(Duration::from_secs(max_seconds));
    drop(server);
    ExitCode::SUCCESS
}
