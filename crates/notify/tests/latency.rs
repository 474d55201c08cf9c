//! From handing a notification to the queue to the webhook receiving it,
//! on loopback: the target is a p99 under 100 ms. The test prints
//! the figures and fails only far above the target (a debug build on a
//! shared machine is slower than a release build); run it with
//! `cargo test -p agentmon-notify --release --test latency -- --nocapture`
//! for the figure that counts.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agentmon_notify::deliver::{DeliveryQueue, DeliveryStatus, QueueOptions};
use agentmon_notify::receivers::{prepare, PlainRenderer, ReceiverConfig};
use agentmon_notify::secrets::SecretKey;
use support::{group_key_of, notification, ok, wait_for_log, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_to_receipt_latency() {
    const COUNT: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], ok()).await;
    let queue = DeliveryQueue::open(
        &dir.path().join("q.sqlite"),
        SecretKey::generate().unwrap(),
        QueueOptions::default(),
    )
    .unwrap();
    let dispatcher = queue.start();
    let config: ReceiverConfig = ReceiverConfig::from_yaml(&format!(
        "name: hooks\nwebhook_configs: [{{url: '{}'}}]",
        receiver.url("/hook")
    ))
    .unwrap();
    let mut started = HashMap::new();
    for i in 0..COUNT {
        let n = notification("hooks", &format!("Latency{i}"));
        let deliveries = prepare(&n, &config, &PlainRenderer).unwrap();
        started.insert(n.group_key.clone(), Instant::now());
        queue.enqueue(deliveries).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_for_log(&queue, Duration::from_secs(60), |r| {
        r.len() == COUNT && r.iter().all(|d| d.status == DeliveryStatus::Sent)
    })
    .await;
    dispatcher.shutdown().await;
    let mut latencies: Vec<Duration> = receiver
        .accepted()
        .iter()
        .map(|r| r.at - started[&group_key_of(r)])
        .collect();
    assert_eq!(latencies.len(), COUNT);
    latencies.sort();
    let p50 = latencies[COUNT / 2];
    let p99 = latencies[COUNT * 99 / 100 - 1];
    let max = latencies[COUNT - 1];
    eprintln!(
        "enqueue → receipt over {COUNT} notifications: p50 {p50:?}, p99 {p99:?}, max {max:?}"
    );
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
}
