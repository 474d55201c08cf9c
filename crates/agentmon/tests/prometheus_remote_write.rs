//! Interoperability with a real Prometheus as the remote-write sender.
//!
//! Proves that a Prometheus from Debian's package, scraping itself every
//! second and remote-writing to agentmon, lands its samples in agentmon
//! unchanged: `up` and several `prometheus_*` series exist, and for a few of
//! them every raw sample agentmon holds up to its newest one equals, in
//! timestamp and bits of value, what Prometheus's own query API returns for
//! the same window. Skipped (with a message) when `prometheus` is not
//! installed, unless `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::http::{client, export, series, Exported};
use common::prometheus::{
    labels_of, prometheus_data, prometheus_or_skip, prometheus_sample, start_prometheus,
    PeerProcess,
};
use common::server::{free_port, poll_until, Server};
use reqwest::blocking::Client;

const JOB: &str = "e2e_prometheus_self";
/// How long Prometheus may take to start, scrape and ship enough samples.
const PEER_DEADLINE: Duration = Duration::from_secs(90);
/// Samples of `up` agentmon must hold before the comparison starts.
const MIN_SAMPLES: usize = 4;

fn start_self_scraping(binary: &Path, dir: &Path, port: u16, agentmon: &Server) -> PeerProcess {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
         remote_write:\n  - url: {url}\n    queue_config:\n      batch_send_deadline: 1s\n",
        url = agentmon.url("/api/v1/write"),
    );
    start_prometheus(binary, dir, port, &config, &[])
}

/// Compares agentmon's samples of the series `selector` selects with the
/// raw samples Prometheus returns for the window ending at agentmon's
/// newest sample. Returns how many samples were compared.
fn compare_series(http: &Client, agentmon: &Server, prometheus_url: &str, selector: &str) -> usize {
    let stored: Vec<Exported> = export(http, agentmon, selector);
    assert!(!stored.is_empty(), "agentmon has no series for {selector}");
    let mut compared = 0;
    for line in stored {
        let newest = line
            .samples
            .iter()
            .map(|s| s.0)
            .max()
            .expect("exported series has samples");
        let window = format!("{selector}[10m]");
        let data = prometheus_data(
            http,
            &format!("{prometheus_url}/api/v1/query"),
            &[
                ("query", window.clone()),
                ("time", format!("{:.3}", newest as f64 / 1000.0)),
            ],
        )
        .unwrap_or_else(|| panic!("Prometheus did not answer {window}"));
        let matrix = data["result"].as_array().expect("matrix result");
        let theirs = matrix
            .iter()
            .find(|s| labels_of(&s["metric"]) == line.labels)
            .unwrap_or_else(|| {
                panic!(
                    "Prometheus has no series {:?}; it has {matrix:?}",
                    line.labels
                )
            });
        let theirs: Vec<(i64, f64)> = theirs["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(prometheus_sample)
            .collect();
        let ours: Vec<(i64, f64)> = line
            .samples
            .iter()
            .copied()
            .filter(|s| s.0 <= newest)
            .collect();
        let bits = |samples: &[(i64, f64)]| {
            samples
                .iter()
                .map(|(t, v)| (*t, v.to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bits(&ours),
            bits(&theirs),
            "samples of {:?} differ\nagentmon:   {ours:?}\nprometheus: {theirs:?}",
            line.labels
        );
        compared += ours.len();
    }
    compared
}

#[test]
fn prometheus_remote_write_lands_unchanged() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let data = tempfile::tempdir().expect("agentmon data dir");
    let agentmon = Server::start(data.path());
    let peer_dir = tempfile::tempdir().expect("prometheus dir");
    let port = free_port();
    let prometheus = start_self_scraping(&binary, peer_dir.path(), port, &agentmon);
    let prometheus_url = format!("http://127.0.0.1:{port}");
    let http = client();

    let up = format!("up{{job=\"{JOB}\"}}");
    let arrived = poll_until(PEER_DEADLINE, || {
        let lines = export(&http, &agentmon, &up);
        let samples = lines.first().map_or(0, |l| l.samples.len());
        (samples >= MIN_SAMPLES).then_some(())
    });
    assert!(
        arrived.is_some(),
        "agentmon did not get {MIN_SAMPLES} samples of {up} within {PEER_DEADLINE:?}\n\
         --- prometheus log ---\n{}\n--- agentmon log ---\n{}",
        prometheus.log(),
        agentmon.log()
    );

    let families = series(
        &http,
        &agentmon,
        &format!("{{__name__=~\"prometheus_.*\", job=\"{JOB}\"}}"),
    );
    assert!(
        families.len() >= 20,
        "only {} prometheus_* series arrived",
        families.len()
    );

    // The newest `up` in agentmon is what Prometheus answers for that instant.
    let ours = export(&http, &agentmon, &up);
    let (newest_t, newest_v) = *ours[0]
        .samples
        .iter()
        .max_by_key(|s| s.0)
        .expect("up samples");
    let instant = prometheus_data(
        &http,
        &format!("{prometheus_url}/api/v1/query"),
        &[
            ("query", up.clone()),
            ("time", format!("{:.3}", newest_t as f64 / 1000.0)),
        ],
    )
    .expect("Prometheus answers an instant query for up");
    let theirs = prometheus_sample(&instant["result"][0]["value"]).1;
    assert_eq!(
        (newest_v, theirs),
        (1.0, 1.0),
        "up in agentmon vs Prometheus"
    );

    let mut compared = 0;
    for selector in [
        up.clone(),
        format!("scrape_duration_seconds{{job=\"{JOB}\"}}"),
        format!("prometheus_http_requests_total{{job=\"{JOB}\", handler=\"/metrics\"}}"),
    ] {
        // A series born at a later scrape may have fewer samples than `up`.
        let count = compare_series(&http, &agentmon, &prometheus_url, &selector);
        assert!(count >= 2, "compared only {count} samples of {selector}");
        compared += count;
    }
    eprintln!("compared {compared} samples with Prometheus");
}
