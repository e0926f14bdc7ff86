//! The backend conformance suite: the scenarios of `conformance/scenarios.rs`, written once,
//! run against the local backend (`local`) and the Kubernetes backend (`kubernetes`: a real
//! kube-apiserver and kube-controller-manager from `../shared/kube/up.sh`, `axon controller`
//! out of cluster, the test kubelet running the Pods), with the same expectations and through
//! the same `axon` commands. Each backend is one test (one control plane for all its
//! scenarios); its scenarios run in parallel, each in a space of its own (an AXON_HOME, a
//! namespace), and the test reports every scenario's outcome before failing on any.
//!
//! Scenarios listed in `PENDING` (the backends still differ there) are skipped on that backend
//! with a `PENDING` line; `AXON_CONFORMANCE_PENDING=1` runs them and reports whether each still
//! fails. `AXON_CONFORMANCE_ONLY=a,b` runs only the named scenarios.

#[path = "conformance/kube.rs"]
mod kube_driver;
#[path = "conformance/local.rs"]
mod local;
#[path = "conformance/scenarios.rs"]
mod scenarios;
#[path = "conformance/space.rs"]
mod space;
mod support;

use axon_testsupport::github_server::FakeGitHub;
use scenarios::{SCENARIOS, pending};
use space::{Backend, Space};
use std::path::Path;
use std::time::{Duration, Instant};

/// The whole of one backend's run may not take longer.
const BUDGET: Duration = Duration::from_secs(180);

/// A fake GitHub with the issues the spawner scenarios expect.
fn github() -> FakeGitHub {
    let gh = FakeGitHub::start().expect("fake GitHub");
    for title in ["crash on start", "typo in README"] {
        gh.add_issue(title, "", &[]);
    }
    gh
}

enum Outcome {
    Passed,
    Failed(String),
    Skipped(&'static str),
    /// Pending, run anyway: whether it still fails.
    PendingRan(&'static str, Result<(), String>),
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

/// Run every selected scenario on `backend`, in parallel, each in a space from `make`; print
/// one line per scenario; panic when any failed.
fn run_all<'c>(backend: Backend, make: &(dyn Fn(&str) -> Box<dyn Space + 'c> + Sync), logs: &str) {
    let only: Option<Vec<String>> = std::env::var("AXON_CONFORMANCE_ONLY")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect());
    let run_pending = std::env::var("AXON_CONFORMANCE_PENDING").as_deref() == Ok("1");
    let started = Instant::now();
    let outcomes: Vec<(&str, Outcome, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = SCENARIOS
            .iter()
            .filter(|(name, _)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name)))
            .map(|(name, scenario)| {
                let why = pending(name, backend);
                let handle = (why.is_none() || run_pending).then(|| {
                    std::thread::Builder::new()
                        .name(format!("{}/{name}", backend.as_str()))
                        .spawn_scoped(scope, move || {
                            let t0 = Instant::now();
                            let space = make(name);
                            scenario(space.as_ref());
                            t0.elapsed()
                        })
                        .expect("thread")
                });
                (*name, why, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, why, handle)| {
                let Some(handle) = handle else {
                    return (name, Outcome::Skipped(why.unwrap_or("")), Duration::ZERO);
                };
                let result = handle.join();
                let took = result.as_ref().map_or(Duration::ZERO, |d| *d);
                let result = result.map(|_| ()).map_err(|p| panic_text(p.as_ref()));
                let outcome = match (why, result) {
                    (Some(why), r) => Outcome::PendingRan(why, r),
                    (None, Ok(())) => Outcome::Passed,
                    (None, Err(e)) => Outcome::Failed(e),
                };
                (name, outcome, took)
            })
            .collect()
    });
    let b = backend.as_str();
    let mut failed = Vec::new();
    for (name, outcome, took) in &outcomes {
        match outcome {
            Outcome::Passed => {
                eprintln!("conformance[{b}] {name}: ok ({:.1}s)", took.as_secs_f64())
            }
            Outcome::Skipped(why) => eprintln!(
                "conformance[{b}] {name}: SKIPPED: PENDING({why}) (AXON_CONFORMANCE_PENDING=1 runs it)"
            ),
            Outcome::PendingRan(why, Ok(())) => eprintln!(
                "conformance[{b}] {name}: PENDING({why}) but PASSES now: remove it from PENDING"
            ),
            Outcome::PendingRan(why, Err(e)) => eprintln!(
                "conformance[{b}] {name}: PENDING({why}), still fails as expected: {}",
                e.lines().next().unwrap_or_default()
            ),
            Outcome::Failed(e) => {
                eprintln!("conformance[{b}] {name}: FAILED: {e}");
                failed.push(*name);
            }
        }
    }
    eprintln!(
        "conformance[{b}]: {} scenarios in {:.1}s",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "conformance[{b}]: failed: {failed:?} (see above{logs})"
    );
    assert!(
        started.elapsed() < BUDGET,
        "conformance[{b}] took {:?}, over its budget of {BUDGET:?}",
        started.elapsed()
    );
}

#[test]
fn local() {
    let gh = github();
    let url = gh.base_url();
    run_all(
        Backend::Local,
        &|name| Box::new(local::LocalSpace::new(name, url.clone())),
        "",
    );
}

#[test]
fn kubernetes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(up) = axon_testsupport::kube_plane::up_sh_or_skip("conformance[kubernetes]", &root)
    else {
        return;
    };
    let gh = github();
    let t0 = Instant::now();
    let cluster = kube_driver::Cluster::start(&up, support::axon_bin(), &gh.base_url());
    eprintln!(
        "conformance[kubernetes]: control plane up, Axon installed, controller and kubelet started in {:.1}s (logs in {})",
        t0.elapsed().as_secs_f64(),
        cluster.dir().display()
    );
    let logs = format!(
        "; controller, kubelet Pods and control plane logs in {}",
        cluster.dir().display()
    );
    run_all(
        Backend::Kubernetes,
        &|name| Box::new(cluster.space(name)),
        &logs,
    );
}
