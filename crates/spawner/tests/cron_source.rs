//! The cron source through the spawner loop, on an injected clock.

mod common;

use axon_api::TaskPhase;
use axon_spawner::{ManualClock, MemorySink, PollOutcome, Spawner, SpawnerOptions};
use common::*;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use std::time::Duration;

fn at(d: i8, h: i8, m: i8) -> Timestamp {
    jiff::civil::datetime(2026, 2, d, h, m, 0, 0)
        .to_zoned(TimeZone::UTC)
        .expect("valid")
        .timestamp()
}

fn setup(schedule: &str, extra: serde_json::Value) -> (MemorySink, ManualClock) {
    let sink = MemorySink::new();
    sink.put_spawner(cron_spawner("nightly", schedule, extra));
    (sink, ManualClock::new(start()))
}

fn spawner(sink: &MemorySink, clock: &ManualClock) -> Spawner<MemorySink, ManualClock> {
    Spawner::new(
        "nightly",
        sink.clone(),
        clock.clone(),
        SpawnerOptions::default(),
    )
}

#[tokio::test]
async fn one_task_per_tick_and_one_after_downtime() {
    // Created at 08:00; hourly at minute 0.
    let (sink, clock) = setup("0 * * * *", json!({}));
    let mut s = spawner(&sink, &clock);
    s.poll_once().await.expect("poll");
    assert!(
        task_names(&sink).is_empty(),
        "the 08:00 tick is not after creation"
    );

    clock.set(at(7, 9, 0));
    s.poll_once().await.expect("poll");
    clock.set(at(7, 9, 30));
    s.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["nightly-20260207-0900"]);

    // Down from 09:30 until 17:10 the next day: 31 ticks missed, one Task (the latest).
    clock.set(at(8, 17, 10));
    let mut restarted = spawner(&sink, &clock);
    restarted.poll_once().await.expect("poll");
    restarted.poll_once().await.expect("poll");
    assert_eq!(
        task_names(&sink),
        ["nightly-20260207-0900", "nightly-20260208-1700"]
    );

    // The tick's Task is deleted by TTL: it is not created again (the cursor moved past it).
    sink.delete_task("nightly-20260208-1700");
    restarted.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["nightly-20260207-0900"]);
}

#[tokio::test]
async fn every_template_variable_for_a_tick() {
    let (sink, clock) = setup(
        "CRON_TZ=Europe/Berlin 30 10 * * *",
        json!({"taskTemplate": {"promptTemplate":
            "ID={{.ID}} Number={{.Number}} Title={{.Title}} Body={{.Body}} URL={{.URL}} Labels={{.Labels}} Comments={{.Comments}} Kind={{.Kind}} Time={{.Time}} Schedule={{.Schedule}}"}}),
    );
    clock.set(at(7, 9, 45));
    let mut s = spawner(&sink, &clock);
    s.poll_once().await.expect("poll");
    let names = task_names(&sink);
    assert_eq!(
        names,
        ["nightly-20260207-0930"],
        "10:30 Berlin is 09:30Z in winter"
    );
    insta::assert_snapshot!(prompt(&sink, &names[0]), @"ID=20260207-0930 Number=0 Title=2026-02-07T09:30:00Z Body= URL= Labels= Comments= Kind=Issue Time=2026-02-07T09:30:00Z Schedule=CRON_TZ=Europe/Berlin 30 10 * * *");
}

#[tokio::test]
async fn a_tick_while_busy_is_skipped() {
    let (sink, clock) = setup("*/15 * * * *", json!({"maxConcurrency": 1}));
    let mut s = spawner(&sink, &clock);
    clock.set(at(7, 8, 15));
    s.poll_once().await.expect("poll");
    clock.set(at(7, 8, 30));
    s.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["nightly-20260207-0815"]);
    sink.set_phase("nightly-20260207-0815", TaskPhase::Succeeded);
    clock.set(at(7, 8, 45));
    s.poll_once().await.expect("poll");
    assert_eq!(
        task_names(&sink),
        ["nightly-20260207-0815", "nightly-20260207-0845"]
    );
}

#[tokio::test]
async fn run_wakes_at_ticks_and_stops_on_shutdown() {
    let (sink, clock) = setup("*/10 * * * *", json!({"pollInterval": "1h"}));
    let mut s = spawner(&sink, &clock);
    let watched = sink.clone();
    s.run(async move {
        while watched.tasks().len() < 3 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("run");
    assert_eq!(
        task_names(&sink),
        [
            "nightly-20260207-0810",
            "nightly-20260207-0820",
            "nightly-20260207-0830"
        ]
    );
    // It slept until each tick, not for the hour-long poll interval.
    assert!(
        clock
            .sleeps()
            .iter()
            .all(|d| *d <= Duration::from_secs(600))
    );
}

#[tokio::test]
async fn run_ends_when_the_spawner_is_deleted() {
    let (sink, clock) = setup("0 * * * *", json!({}));
    sink.delete_spawner("nightly");
    let mut s = spawner(&sink, &clock);
    s.run(std::future::pending()).await.expect("run ends");
}

#[tokio::test]
async fn invalid_schedule_fails_the_spawner_with_a_message() {
    let (sink, clock) = setup("0 0 * * * *", json!({}));
    let mut s = spawner(&sink, &clock);
    let outcome = s.poll_once().await.expect("poll");
    let PollOutcome::Failed { message } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("6 fields"), "{message}");
}
