use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc;

use super::*;
use crate::target::{DurationSpec, TargetSpec};

/// A local service: `/ok` answers 200, `/teapot` 418, `/slow` after 2s.
async fn service() -> String {
    let app = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn target(name: &str, endpoint: &str, timeout: &str, origin: TargetOrigin) -> HealthTarget {
    TargetSpec {
        service_name: name.to_owned(),
        endpoint: endpoint.to_owned(),
        interval: Some(DurationSpec::Text("1s".to_owned())),
        timeout: Some(DurationSpec::Text(timeout.to_owned())),
        expected_status: None,
    }
    .validate(origin)
    .unwrap()
}

#[tokio::test]
async fn probe_up_wrong_status_timeout_and_refused() {
    let base = service().await;
    let client = reqwest::Client::new();

    let up = probe(
        &client,
        &target("a", &format!("{base}/ok"), "1s", TargetOrigin::Api),
    )
    .await;
    assert!(up.success, "{up:?}");
    assert_eq!(up.status_code, Some(200));
    assert_eq!(up.error, None);

    let teapot = probe(
        &client,
        &target("a", &format!("{base}/teapot"), "1s", TargetOrigin::Api),
    )
    .await;
    assert!(!teapot.success);
    assert_eq!(teapot.status_code, Some(418));
    assert_eq!(teapot.error.as_deref(), Some("status 418, expected 200"));

    let slow = probe(
        &client,
        &target("a", &format!("{base}/slow"), "200ms", TargetOrigin::Api),
    )
    .await;
    assert!(!slow.success);
    assert_eq!(slow.status_code, None);
    assert_eq!(slow.error.as_deref(), Some("timed out after 200ms"));
    assert!(slow.duration < Duration::from_secs(2), "{slow:?}");

    // A port nobody listens on: bind one, then free it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = probe(
        &client,
        &target("a", &format!("http://{closed}/"), "1s", TargetOrigin::Api),
    )
    .await;
    assert!(!refused.success);
    assert_eq!(refused.status_code, None);
    let error = refused.error.unwrap();
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

struct ChannelWriter(mpsc::UnboundedSender<(String, bool)>);

impl ProbeWriter for ChannelWriter {
    fn write(&self, target: &HealthTarget, outcome: &ProbeOutcome, _timestamp_ms: i64) {
        let _ = self.0.send((target.service_name.clone(), outcome.success));
    }
}

#[tokio::test]
async fn monitor_probes_adds_and_removes() {
    let base = service().await;
    let (sender, mut results) = mpsc::unbounded_channel();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(TargetStore::open(&dir.path().join(crate::FILE_NAME)).unwrap());
    let monitor = HealthMonitor::new(Arc::new(ChannelWriter(sender)), Some(store.clone()));
    let skipped = monitor.start(vec![
        target("cfg", &format!("{base}/teapot"), "1s", TargetOrigin::Config),
        target("cfg", &format!("{base}/ok"), "1s", TargetOrigin::Config),
    ]);
    assert_eq!(skipped.len(), 1);
    monitor
        .add(target(
            "api",
            &format!("{base}/ok"),
            "1s",
            TargetOrigin::Api,
        ))
        .await
        .unwrap();
    assert!(matches!(
        monitor
            .add(target(
                "api",
                &format!("{base}/ok"),
                "1s",
                TargetOrigin::Api
            ))
            .await,
        Err(ProbeError::Duplicate(_))
    ));
    assert!(matches!(
        monitor
            .add(target(
                "cfg",
                &format!("{base}/ok"),
                "1s",
                TargetOrigin::Api
            ))
            .await,
        Err(ProbeError::Duplicate(_))
    ));

    // Wait for one result of each target.
    let mut seen = BTreeMap::new();
    while seen.len() < 2 {
        let (name, success) = tokio::time::timeout(Duration::from_secs(10), results.recv())
            .await
            .unwrap()
            .unwrap();
        seen.insert(name, success);
    }
    assert!(seen["api"]);
    assert!(!seen["cfg"]);
    // The state is set right after the writer is called.
    let mut statuses = monitor.statuses();
    for _ in 0..100 {
        if statuses.iter().all(|s| s.state.last_check_ms.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        statuses = monitor.statuses();
    }
    let names: Vec<_> = statuses.iter().map(|s| s.state_name()).collect();
    assert_eq!(names, ["up", "down"]);
    assert_eq!(overall(&statuses), ("degraded", 50.0));
    let cfg = monitor.status("cfg").unwrap();
    assert_eq!(
        cfg.state.last_outcome.unwrap().error.as_deref(),
        Some("status 418, expected 200")
    );

    assert!(matches!(
        monitor.remove("cfg").await,
        Err(ProbeError::FromConfig(_))
    ));
    assert!(matches!(
        monitor.remove("nope").await,
        Err(ProbeError::NotFound(_))
    ));
    assert_eq!(store.load().unwrap().len(), 1);
    monitor.remove("api").await.unwrap();
    assert!(monitor.status("api").is_none());
    assert!(store.load().unwrap().is_empty());
}

#[test]
fn overall_status_words() {
    let status = |success: Option<bool>| ServiceStatus {
        target: target("a", "http://127.0.0.1:9/", "1s", TargetOrigin::Api),
        state: ServiceState {
            last_check_ms: success.map(|_| 1),
            last_outcome: success.map(|success| ProbeOutcome {
                success,
                duration: Duration::ZERO,
                status_code: None,
                error: None,
            }),
        },
    };
    assert_eq!(overall(&[]), ("healthy", 100.0));
    assert_eq!(overall(&[status(Some(true))]), ("healthy", 100.0));
    assert_eq!(
        overall(&[status(Some(false)), status(None)]),
        ("unhealthy", 0.0)
    );
    let (word, percent) = overall(&[status(Some(true)), status(Some(false)), status(None)]);
    assert_eq!(word, "degraded");
    assert!((percent - 100.0 / 3.0).abs() < 1e-9);
}

struct ChannelListener(mpsc::UnboundedSender<HealthChange>);

impl HealthChangeListener for ChannelListener {
    fn changed(&self, change: HealthChange) {
        let _ = self.0.send(change);
    }
}

#[tokio::test]
async fn the_listener_hears_each_change_between_up_and_down_only() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let app = Router::new().route(
        "/flip",
        get(move || {
            let flag = flag.clone();
            async move {
                if flag.load(Ordering::SeqCst) {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (written, mut probes) = mpsc::unbounded_channel();
    let (told, mut changes) = mpsc::unbounded_channel();
    let monitor = HealthMonitor::new(Arc::new(ChannelWriter(written)), None)
        .with_listener(Arc::new(ChannelListener(told)));
    monitor.start(vec![target(
        "flip",
        &format!("http://{address}/flip"),
        "1s",
        TargetOrigin::Config,
    )]);
    // The first probe (unknown → up) is no change.
    assert!(next_probe(&mut probes).await);
    healthy.store(false, Ordering::SeqCst);
    while next_probe(&mut probes).await {}
    let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.service_name, "flip");
    assert!(change.was_up);
    assert!(!change.outcome.success);
    assert_eq!(change.outcome.status_code, Some(503));
    // Still down: no second change.
    assert!(!next_probe(&mut probes).await);
    healthy.store(true, Ordering::SeqCst);
    while !next_probe(&mut probes).await {}
    let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(!change.was_up);
    assert!(change.outcome.success);
    assert!(changes.try_recv().is_err(), "exactly two changes");
    monitor.stop();
}

async fn next_probe(probes: &mut mpsc::UnboundedReceiver<(String, bool)>) -> bool {
    tokio::time::timeout(Duration::from_secs(10), probes.recv())
        .await
        .unwrap()
        .unwrap()
        .1
}
