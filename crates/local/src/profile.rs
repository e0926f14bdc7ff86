//! Where a Task's time goes: with `AXON_PROFILE=FILE` in the environment (inherited by the
//! engine and the supervisors), each step appends `MICROS PID STEP` to FILE. Used by
//! `bench/local.sh`'s breakdown; without the variable a mark costs one environment lookup.

use std::io::Write;

/// Record that this process reached `step`.
pub fn mark(step: &str) {
    let Some(path) = std::env::var_os("AXON_PROFILE") else {
        return;
    };
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write per line, so concurrent processes do not interleave within a line.
        let _ = f.write_all(format!("{micros} {} {step}\n", std::process::id()).as_bytes());
    }
}

/// Record that this process reached `step` for Task `name` (the line then ends with the name;
/// formatted only when profiling).
pub fn mark_task(step: &str, name: &str) {
    if std::env::var_os("AXON_PROFILE").is_some() {
        mark(&format!("{step} {name}"));
    }
}
