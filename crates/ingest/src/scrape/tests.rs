//! Scrape loops against a real HTTP server on loopback whose body the test
//! changes between scrapes.

use std::sync::{Arc, Mutex};

use agentmon_model::{is_stale_nan, Labels, MetricMetadata, SeriesBatch};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;

use super::*;
use crate::Limits;

/// Records every append; can be told to refuse.
#[derive(Default)]
struct MemoryAppender {
    writes: Mutex<Vec<Vec<(Labels, i64, f64)>>>,
    /// Health changes told: (instance label, health, error).
    changes: Mutex<Vec<(String, Health, String)>>,
}

impl SampleAppender for MemoryAppender {
    fn append(
        &self,
        batch: &SeriesBatch<'_>,
        _metadata: &[(&str, MetricMetadata)],
    ) -> Result<usize, String> {
        let rows = batch
            .iter()
            .flat_map(|s| {
                let labels = Labels::from_refs(s.labels);
                s.samples
                    .iter()
                    .map(move |x| (labels.clone(), x.t, x.v))
                    .collect::<Vec<_>>()
            })
            .collect();
        self.writes.lock().unwrap().push(rows);
        Ok(0)
    }

    fn target_health_changed(&self, labels: &Labels, _url: &str, health: Health, error: &str) {
        let instance = labels.get("instance").unwrap_or_default().to_owned();
        self.changes
            .lock()
            .unwrap()
            .push((instance, health, error.to_owned()));
    }
}

impl MemoryAppender {
    fn last_write(&self) -> Vec<(Labels, i64, f64)> {
        self.writes
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

fn value_of(rows: &[(Labels, i64, f64)], name: &str) -> Option<f64> {
    rows.iter()
        .find(|(l, _, _)| l.metric_name() == Some(name))
        .map(|(_, _, v)| *v)
}

/// (status, content type, body) the server answers with.
type Reply = Arc<Mutex<(u16, String, String)>>;

async fn serve(reply: Reply) -> String {
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let reply = reply.clone();
            async move {
                let (status, content_type, body) = reply.lock().unwrap().clone();
                (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::CONTENT_TYPE, content_type)],
                    body,
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn job(address: &str, extra: &str) -> ScrapeJob {
    let yaml = format!(
        "- job_name: test\n  scrape_interval: 1h\n  scrape_timeout: 2s\n  static_configs: [{{targets: ['{address}'], labels: {{env: dev}}}}]\n{extra}"
    );
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(&yaml).unwrap();
    resolve_jobs(&GlobalConfig::default(), &configs, std::path::Path::new(""))
        .unwrap()
        .remove(0)
}

fn scrape_loop(job: ScrapeJob, appender: Arc<MemoryAppender>) -> scrape_loop::ScrapeLoop {
    let (mut targets, _) = target::build_targets(&job, &target::static_groups(&job));
    scrape_loop::ScrapeLoop::new(
        Arc::new(job),
        targets.remove(0),
        reqwest::Client::new(),
        appender,
        Limits::default(),
    )
}

const TEXT: &str = "text/plain; version=0.0.4";

#[tokio::test]
async fn series_that_disappear_get_stale_markers_and_reports_are_written() {
    let reply: Reply = Arc::new(Mutex::new((200, TEXT.into(), "a 1\nb{x=\"1\"} 2\n".into())));
    let address = serve(reply.clone()).await;
    let appender = Arc::new(MemoryAppender::default());
    let mut l = scrape_loop(job(&address, ""), appender.clone());
    l.scrape_once().await;
    let first = appender.last_write();
    assert_eq!(value_of(&first, "up"), Some(1.0), "{first:?}");
    assert_eq!(value_of(&first, "scrape_samples_scraped"), Some(2.0));
    assert_eq!(value_of(&first, "scrape_series_added"), Some(2.0));
    let a = first
        .iter()
        .find(|(l, _, _)| l.metric_name() == Some("a"))
        .unwrap();
    assert_eq!(
        a.0,
        Labels::new([
            ("__name__", "a"),
            ("env", "dev"),
            ("instance", address.as_str()),
            ("job", "test")
        ])
        .unwrap()
    );
    assert_eq!(l.status().lock().unwrap().health, Health::Up);

    reply.lock().unwrap().2 = "a 3\n".into();
    l.scrape_once().await;
    let second = appender.last_write();
    let b = second
        .iter()
        .find(|(l, _, _)| l.metric_name() == Some("b"))
        .unwrap();
    assert!(is_stale_nan(b.2), "b must be marked stale: {second:?}");
    assert_eq!(value_of(&second, "a"), Some(3.0));
    assert_eq!(value_of(&second, "scrape_series_added"), Some(0.0));

    // The target fails: up 0, everything it had goes stale, nothing else stored.
    reply.lock().unwrap().0 = 500;
    l.scrape_once().await;
    let third = appender.last_write();
    assert_eq!(value_of(&third, "up"), Some(0.0));
    assert!(is_stale_nan(value_of(&third, "a").unwrap()));
    assert_eq!(third.len(), 6, "{third:?}");
    let status = l.status().lock().unwrap().clone();
    assert_eq!(status.health, Health::Down);
    assert!(status.last_error.contains("500"), "{}", status.last_error);

    // Up → down was told once (the first scrape, from unknown, was not);
    // down → down is not a change; down → up is.
    l.scrape_once().await;
    reply.lock().unwrap().0 = 200;
    l.scrape_once().await;
    let changes = appender.changes.lock().unwrap().clone();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0].0, address);
    assert_eq!(changes[0].1, Health::Down);
    assert!(changes[0].2.contains("500"), "{changes:?}");
    assert_eq!((changes[1].1, changes[1].2.as_str()), (Health::Up, ""));
}

#[tokio::test]
async fn sample_limit_fails_the_whole_scrape() {
    let reply: Reply = Arc::new(Mutex::new((200, TEXT.into(), "a 1\nb 2\nc 3\n".into())));
    let address = serve(reply.clone()).await;
    let appender = Arc::new(MemoryAppender::default());
    let mut l = scrape_loop(job(&address, "  sample_limit: 2\n"), appender.clone());
    l.scrape_once().await;
    let rows = appender.last_write();
    assert_eq!(value_of(&rows, "up"), Some(0.0));
    assert_eq!(
        value_of(&rows, "a"),
        None,
        "nothing of a failed scrape is stored"
    );
    assert!(l
        .status()
        .lock()
        .unwrap()
        .last_error
        .contains("sample_limit"));
    // Relabeling that drops a sample brings it under the limit.
    let relabel = "  sample_limit: 2\n  metric_relabel_configs: [{source_labels: [__name__], regex: c, action: drop}]\n";
    let mut l = scrape_loop(job(&address, relabel), appender.clone());
    l.scrape_once().await;
    let rows = appender.last_write();
    assert_eq!(value_of(&rows, "up"), Some(1.0));
    assert_eq!(value_of(&rows, "scrape_samples_scraped"), Some(3.0));
    assert_eq!(
        value_of(&rows, "scrape_samples_post_metric_relabeling"),
        Some(2.0)
    );
    assert_eq!(value_of(&rows, "c"), None);
}

/// Relabeling results are cached per scraped label set across scrapes;
/// every scrape must still store exactly what relabeling gives, for series
/// seen before, new ones, and dropped ones.
#[tokio::test]
async fn repeated_scrapes_relabel_as_the_first_did() {
    let reply: Reply = Arc::new(Mutex::new((200, TEXT.into(), "a{k=\"1\"} 1\nc 2\n".into())));
    let address = serve(reply.clone()).await;
    let appender = Arc::new(MemoryAppender::default());
    let rules = "  metric_relabel_configs:\n  - {source_labels: [__name__], regex: c, action: drop}\n  - {source_labels: [k], target_label: kk}\n";
    let mut l = scrape_loop(job(&address, rules), appender.clone());
    let samples = |rows: &[(Labels, i64, f64)]| -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = rows
            .iter()
            .filter(|(l, _, _)| {
                !l.metric_name()
                    .is_some_and(|n| n == "up" || n.starts_with("scrape_"))
            })
            .map(|(l, _, v)| (l.to_string(), *v))
            .collect();
        out.sort_by(|x, y| x.0.cmp(&y.0));
        out
    };
    let with_target = |name: &str, extra: &str| {
        format!("{name}{{env=\"dev\", instance=\"{address}\", job=\"test\"{extra}}}")
    };
    l.scrape_once().await;
    let first = samples(&appender.last_write());
    assert_eq!(
        first,
        [(with_target("a", ", k=\"1\", kk=\"1\""), 1.0)],
        "{first:?}"
    );
    reply.lock().unwrap().2 = "a{k=\"1\"} 5\nc 6\nd{k=\"2\"} 7\n".into();
    l.scrape_once().await;
    let second = samples(&appender.last_write());
    assert_eq!(
        second,
        [
            (with_target("a", ", k=\"1\", kk=\"1\""), 5.0),
            (with_target("d", ", k=\"2\", kk=\"2\""), 7.0),
        ],
        "{second:?}"
    );
}

#[tokio::test]
async fn unreachable_target_is_down_and_conflicting_labels_are_exported() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let appender = Arc::new(MemoryAppender::default());
    let mut l = scrape_loop(job(&format!("127.0.0.1:{port}"), ""), appender.clone());
    l.scrape_once().await;
    assert_eq!(value_of(&appender.last_write(), "up"), Some(0.0));
    assert_eq!(l.status().lock().unwrap().health, Health::Down);

    let body = "# TYPE m counter\nm_total{job=\"inner\"} 1 # {t=\"x\"} 1\n# EOF\n";
    let reply: Reply = Arc::new(Mutex::new((
        200,
        "application/openmetrics-text; version=1.0.0; charset=utf-8".into(),
        body.into(),
    )));
    let address = serve(reply.clone()).await;
    let mut l = scrape_loop(job(&address, ""), appender.clone());
    l.scrape_once().await;
    let rows = appender.last_write();
    let m = rows
        .iter()
        .find(|(l, _, _)| l.metric_name() == Some("m_total"))
        .unwrap();
    assert_eq!(m.0.get("job"), Some("test"));
    assert_eq!(m.0.get("exported_job"), Some("inner"));
    let mut honoring = scrape_loop(job(&address, "  honor_labels: true\n"), appender.clone());
    honoring.scrape_once().await;
    let rows = appender.last_write();
    let m = rows
        .iter()
        .find(|(l, _, _)| l.metric_name() == Some("m_total"))
        .unwrap();
    assert_eq!(m.0.get("job"), Some("inner"));
    // OpenMetrics without # EOF is a truncated body: the scrape fails.
    reply.lock().unwrap().2 = "m_total 1\n".into();
    honoring.scrape_once().await;
    assert_eq!(value_of(&appender.last_write(), "up"), Some(0.0));
}

#[tokio::test]
async fn manager_runs_loops_and_stopping_writes_stale_markers() {
    let reply: Reply = Arc::new(Mutex::new((200, TEXT.into(), "a 1\n".into())));
    let address = serve(reply).await;
    let appender = Arc::new(MemoryAppender::default());
    let manager = ScrapeManager::new(appender.clone(), Limits::default());
    let yaml = format!(
        "- job_name: fast\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n  static_configs: [{{targets: ['{address}']}}]\n"
    );
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(&yaml).unwrap();
    manager
        .apply(resolve_jobs(&GlobalConfig::default(), &configs, std::path::Path::new("")).unwrap())
        .await;
    let mut up = false;
    for _ in 0..100 {
        let snapshot = manager.targets();
        if snapshot
            .active
            .first()
            .is_some_and(|t| t.status.health == Health::Up)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(up, "target never became up");
    assert_eq!(
        manager.targets().active[0].target.scrape_url,
        format!("http://{address}/metrics")
    );
    manager.stop().await;
    assert!(manager.targets().active.is_empty());
    let last = appender.last_write();
    assert!(is_stale_nan(value_of(&last, "a").unwrap()), "{last:?}");
    assert!(is_stale_nan(value_of(&last, "up").unwrap()));
}

/// A server that records the request headers and answers `body`, gzipped
/// when `gzip` is set and the request accepts it.
async fn recording_server(
    body: String,
    gzip: bool,
) -> (String, Arc<Mutex<Option<axum::http::HeaderMap>>>) {
    let seen: Arc<Mutex<Option<axum::http::HeaderMap>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            let body = body.clone();
            async move {
                let accepts_gzip = headers
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("gzip"));
                *record.lock().unwrap() = Some(headers);
                if gzip && accepts_gzip {
                    use std::io::Write;
                    let mut encoder =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    encoder.write_all(body.as_bytes()).unwrap();
                    let compressed = encoder.finish().unwrap();
                    (
                        [
                            (header::CONTENT_TYPE, TEXT),
                            (header::CONTENT_ENCODING, "gzip"),
                        ],
                        compressed,
                    )
                        .into_response()
                } else {
                    ([(header::CONTENT_TYPE, TEXT)], body.into_bytes()).into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

fn last_error(l: &scrape_loop::ScrapeLoop) -> String {
    l.status().lock().unwrap().last_error.clone()
}

#[tokio::test]
async fn gzip_is_asked_for_and_decoded_and_the_accept_header_follows_scrape_protocols() {
    let (address, seen) = recording_server("g 5\n".into(), true).await;
    let appender = Arc::new(MemoryAppender::default());
    let mut l = scrape_loop(
        job(&address, "  scrape_protocols: [PrometheusText0.0.4]\n"),
        appender.clone(),
    );
    l.scrape_once().await;
    assert_eq!(
        value_of(&appender.last_write(), "g"),
        Some(5.0),
        "{}",
        last_error(&l)
    );
    let headers = seen.lock().unwrap().clone().unwrap();
    assert_eq!(headers[header::ACCEPT_ENCODING], "gzip");
    assert_eq!(
        headers[header::ACCEPT],
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.4"
    );

    let mut plain = scrape_loop(
        job(&address, "  enable_compression: false\n"),
        appender.clone(),
    );
    plain.scrape_once().await;
    assert_eq!(value_of(&appender.last_write(), "g"), Some(5.0));
    let headers = seen.lock().unwrap().clone().unwrap();
    assert_eq!(headers[header::ACCEPT_ENCODING], "identity");
    assert_eq!(headers[header::ACCEPT], scrape_loop::ACCEPT_HEADER);
}

#[tokio::test]
async fn body_size_limit_fails_the_scrape_plain_or_gzipped() {
    let body = format!("m{{pad=\"{}\"}} 1\n", "x".repeat(200));
    for gzip in [false, true] {
        let (address, _) = recording_server(body.clone(), gzip).await;
        let appender = Arc::new(MemoryAppender::default());
        let mut small = scrape_loop(job(&address, "  body_size_limit: 100B\n"), appender.clone());
        small.scrape_once().await;
        assert_eq!(value_of(&appender.last_write(), "up"), Some(0.0));
        assert_eq!(last_error(&small), scrape_loop::BODY_SIZE_LIMIT_ERROR);
        // Exactly the body's size still fails, as in Prometheus; one more passes.
        let exact = format!("  body_size_limit: {}\n", body.len());
        let mut at_limit = scrape_loop(job(&address, &exact), appender.clone());
        at_limit.scrape_once().await;
        assert_eq!(
            last_error(&at_limit),
            scrape_loop::BODY_SIZE_LIMIT_ERROR,
            "gzip {gzip}"
        );
        let above = format!("  body_size_limit: {}\n", body.len() + 1);
        let mut fits = scrape_loop(job(&address, &above), appender.clone());
        fits.scrape_once().await;
        assert_eq!(
            value_of(&appender.last_write(), "up"),
            Some(1.0),
            "{}",
            last_error(&fits)
        );
    }
}

#[tokio::test]
async fn label_length_limits_fail_the_scrape_with_prometheus_messages() {
    let (address, _) = recording_server(
        "metric{long_name=\"v\",k=\"a value longer than any address\"} 1\n".into(),
        false,
    )
    .await;
    let appender = Arc::new(MemoryAppender::default());
    let mut names = scrape_loop(
        job(&address, "  label_name_length_limit: 8\n"),
        appender.clone(),
    );
    names.scrape_once().await;
    assert_eq!(
        last_error(&names),
        "label_name_length_limit exceeded (metric: metric, label name: long_name, length: 9, limit: 8)"
    );
    let mut values = scrape_loop(
        job(&address, "  label_value_length_limit: 30\n"),
        appender.clone(),
    );
    values.scrape_once().await;
    assert_eq!(
        last_error(&values),
        "label_value_length_limit exceeded (metric: metric, label name: k, value: \"a value longer than any address\", length: 31, limit: 30)"
    );
    assert_eq!(value_of(&appender.last_write(), "up"), Some(0.0));
    let mut fine = scrape_loop(
        job(
            &address,
            "  label_name_length_limit: 9\n  label_value_length_limit: 31\n",
        ),
        appender.clone(),
    );
    fine.scrape_once().await;
    assert_eq!(
        value_of(&appender.last_write(), "up"),
        Some(1.0),
        "{}",
        last_error(&fine)
    );
}

#[tokio::test]
async fn file_sd_targets_and_target_limit_through_the_manager() {
    let (a, _) = recording_server("x 1\n".into(), false).await;
    let (b, _) = recording_server("x 2\n".into(), false).await;
    let dir = std::env::temp_dir().join(format!("agentmon-manager-sd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("t.yml"),
        format!("- targets: ['{a}']\n  labels: {{k: v}}\n"),
    )
    .unwrap();
    let appender = Arc::new(MemoryAppender::default());
    let manager = ScrapeManager::with_file_sd_poll(
        appender.clone(),
        Limits::default(),
        std::time::Duration::from_millis(20),
    );
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(
        "- job_name: sd\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n  target_limit: 1\n  \
         file_sd_configs: [{files: ['*.yml']}]\n  \
         relabel_configs: [{source_labels: [k], regex: drop, action: drop}]\n",
    )
    .unwrap();
    let jobs = resolve_jobs(&GlobalConfig::default(), &configs, &dir).unwrap();
    manager.apply(jobs).await;
    // The file was read by apply itself.
    let snapshot = manager.targets();
    assert_eq!(snapshot.active.len(), 1);
    assert_eq!(snapshot.active[0].target.labels.get("k"), Some("v"));
    let wait = |want: usize| {
        let manager = &manager;
        async move {
            for _ in 0..250 {
                if manager.targets().active.len() == want {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            false
        }
    };
    // Two targets over a limit of one: both scrape as failed.
    write_atomically(
        &dir.join("t.yml"),
        &format!("- targets: ['{a}', '{b}']\n- targets: ['h:1']\n  labels: {{k: drop}}\n"),
    );
    assert!(wait(2).await, "{:?}", manager.targets().active.len());
    assert_eq!(manager.targets().dropped_counts.get("sd"), Some(&1));
    let mut limited = false;
    for _ in 0..250 {
        if manager.targets().active.iter().all(|t| {
            t.status.last_error == "target_limit exceeded (number of targets: 2, limit: 1)"
        }) {
            limited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(limited, "{:?}", manager.targets().active);
    // A broken file keeps its targets and is counted; removing it drops them.
    write_atomically(&dir.join("t.yml"), "- targets: [unclosed\n");
    for _ in 0..250 {
        if manager.sd_file_read_errors() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(manager.sd_file_read_errors(), 1);
    assert_eq!(manager.targets().active.len(), 2);
    std::fs::remove_file(dir.join("t.yml")).unwrap();
    assert!(wait(0).await);
    manager.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes through a temporary file and a rename, so that discovery never
/// sees a half-written file.
fn write_atomically(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
