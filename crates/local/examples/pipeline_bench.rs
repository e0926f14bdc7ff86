//! Benchmark of Task dependencies on the local backend (run by `bench/pipeline.sh`).
//!
//! * chains: 100 Tasks as 10 chains of 10 (`c3-4` dependsOn `c3-3`), a trivial agent, against
//!   the same 100 Tasks with no dependencies (wall time, concurrency = cores). The dependency
//!   latency is the time from a dependency's agent ending to its dependant's agent starting
//!   (each agent prints a nanosecond clock when it starts and ends; both run on this machine):
//!   results collection, the status write, the engine waking, the start gate, a supervisor
//!   and a sandbox starting. p50 and p99.
//! * fan-in: 500 independent Tasks (what a 500-item fan-out creates), groups of 50 depending on
//!   them (`dependsOn` takes at most 64 names) and one report depending on the groups: wall
//!   time against the 500 alone, and the report's start latency after the last group ended.
//!
//! This binary also serves as the engine/supervisor executable (`__local` subcommands).

use axon_api::TaskPhase;
use axon_api::loader::load_str;
use axon_local::LocalBackend;
use axon_testsupport::bench::{ms, pct};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "__local") {
        return axon_local::internal_main(args);
    }
    let scale: usize = std::env::var("AXON_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let fan: usize = std::env::var("AXON_BENCH_FAN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(bench(scale, fan));
    ExitCode::SUCCESS
}

fn task_yaml(name: &str, agent: &Path, deps: &[String]) -> String {
    let deps = if deps.is_empty() {
        String::new()
    } else {
        format!("  dependsOn: [{}]\n", deps.join(", "))
    };
    format!(
        "apiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {{name: {name}}}\nspec:\n  type: claude-code\n  prompt: hello {name}\n  credentials: {{type: api-key, secretRef: {{name: key}}}}\n  image: {:?}\n{deps}",
        agent.display()
    )
}

struct Bench {
    b: LocalBackend,
    agent: PathBuf,
}

impl Bench {
    async fn apply(&self, name: &str, deps: &[String]) {
        let r = load_str("b.yaml", &task_yaml(name, &self.agent, deps))
            .expect("yaml")
            .remove(0)
            .resource;
        self.b.apply(r).await.expect("apply");
    }

    /// Wait for every Task of `names` to succeed; the wall time since `t0`.
    async fn wait_all(&self, names: &[String], t0: Instant) -> Duration {
        for n in names {
            let t = self.b.wait(n).await.expect("wait");
            assert_eq!(
                t.status.as_ref().and_then(|s| s.phase),
                Some(TaskPhase::Succeeded),
                "{n}: {:?}",
                t.status
            );
        }
        t0.elapsed()
    }

    /// The agent's start and end clock (ns) from its log.
    async fn clock(&self, name: &str) -> (u128, u128) {
        let mut out = Vec::new();
        self.b.logs(name, false, &mut out).await.expect("logs");
        let text = String::from_utf8_lossy(&out);
        let at = |word: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(word))
                .and_then(|v| v.trim().parse::<u128>().ok())
                .unwrap_or_else(|| panic!("{name}: no {word} in {text}"))
        };
        (at("start "), at("end "))
    }

    async fn delete_all(&self, names: &[String]) {
        for n in names {
            self.b
                .delete(axon_api::Kind::Task, n)
                .await
                .expect("delete");
        }
    }
}

async fn bench(scale: usize, fan: usize) {
    let scratch = tempfile::Builder::new()
        .prefix("axon-pipeline-bench-")
        .tempdir()
        .expect("scratch");
    let agent = scratch.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\necho \"start $(date +%s%N)\"\necho \"$1\" > out.txt\necho \"end $(date +%s%N)\"\n",
    )
    .expect("agent");
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let exe = std::env::var_os("AXON_BENCH_AXON")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().expect("exe"));
    let home = scratch.path().join("home");
    let b = LocalBackend::open_with_exe(&home, &exe).expect("open");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    b.set_concurrency(cores);
    let key = [("ANTHROPIC_API_KEY".to_string(), "x".to_string())].into();
    b.create_secret("key", key).await.expect("secret");
    let bench = Bench { b, agent };
    let n = scale * scale;
    println!(
        "pipeline benchmark: {scale} chains of {scale} Tasks, a fan-in over {fan} Tasks, trivial agent, {cores} cores"
    );

    // The same Tasks without dependencies: the baseline.
    let free: Vec<String> = (0..n).map(|i| format!("free-{i}")).collect();
    let t0 = Instant::now();
    for name in &free {
        bench.apply(name, &[]).await;
    }
    let free_wall = bench.wait_all(&free, t0).await;
    bench.delete_all(&free).await;

    // 10 chains of 10.
    let mut names = Vec::new();
    let t0 = Instant::now();
    for c in 0..scale {
        for j in 0..scale {
            let name = format!("c{c}-{j}");
            let deps = if j == 0 {
                vec![]
            } else {
                vec![format!("c{c}-{}", j - 1)]
            };
            bench.apply(&name, &deps).await;
            names.push(name);
        }
    }
    let chain_wall = bench.wait_all(&names, t0).await;
    let mut latency = Vec::new();
    for c in 0..scale {
        for j in 1..scale {
            let (_, dep_end) = bench.clock(&format!("c{c}-{}", j - 1)).await;
            let (start, _) = bench.clock(&format!("c{c}-{j}")).await;
            latency.push(start.saturating_sub(dep_end) as f64 / 1e6);
        }
    }
    bench.delete_all(&names).await;
    println!(
        "chains      dependency → dependant start  p50 {:7.1} ms  p99 {:7.1} ms  ({} edges)",
        pct(&latency, 0.5),
        pct(&latency, 0.99),
        latency.len()
    );
    println!(
        "            wall {:8.1} ms | same {n} Tasks without dependencies {:8.1} ms | ratio {:.2}",
        ms(chain_wall),
        ms(free_wall),
        ms(chain_wall) / ms(free_wall)
    );

    // Fan-out then fan-in: `dependsOn` takes at most 64 names, so the report depends on groups
    // of 50 items (each group a trivial Task), as a real pipeline over 500 items would.
    let items: Vec<String> = (0..fan).map(|i| format!("item-{i}")).collect();
    let t0 = Instant::now();
    for name in &items {
        bench.apply(name, &[]).await;
    }
    let items_wall = bench.wait_all(&items, t0).await;
    bench.delete_all(&items).await;
    let t0 = Instant::now();
    for name in &items {
        bench.apply(name, &[]).await;
    }
    let groups: Vec<String> = items
        .chunks(50)
        .enumerate()
        .map(|(g, _)| format!("group-{g}"))
        .collect();
    for (g, chunk) in items.chunks(50).enumerate() {
        bench.apply(&groups[g], chunk).await;
    }
    bench.apply("report", &groups).await;
    let all_wall = bench
        .wait_all(
            &[items.clone(), groups.clone(), vec!["report".into()]].concat(),
            t0,
        )
        .await;
    let mut last_end = 0;
    for name in &groups {
        last_end = last_end.max(bench.clock(name).await.1);
    }
    let (report_start, _) = bench.clock("report").await;
    println!(
        "fan-in      {fan} Tasks, {} groups over them, 1 report over the groups: wall {:8.1} ms | the {fan} alone {:8.1} ms | ratio {:.2} | report start after the last group ended {:6.1} ms",
        groups.len(),
        ms(all_wall),
        ms(items_wall),
        ms(all_wall) / ms(items_wall),
        report_start.saturating_sub(last_end) as f64 / 1e6
    );
}
