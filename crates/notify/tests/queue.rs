//! The delivery queue against a real HTTP receiver on loopback that fails
//! in every way a receiver can (500, no answer, closed port, 400, 429),
//! and across a restart of the queue.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use agentmon_notify::deliver::{
    DeliveryFilter, DeliveryQueue, DeliveryStatus, Page, QueueOptions, RetryPolicy,
};
use agentmon_notify::receivers::{prepare, IntegrationKind, PlainRenderer, ReceiverConfig};
use agentmon_notify::secrets::SecretKey;
use support::{group_key_of, notification, ok, wait_for_log, Receiver, Reply};

fn options() -> QueueOptions {
    QueueOptions {
        workers: 3,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_age: Duration::from_secs(60),
        },
        send_timeout: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        ..QueueOptions::default()
    }
}

fn webhook_receiver(url: &str) -> ReceiverConfig {
    ReceiverConfig::from_yaml(&format!(
        "name: hooks\nwebhook_configs:\n  - url: '{url}'\n"
    ))
    .unwrap()
}

async fn enqueue_groups(queue: &DeliveryQueue, config: &ReceiverConfig, groups: &[String]) {
    for group in groups {
        let deliveries = prepare(&notification("hooks", group), config, &PlainRenderer).unwrap();
        queue.enqueue(deliveries).await.unwrap();
    }
}

fn all_in(
    status: DeliveryStatus,
    count: usize,
) -> impl Fn(&[agentmon_notify::deliver::DeliveryRecord]) -> bool {
    move |records| records.len() == count && records.iter().all(|r| r.status == status)
}

/// Accepted requests by group key.
fn accepted_by_group(receiver: &Receiver) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in receiver.accepted() {
        *counts.entry(group_key_of(&request)).or_insert(0) += 1;
    }
    counts
}

fn open(path: &Path, key: &SecretKey) -> DeliveryQueue {
    DeliveryQueue::open(path, key.clone(), options()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receiver_then_recovery_delivers_each_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    // 500s first, then requests that get no answer.
    let mut replies = vec![Reply::Status(500, vec![]); 6];
    replies.extend(vec![Reply::Hang; 3]);
    let mut receiver = Receiver::start(replies, Reply::Hang).await;
    let config = webhook_receiver(&receiver.url("/hook?token=t0ps3cret"));
    let queue = open(&dir.path().join("q.sqlite"), &key);
    let dispatcher = queue.start();
    let groups: Vec<String> = (0..5).map(|i| format!("Group{i}")).collect();
    enqueue_groups(&queue, &config, &groups).await;

    // Wait until the receiver has seen the 500s and the hangs, and a
    // timeout has been recorded.
    wait_for_log(&queue, Duration::from_secs(20), |records| {
        records.iter().any(|r| {
            r.last_error
                .as_deref()
                .is_some_and(|e| e.contains("timed out"))
        })
    })
    .await;
    assert!(receiver.received().len() >= 9);
    // Then the port closes: connection refused.
    receiver.stop().await;
    let records = wait_for_log(&queue, Duration::from_secs(20), |records| {
        records.iter().any(|r| {
            r.last_error
                .as_deref()
                .is_some_and(|e| e.contains("cannot connect"))
        })
    })
    .await;
    assert!(records
        .iter()
        .all(|r| r.status == DeliveryStatus::Pending || r.status == DeliveryStatus::Sending));
    // And recovers.
    receiver.restart(vec![], ok()).await;
    let records = wait_for_log(
        &queue,
        Duration::from_secs(30),
        all_in(DeliveryStatus::Sent, 5),
    )
    .await;
    dispatcher.shutdown().await;

    let expected: BTreeMap<String, usize> = groups
        .iter()
        .map(|g| (format!("{{}}:{{alertname=\"{g}\"}}"), 1))
        .collect();
    assert_eq!(accepted_by_group(&receiver), expected);
    for record in &records {
        assert!(record.attempts >= 2, "{record:?}");
        assert_eq!(record.response_code, Some(200));
        assert_eq!(record.last_error, None);
        assert!(record.finished_at_ms.is_some());
        assert_eq!(record.target, format!("http://{}/<secret>", receiver.addr));
    }
    // No error or target in the log shows the token.
    assert!(!format!("{records:?}").contains("t0ps3cret"));
    let metrics = queue.metrics();
    assert_eq!(metrics.value(IntegrationKind::Webhook, "sent"), 5);
    assert!(metrics.value(IntegrationKind::Webhook, "retried") >= 9);
    let mut text = String::new();
    metrics.write_text(&mut text);
    assert!(
        text.contains("agentmon_notifications_total{integration=\"webhook\",status=\"sent\"} 5\n")
    );
    assert!(text.contains("agentmon_notification_latency_seconds_count{integration=\"webhook\"}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], Reply::Status(400, vec![])).await;
    let queue = open(
        &dir.path().join("q.sqlite"),
        &SecretKey::generate().unwrap(),
    );
    let dispatcher = queue.start();
    enqueue_groups(
        &queue,
        &webhook_receiver(&receiver.url("/hook")),
        &["Bad".to_owned()],
    )
    .await;
    let records = wait_for_log(
        &queue,
        Duration::from_secs(10),
        all_in(DeliveryStatus::Failed, 1),
    )
    .await;
    // Give a retry every chance to happen (backoff is at most 200 ms).
    tokio::time::sleep(Duration::from_millis(600)).await;
    dispatcher.shutdown().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(records[0].attempts, 1);
    assert_eq!(records[0].response_code, Some(400));
    assert!(
        records[0].last_error.as_deref().unwrap().contains("400"),
        "{:?}",
        records[0]
    );
    assert_eq!(queue.metrics().value(IntegrationKind::Webhook, "failed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(
        vec![Reply::Status(
            429,
            vec![("Retry-After".to_owned(), "1".to_owned())],
        )],
        ok(),
    )
    .await;
    let queue = open(
        &dir.path().join("q.sqlite"),
        &SecretKey::generate().unwrap(),
    );
    let dispatcher = queue.start();
    enqueue_groups(
        &queue,
        &webhook_receiver(&receiver.url("/hook")),
        &["Busy".to_owned()],
    )
    .await;
    let records = wait_for_log(
        &queue,
        Duration::from_secs(10),
        all_in(DeliveryStatus::Sent, 1),
    )
    .await;
    dispatcher.shutdown().await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    // The backoff alone would be at most 20 ms.
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried after {gap:?}");
    assert_eq!(records[0].attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_the_middle_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(agentmon_notify::deliver::store::FILE_NAME);
    let key = SecretKey::load_or_create(dir.path()).unwrap();
    // The receiver fails everything, and the last requests hang, so that
    // some rows are under way when the queue stops.
    let mut receiver = Receiver::start(vec![Reply::Status(503, vec![]); 12], Reply::Hang).await;
    let config = webhook_receiver(&receiver.url("/hook?token=t0ps3cret"));
    let groups: Vec<String> = (0..8).map(|i| format!("Restart{i}")).collect();
    {
        let queue = open(&path, &key);
        let dispatcher = queue.start();
        enqueue_groups(&queue, &config, &groups).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while receiver
            .received()
            .iter()
            .filter(|r| r.answered.is_none())
            .count()
            < 2
        {
            assert!(std::time::Instant::now() < deadline, "no hanging request");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let records = queue
            .list_deliveries(DeliveryFilter::default(), Page::default())
            .await
            .unwrap();
        assert!(records.iter().any(|r| r.status == DeliveryStatus::Sending));
        // As a crash: nothing is finished or recorded.
        dispatcher.abort();
    }
    assert!(receiver.accepted().is_empty());

    // Payloads are sealed at rest: the token is in no file of the queue.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        // SQLite may remove its -wal and -shm files as connections close.
        let Ok(bytes) = std::fs::read(entry.unwrap().path()) else {
            continue;
        };
        assert!(!bytes.windows(9).any(|w| w == b"t0ps3cret"));
    }
    // Another key is refused at open, before any delivery is touched.
    let error = DeliveryQueue::open(&path, SecretKey::generate().unwrap(), options())
        .err()
        .expect("a queue opened with another key");
    assert!(
        error
            .to_string()
            .contains("not the key this queue was written with"),
        "{error}"
    );

    receiver.restart(vec![], ok()).await;
    // Reopened the way the server does: the data directory's key and file.
    let queue = DeliveryQueue::open_in(dir.path(), options()).unwrap();
    let dispatcher = queue.start();
    let records = wait_for_log(
        &queue,
        Duration::from_secs(30),
        all_in(DeliveryStatus::Sent, 8),
    )
    .await;
    dispatcher.shutdown().await;
    let accepted = accepted_by_group(&receiver);
    assert_eq!(accepted.len(), 8, "{accepted:?}");
    assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
    // Attempts made before the restart are kept.
    assert!(records.iter().map(|r| r.attempts).sum::<u32>() > 8 + 12 - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_notification_supersedes_a_pending_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start(vec![], ok()).await;
    receiver.stop().await;
    let queue = open(
        &dir.path().join("q.sqlite"),
        &SecretKey::generate().unwrap(),
    );
    let config = webhook_receiver(&receiver.url("/hook"));
    let mut first = notification("hooks", "Flapping");
    first.alerts[0].alert.annotations =
        agentmon_model::Labels::new([("summary", "first")]).unwrap();
    let mut second = first.clone();
    second.alerts[0].resolved = true;
    second.alerts[0].alert.ends_at_ms = Some(1_700_000_060_000);
    for notification in [&first, &second] {
        let ids = queue
            .enqueue_notification(notification, &config, &PlainRenderer)
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
    }
    // Another group is not touched.
    enqueue_groups(&queue, &config, &["Other".to_owned()]).await;
    receiver.restart(vec![], ok()).await;
    let dispatcher = queue.start();
    let records = wait_for_log(&queue, Duration::from_secs(10), |records| {
        records
            .iter()
            .filter(|r| r.status == DeliveryStatus::Sent)
            .count()
            == 2
    })
    .await;
    dispatcher.shutdown().await;
    let statuses: Vec<DeliveryStatus> = records.iter().rev().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            DeliveryStatus::Superseded,
            DeliveryStatus::Sent,
            DeliveryStatus::Sent
        ]
    );
    let flapping: Vec<String> = receiver
        .accepted()
        .iter()
        .filter(|r| group_key_of(r).contains("Flapping"))
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(flapping.len(), 1);
    assert!(
        flapping[0].contains("\"status\":\"resolved\""),
        "{}",
        flapping[0]
    );
    assert_eq!(
        queue
            .metrics()
            .value(IntegrationKind::Webhook, "superseded"),
        1
    );

    // The log filters.
    let filter = DeliveryFilter {
        status: Some(DeliveryStatus::Superseded),
        ..DeliveryFilter::default()
    };
    let superseded = queue
        .list_deliveries(filter, Page::default())
        .await
        .unwrap();
    assert_eq!(superseded.len(), 1);
    assert_eq!(superseded[0].attempts, 0);
    let page = queue
        .list_deliveries(
            DeliveryFilter::default(),
            Page {
                limit: 2,
                before_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    let rest = queue
        .list_deliveries(
            DeliveryFilter::default(),
            Page {
                limit: 2,
                before_id: Some(page[1].id),
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(rest[0].id < page[1].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_older_than_the_maximum_age_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start(vec![], Reply::Status(500, vec![])).await;
    let mut options = options();
    options.retry.max_age = Duration::from_millis(400);
    let queue = DeliveryQueue::open(
        &dir.path().join("q.sqlite"),
        SecretKey::generate().unwrap(),
        options,
    )
    .unwrap();
    let dispatcher = queue.start();
    enqueue_groups(
        &queue,
        &webhook_receiver(&receiver.url("/hook")),
        &["Old".to_owned()],
    )
    .await;
    let records = wait_for_log(
        &queue,
        Duration::from_secs(10),
        all_in(DeliveryStatus::Expired, 1),
    )
    .await;
    dispatcher.shutdown().await;
    assert!(records[0].attempts >= 1);
    assert_eq!(records[0].response_code, Some(500));
    assert!(records[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("maximum age"));
    assert_eq!(
        queue.metrics().value(IntegrationKind::Webhook, "expired"),
        1
    );
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_now_answers_with_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![Reply::Status(503, vec![])], ok()).await;
    let queue = open(
        &dir.path().join("q.sqlite"),
        &SecretKey::generate().unwrap(),
    );
    let config = webhook_receiver(&receiver.url("/hook"));
    let deliveries = prepare(&notification("hooks", "Test"), &config, &PlainRenderer).unwrap();
    let first = queue.send_now(&deliveries[0]).await;
    assert!(
        matches!(
            first,
            agentmon_notify::deliver::Outcome::Retry {
                code: Some(503),
                ..
            }
        ),
        "{first:?}"
    );
    let second = queue.send_now(&deliveries[0]).await;
    assert_eq!(
        second,
        agentmon_notify::deliver::Outcome::Sent { code: Some(200) }
    );
    assert_eq!(receiver.received().len(), 2);
    // Nothing was queued.
    let log = queue
        .list_deliveries(DeliveryFilter::default(), Page::default())
        .await
        .unwrap();
    assert!(log.is_empty());
}
