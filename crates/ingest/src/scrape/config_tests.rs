use std::time::Duration;

use super::*;

fn jobs(yaml_global: &str, yaml_configs: &str) -> Result<Vec<ScrapeJob>, IngestError> {
    let global: GlobalConfig = serde_yaml::from_str(yaml_global).expect("global yaml");
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(yaml_configs).expect("configs yaml");
    resolve_jobs(&global, &configs, std::path::Path::new(""))
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
    let e = jobs("{}", "- job_name: a\n  scheme: ftp\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("use http or https"), "{e}");
    assert!(jobs("{}", "- job_name: a\n  scheme: https\n").is_ok());
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
    assert!(
        e.contains("at most one of basic_auth, oauth2 & authorization"),
        "{e}"
    );
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
        j[0].authorization_header().unwrap().as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert_eq!(
        j[1].authorization_header().unwrap().as_deref(),
        Some("Bearer tok")
    );
}

/// Each refused combination and Prometheus 2.42's message for it (checked
/// against `promtool check config`).
#[test]
fn http_client_settings_are_refused_with_prometheus_messages() {
    let cases = [
        ("basic_auth: {username: u, password: p, password_file: pw}", "at most one of basic_auth password & password_file must be configured"),
        ("bearer_token: x\n  bearer_token_file: pw", "at most one of bearer_token & bearer_token_file must be configured"),
        ("bearer_token: x\n  basic_auth: {username: u}", "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
        ("bearer_token: x\n  authorization: {credentials: y}", "authorization is not compatible with bearer_token & bearer_token_file"),
        ("authorization: {credentials: y, credentials_file: pw}", "at most one of authorization credentials & credentials_file must be configured"),
        ("authorization: {type: Basic, credentials: y}", "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"),
        ("basic_auth: {username: u}\n  authorization: {credentials: y}", "at most one of basic_auth, oauth2 & authorization must be configured"),
        ("tls_config: {cert_file: c.pem}", "client cert file \"c.pem\" specified without client key file"),
        ("tls_config: {key_file: k.pem}", "client key file \"k.pem\" specified without client cert file"),
        ("tls_config: {min_version: TLS14}", "unknown TLS version: TLS14"),
        ("file_sd_configs: [{files: [x.txt]}]", "path name \"x.txt\" is not valid for file discovery"),
        ("file_sd_configs: [{files: ['d/*/x.json']}]", "path name \"d/*/x.json\" is not valid for file discovery"),
        ("file_sd_configs: [{files: []}]", "file service discovery config must contain at least one path name"),
        ("scrape_protocols: [Foo]", "unknown scrape protocol Foo"),
        ("scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]", "duplicated protocol in scrape_protocols"),
        ("scrape_protocols: []", "scrape_protocols cannot be empty"),
    ];
    for (extra, message) in cases {
        let e = jobs("{}", &format!("- job_name: a\n  {extra}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(message), "{extra}: {e}");
    }
    let bad_size: Result<Vec<ScrapeConfig>, _> =
        serde_yaml::from_str("- job_name: a\n  body_size_limit: 10XB\n");
    assert!(bad_size.is_err());
}

#[test]
fn new_keys_get_prometheus_defaults_and_paths_resolve_under_the_config_dir() {
    let j = jobs("{}", "- job_name: a\n").unwrap().remove(0);
    assert_eq!(j.body_size_limit, 0);
    assert!(j.enable_compression);
    assert_eq!(j.accept_header, crate::scrape::scrape_loop::ACCEPT_HEADER);
    assert_eq!(j.target_limit, 0);
    let global = GlobalConfig::default();
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(
        "- job_name: a\n  body_size_limit: 10MB\n  enable_compression: false\n  \
         scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]\n  \
         file_sd_configs: [{files: ['sd/*.json', /abs/t.yml], refresh_interval: 30s}]\n  \
         basic_auth: {username: u, password_file: secret}\n  \
         tls_config: {ca_file: ca.pem, min_version: TLS13, server_name: x}\n",
    )
    .unwrap();
    let j = resolve_jobs(&global, &configs, std::path::Path::new("/etc/am"))
        .unwrap()
        .remove(0);
    assert_eq!(j.body_size_limit, 10 << 20);
    assert!(!j.enable_compression);
    assert_eq!(
        j.accept_header,
        "text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.3"
    );
    assert_eq!(j.file_sd[0].refresh_interval, Duration::from_secs(30));
    assert_eq!(
        j.file_sd[0].files,
        [
            std::path::PathBuf::from("/etc/am/sd/*.json"),
            std::path::PathBuf::from("/abs/t.yml")
        ]
    );
    assert_eq!(
        j.auth,
        Some(ScrapeAuth::Basic {
            username: "u".into(),
            password: Secret::File("/etc/am/secret".into())
        })
    );
    assert_eq!(j.tls.ca_file, Some("/etc/am/ca.pem".into()));
    assert_eq!(j.tls.min_version, Some(TlsVersion::Tls13));
    let e = j.authorization_header().unwrap_err();
    assert!(e.contains("/etc/am/secret"), "{e}");
}

#[test]
fn credential_files_are_read_at_each_call_and_trimmed() {
    let dir = std::env::temp_dir().join(format!("agentmon-cred-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tok"), "first\n").unwrap();
    let configs: Vec<ScrapeConfig> = serde_yaml::from_str(
        "- job_name: a\n  bearer_token_file: tok\n- job_name: b\n  authorization: {type: Token, credentials_file: tok}\n",
    )
    .unwrap();
    let j = resolve_jobs(&GlobalConfig::default(), &configs, &dir).unwrap();
    assert_eq!(
        j[0].authorization_header().unwrap().as_deref(),
        Some("Bearer first")
    );
    std::fs::write(dir.join("tok"), "second").unwrap();
    assert_eq!(
        j[1].authorization_header().unwrap().as_deref(),
        Some("Token second")
    );
    std::fs::remove_file(dir.join("tok")).unwrap();
    assert!(j[0].authorization_header().is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
