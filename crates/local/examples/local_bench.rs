//! Benchmark of the local backend's per-Task overhead (run by `bench/local.sh`).
//!
//! 50 Tasks with a trivial agent (writes one file) on one repository served by `git daemon`
//! on 127.0.0.1, against a baseline doing the same work by hand in the same process:
//! `git clone --reference MIRROR URL DIR` + exec of the same agent.
//!
//! * sequential: each Task applied and waited for alone: latency = schedule (engine start,
//!   supervisor start) + clone from the mirror cache + bubblewrap + results, p50/p95.
//! * batch: all Tasks at once with concurrency = cores, against the baseline with as many
//!   parallel workers: wall time.
//!
//! This binary also serves as the engine/supervisor executable (`__local` subcommands).

use axon_api::loader::load_str;
use axon_api::{Kind, TaskPhase};
use axon_local::LocalBackend;
use axon_testsupport::bench::{ms, pct};
use axon_testsupport::git_server::GitServer;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "__local") {
        return axon_local::internal_main(args);
    }
    let n: usize = std::env::var("AXON_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    // AXON_BENCH_ONLY=axon|baseline runs one side only (for `perf stat`/`perf record`).
    let only = std::env::var("AXON_BENCH_ONLY").ok();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(bench(n, only.as_deref()));
    ExitCode::SUCCESS
}

fn task_yaml(name: &str, agent: &Path) -> String {
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: {name}}}\nspec:\n  type: claude-code\n  prompt: hello {name}\n  credentials: {{type: api-key, secretRef: {{name: key}}}}\n  image: {:?}\n  workspaceRef: {{name: ws}}\n",
        agent.display()
    )
}

fn baseline(mirror: &Path, url: &str, dir: &Path, agent: &Path, prompt: &str) {
    let ok = Command::new("git")
        .args(["clone", "-q", "--reference"])
        .arg(mirror)
        .arg(url)
        .arg(dir)
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(agent)
            .arg(prompt)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    assert!(ok, "baseline run failed");
}

async fn bench(n: usize, only: Option<&str>) {
    let (run_axon, run_base) = (only != Some("baseline"), only != Some("axon"));
    let scratch = tempfile::Builder::new()
        .prefix("axon-bench-")
        .tempdir()
        .expect("scratch");
    let git = GitServer::start().expect("git daemon");
    let agent = scratch.path().join("agent.sh");
    std::fs::write(&agent, "#!/bin/sh\necho \"$1\" > out.txt\n").expect("agent");
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // The production path: the real `axon` binary as engine, supervisor and in-sandbox runner
    // (`axon agent run`), as users run it; bench/local.sh builds it and names it here.
    let exe = std::env::var_os("AXON_BENCH_AXON")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().expect("exe"));
    let home = scratch.path().join("home");
    let b = LocalBackend::open_with_exe(&home, &exe).expect("open");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    b.set_concurrency(cores);
    let key = [("ANTHROPIC_API_KEY".to_string(), "x".to_string())].into();
    b.create_secret("key", key).await.expect("secret");
    let ws = format!(
        "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {{name: ws}}\nspec: {{repo: {:?}}}\n",
        git.url()
    );
    let apply = async |yaml: &str| {
        let r = load_str("b.yaml", yaml).expect("yaml").remove(0).resource;
        b.apply(r).await.expect("apply");
    };
    apply(&ws).await;
    // Warm the mirror cache (and the page cache) once.
    apply(&task_yaml("warm", &agent)).await;
    b.wait("warm").await.expect("warm");
    let mirror = std::fs::read_dir(home.join("cache/git"))
        .expect("cache")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "git"))
        .expect("mirror");

    // Sequential latency.
    let mut axon = Vec::new();
    let mut base = Vec::new();
    for i in 0..n {
        let name = format!("seq-{i}");
        if run_axon {
            let t0 = Instant::now();
            axon_local::profile_mark("bench apply");
            apply(&task_yaml(&name, &agent)).await;
            axon_local::profile_mark("bench applied");
            let t = b.wait(&name).await.expect("wait");
            axon_local::profile_mark("bench done");
            axon.push(ms(t0.elapsed()));
            assert_eq!(
                t.status.as_ref().and_then(|s| s.phase),
                Some(TaskPhase::Succeeded),
                "{:?}",
                t.status
            );
            b.delete(Kind::Task, &name).await.expect("delete");
        }
        if run_base {
            let dir = scratch.path().join(format!("base-{i}"));
            let t0 = Instant::now();
            baseline(&mirror, &git.url(), &dir, &agent, &name);
            base.push(ms(t0.elapsed()));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    println!("local backend benchmark: {n} Tasks, trivial agent, one repository, {cores} cores");
    if !(run_axon && run_base) {
        let (side, v) = if run_axon {
            ("axon", &axon)
        } else {
            ("baseline", &base)
        };
        println!(
            "sequential  {side} p50 {:7.1} ms  p95 {:7.1} ms",
            pct(v, 0.5),
            pct(v, 0.95)
        );
    } else {
        let over: Vec<f64> = axon.iter().zip(&base).map(|(a, b)| a - b).collect();
        println!(
            "sequential  axon p50 {:7.1} ms  p95 {:7.1} ms | baseline p50 {:7.1} ms  p95 {:7.1} ms",
            pct(&axon, 0.5),
            pct(&axon, 0.95),
            pct(&base, 0.5),
            pct(&base, 0.95)
        );
        println!(
            "            overhead p50 {:7.1} ms  p95 {:7.1} ms | ratio (p50) {:.2}",
            pct(&over, 0.5),
            pct(&over, 0.95),
            pct(&axon, 0.5) / pct(&base, 0.5)
        );
    }

    // Batch throughput.
    let t0 = Instant::now();
    for i in 0..n {
        if !run_axon {
            break;
        }
        apply(&task_yaml(&format!("batch-{i}"), &agent)).await;
    }
    for i in 0..n {
        if !run_axon {
            break;
        }
        let t = b.wait(&format!("batch-{i}")).await.expect("wait");
        assert_eq!(t.status.and_then(|s| s.phase), Some(TaskPhase::Succeeded));
    }
    let axon_wall = t0.elapsed();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        if !run_base {
            return;
        }
        for w in 0..cores {
            let (mirror, agent, url, root) = (&mirror, &agent, git.url(), scratch.path());
            s.spawn(move || {
                for i in (w..n).step_by(cores) {
                    let dir = root.join(format!("pbase-{i}"));
                    baseline(mirror, &url, &dir, agent, "p");
                }
            });
        }
    });
    let base_wall = t0.elapsed();
    println!(
        "batch       axon {:7.1} ms ({:.1} ms/Task) | baseline {:7.1} ms ({:.1} ms/Task) | ratio {:.2}",
        ms(axon_wall),
        ms(axon_wall) / n as f64,
        ms(base_wall),
        ms(base_wall) / n as f64,
        ms(axon_wall) / ms(base_wall)
    );
}
