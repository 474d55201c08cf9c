use std::time::Duration;

use super::*;

fn jobs(yaml_global: &str, yaml_configs: &str) -> Result<Vec<ScrapeJob>, IngestError> {
    let global: GlobalConfig = serde_yaml::from_str(yaml_global).expect("global yaml");
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(yaml_configs).expect("configs yaml");
    resolve_jobs(&global, &configs)
}

#[test]
fn defaults_are_prometheus_defaults() {
    let j = jobs(
        "{}",
        "- job_name: node\n  static_configs: [{targets: ['localhost:9100']}]\n",
    )
    .unwrap();
    let j = &j[0];
    assert_eq!(j.scrape_interval, Duration::from_secs(60));
    assert_eq!(j.scrape_timeout, Duration::from_secs(10));
    assert_eq!(j.metrics_path, "/metrics");
    assert_eq!(j.scheme, "http");
    assert!(j.honor_timestamps);
    assert!(!j.honor_labels);
    assert_eq!(j.sample_limit, 0);
}

#[test]
fn job_values_override_global_and_timeout_follows_a_short_interval() {
    let j = jobs(
        "scrape_interval: 15s\nscrape_timeout: 5s\nexternal_labels: {region: eu}\n",
        "- job_name: a\n- job_name: b\n  scrape_interval: 2s\n- job_name: c\n  scrape_timeout: 1s\n",
    )
    .unwrap();
    assert_eq!(j[0].scrape_interval, Duration::from_secs(15));
    assert_eq!(j[0].scrape_timeout, Duration::from_secs(5));
    assert_eq!(j[1].scrape_timeout, Duration::from_secs(2));
    assert_eq!(j[2].scrape_timeout, Duration::from_secs(1));
}

#[test]
fn invalid_configs_are_refused_precisely() {
    let e = jobs("{}", "- job_name: a\n- job_name: a\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("scrape_configs[1]") && e.contains("unique"),
        "{e}"
    );
    let e = jobs(
        "{}",
        "- job_name: a\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("at most scrape_interval"), "{e}");
    let e = jobs("{}", "- job_name: a\n  scheme: https\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("TLS"), "{e}");
    let e = jobs(
        "{}",
        "- job_name: a\n  static_configs: [{targets: ['http://x:1/m']}]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("host:port"), "{e}");
    let e = jobs(
        "{}",
        "- job_name: a\n  relabel_configs: [{action: keep, regex: '('}]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("relabel_configs[0]") && e.contains("invalid regex"),
        "{e}"
    );
    let e = jobs("scrape_interval: 5s\nscrape_timeout: 10s\n", "[]")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("global"), "{e}");
    let e = jobs(
        "{}",
        "- job_name: a\n  basic_auth: {username: u}\n  authorization: {credentials: t}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("mutually exclusive"), "{e}");
    let unknown: Result<Vec<ScrapeConfig>, _> =
        serde_yaml::from_str("- job_name: a\n  scrape_intervall: 5s\n");
    assert!(unknown
        .unwrap_err()
        .to_string()
        .contains("unknown field `scrape_intervall`"));
    let bad_duration: Result<Vec<ScrapeConfig>, _> =
        serde_yaml::from_str("- job_name: a\n  scrape_interval: 5 seconds\n");
    assert!(bad_duration.is_err());
}

#[test]
fn credentials_become_an_authorization_header() {
    let j = jobs(
        "{}",
        "- job_name: a\n  basic_auth: {username: Aladdin, password: open sesame}\n\
         - job_name: b\n  authorization: {credentials: tok}\n",
    )
    .unwrap();
    // RFC 7617's example.
    assert_eq!(
        j[0].authorization_header.as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert_eq!(j[1].authorization_header.as_deref(), Some("Bearer tok"));
}
