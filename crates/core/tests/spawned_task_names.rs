//! A TaskSpawner's generated Task names (`axon_core::spawn_name::task_name`) always pass the
//! Task name rule both backends apply (`axon_api::rules::check_label_name`: a DNS-1123 label of
//! at most 63 characters), whatever the spawner's name and the item's ID — so a spawner never
//! creates a Task one backend would refuse.

use axon_api::rules::{MAX_LABEL_NAME_LENGTH, check_label_name};
use axon_core::spawn_name::task_name;

#[test]
fn generated_names_are_valid_task_names() {
    let long = "s".repeat(MAX_LABEL_NAME_LENGTH);
    let spawners = [
        "fix-bugs",
        "a",
        long.as_str(),
        "nightly-report-for-the-platform-team",
    ];
    let ids = [
        "1",
        "42",
        "20260207-0800",
        "99999999999999999999",
        "Weird ID/with spaces",
        "",
        "ÄÖÜ",
    ];
    for spawner in spawners {
        for id in ids {
            for generation in [1, 2, 1000] {
                let name = task_name(spawner, id, generation);
                assert!(
                    check_label_name(&name, "Task").is_ok(),
                    "{spawner:?} {id:?} {generation}: {name:?} ({} chars)",
                    name.len()
                );
            }
        }
    }
}
