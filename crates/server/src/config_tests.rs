//! Tests of the configuration file and of flag precedence.

use super::*;
use crate::auth::Role;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("agentmon.yml"))
}

#[test]
fn empty_file_is_the_default() {
    let config = parse("# nothing here\n\n").unwrap();
    let settings = config.resolve(&Overrides::default());
    assert_eq!(settings.listen, DEFAULT_LISTEN);
    assert_eq!(settings.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(
        settings.tsdb.retention_time,
        Options::default().retention_time
    );
    assert!(settings.tokens.is_empty());
}

#[test]
fn reads_every_known_key() {
    let config = parse(
        r#"
listen: 0.0.0.0:9000
data_dir: /var/lib/agentmon
storage:
  retention_time: 30d
  retention_size: 10GB
  wal_fsync: always
  wal_segment_size: 64MB
  out_of_order_window: 10m
  head_block_duration: 1h
auth:
  tokens:
    - {name: grafana, token: "read-token-1", role: read}
    - {name: agents, token: "write-token-1", role: write}
    - {name: ops, token: "admin-token-1", role: admin}
"#,
    )
    .unwrap();
    let options = config.tsdb_options();
    assert_eq!(options.retention_time, Duration::from_secs(30 * 86_400));
    assert_eq!(options.retention_size, Some(10 << 30));
    assert_eq!(options.wal_fsync, WalFsync::Always);
    assert_eq!(options.wal_segment_size, 64 << 20);
    assert_eq!(options.out_of_order_window, Duration::from_secs(600));
    assert_eq!(options.head_block_duration, Duration::from_secs(3600));
    assert_eq!(config.auth.tokens[2].role, Role::Admin);
    assert_eq!(config.listen.as_deref(), Some("0.0.0.0:9000"));
    assert!(config.unsupported_sections().is_empty());
}

#[test]
fn wal_fsync_takes_an_interval_and_sizes_take_plain_bytes() {
    let config =
        parse("storage:\n  wal_fsync: 2s\n  retention_size: 0\n  wal_segment_size: 1048576\n")
            .unwrap();
    let options = config.tsdb_options();
    assert_eq!(
        options.wal_fsync,
        WalFsync::Interval(Duration::from_secs(2))
    );
    assert_eq!(options.retention_size, None);
    assert_eq!(options.wal_segment_size, 1 << 20);
}

#[test]
fn unknown_keys_are_errors_that_name_the_key() {
    let error = parse("listen: a\nlisten_addr: b\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("agentmon.yml"), "{error}");
    assert!(error.contains("unknown field `listen_addr`"), "{error}");
    let error = parse("storage:\n  retention: 1d\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown field `retention`"), "{error}");
    let error = parse("auth:\n  tokens:\n    - {name: a, token: abcdefgh, role: read, scope: x}\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown field `scope`"), "{error}");
}

#[test]
fn bad_values_say_what_is_wrong() {
    let error = parse("storage:\n  retention_time: 15x\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid duration \"15x\""), "{error}");
    let error = parse("storage:\n  wal_fsync: sometimes\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid wal_fsync \"sometimes\""), "{error}");
    let error = parse("auth:\n  tokens:\n    - {name: a, token: abcdefgh, role: root}\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `root`"), "{error}");
    let error = parse("auth:\n  tokens:\n    - {name: a, token: short, role: read}\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("at least 8 characters"), "{error}");
    let error = parse(
        "auth:\n  tokens:\n    - {name: a, token: abcdefgh, role: read}\n    - {name: b, token: abcdefgh, role: admin}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("every token must be distinct"), "{error}");
}

#[test]
fn future_sections_are_accepted_and_reported() {
    let config = parse(
        "global:\n  scrape_interval: 15s\nscrape_configs: []\nrule_files: []\nremote_write: []\n\
         alertmanager: {route: {receiver: r}, receivers: [{name: r}]}\nagents: {namespace: hermes}\n\
         pricing: {}\nhealth_checks: []\n",
    )
    .unwrap();
    assert_eq!(config.unsupported_sections(), ["remote_write"]);
    assert!(config.rule_files.is_empty());
    let alertmanager = config.alertmanager_config().unwrap().expect("present");
    assert_eq!(alertmanager.receivers[0].name, "r");
    // An empty section is refused as Alertmanager refuses an empty file.
    let error = parse("alertmanager: {}\n").unwrap_err().to_string();
    assert!(error.contains("no routes provided"), "{error}");
}

#[test]
fn health_checks_are_validated() {
    let config = parse(
        "health_checks:\n  - {service_name: api, endpoint: \"http://127.0.0.1:8000/health\"}\n  \
         - {service_name: db, endpoint: \"http://127.0.0.1:8001/\", interval: 60, timeout: 10s, expected_status: 204}\n",
    )
    .unwrap();
    let targets = config.health_targets().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0].interval, Duration::from_secs(30));
    assert_eq!(targets[0].timeout, Duration::from_secs(5));
    assert_eq!(targets[1].interval, Duration::from_secs(60));
    assert_eq!(targets[1].timeout, Duration::from_secs(10));
    assert_eq!(targets[1].expected_status, 204);

    let twice = "health_checks:\n  - {service_name: api, endpoint: \"http://h/\"}\n  \
                 - {service_name: api, endpoint: \"http://g/\"}\n";
    let error = parse(twice).unwrap_err().to_string();
    assert!(
        error.contains("health_checks[1]: service_name \"api\" is used twice"),
        "{error}"
    );
    let error =
        parse("health_checks:\n  - {service_name: api, endpoint: \"http://h/\", timeout: 1m}\n")
            .unwrap_err()
            .to_string();
    assert!(
        error.contains("health_checks[0]") && error.contains("longer than the interval"),
        "{error}"
    );
    let error =
        parse("health_checks:\n  - {service_name: api, endpoint: \"http://h/\", retries: 3}\n")
            .unwrap_err()
            .to_string();
    assert!(error.contains("retries"), "{error}");
}

#[test]
fn pricing_overrides_the_builtin_table_and_is_validated() {
    let config =
        parse("pricing:\n  gpt-4o: {input: 1.5, output: 6}\n  my-model: {input: 0, output: 0.5}\n")
            .unwrap();
    let table = config.price_table().unwrap();
    assert_eq!(table.lookup("gpt-4o").unwrap().input_usd_per_million, 1.5);
    assert_eq!(
        table.lookup("my-model").unwrap().output_usd_per_million,
        0.5
    );
    assert_eq!(
        table.lookup("gpt-4o").unwrap().source,
        agentmon_agents::PriceSource::Config
    );
    for (text, expected) in [
        (
            "pricing:\n  m: {input: -1, output: 1}\n",
            "pricing.\"m\".input",
        ),
        ("pricing:\n  m: {input: 1}\n", "missing field `output`"),
        (
            "pricing:\n  m: {input: 1, output: 1, cached: 2}\n",
            "unknown field `cached`",
        ),
        ("pricing:\n  m: {input: one, output: 1}\n", "invalid type"),
    ] {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

#[test]
fn agents_section_is_read_and_validated() {
    let defaults = parse("listen: 127.0.0.1:1\n").unwrap().agents_settings();
    assert_eq!(defaults, AgentsSettings::default());
    assert_eq!(defaults.metrics_interval, Duration::from_secs(15));
    assert_eq!(defaults.session_timeout, Duration::from_secs(1800));
    assert_eq!(defaults.namespace, "hermes");

    let config =
        parse("agents:\n  metrics_interval: 5s\n  session_timeout: 1h\n  namespace: fleet\n")
            .unwrap();
    let settings = config.resolve(&Overrides::default());
    assert_eq!(
        settings.agents,
        AgentsSettings {
            metrics_interval: Duration::from_secs(5),
            session_timeout: Duration::from_secs(3600),
            namespace: "fleet".into(),
        }
    );
    assert!(settings
        .to_yaml()
        .contains("agents:\n  metrics_interval: 5s\n  session_timeout: 1h\n  namespace: fleet\n"));

    for (text, expected) in [
        (
            "agents: {metrics_interval: 0s}",
            "agents.metrics_interval must be greater than zero",
        ),
        (
            "agents: {session_timeout: 0s}",
            "agents.session_timeout must be greater than zero",
        ),
        (
            "agents: {namespace: 9lives}",
            "agents.namespace \"9lives\" is invalid",
        ),
        (
            "agents: {namespace: \"\"}",
            "agents.namespace \"\" is invalid",
        ),
        (
            "agents: {metrics_interval: soon}",
            "invalid duration \"soon\"",
        ),
        ("agents: {interval: 5s}", "unknown field `interval`"),
    ] {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let config = parse("listen: 0.0.0.0:9000\ndata_dir: /srv/a\nstorage:\n  retention_time: 30d\n  wal_fsync: always\n")
        .unwrap();
    let from_file = config.resolve(&Overrides::default());
    assert_eq!(from_file.listen, "0.0.0.0:9000");
    assert_eq!(from_file.data_dir, PathBuf::from("/srv/a"));
    assert_eq!(
        from_file.tsdb.retention_time,
        Duration::from_secs(30 * 86_400)
    );

    let overrides = Overrides {
        listen: Some("127.0.0.1:9999".into()),
        data_dir: Some(PathBuf::from("other")),
        retention_time: Some(Duration::from_secs(3600)),
        retention_size: Some(1 << 30),
        wal_fsync: Some(WalFsync::Interval(Duration::from_secs(5))),
        ..Overrides::default()
    };
    let settings = config.resolve(&overrides);
    assert_eq!(settings.listen, "127.0.0.1:9999");
    assert_eq!(settings.data_dir, PathBuf::from("other"));
    assert_eq!(settings.tsdb.retention_time, Duration::from_secs(3600));
    assert_eq!(settings.tsdb.retention_size, Some(1 << 30));
    assert_eq!(
        settings.tsdb.wal_fsync,
        WalFsync::Interval(Duration::from_secs(5))
    );
}

#[test]
fn missing_file_names_the_path() {
    let error = Config::load(Path::new("does/not/exist.yml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("cannot read config file does/not/exist.yml"),
        "{error}"
    );
}

#[test]
fn query_section_sets_limits_and_flags_win() {
    let config = parse(
        "query:\n  timeout: 30s\n  max_samples: 1000\n  lookback_delta: 1m\n  max_concurrency: 4\n",
    )
    .unwrap();
    let settings = config.resolve(&Overrides::default());
    assert_eq!(
        settings.query,
        QuerySettings {
            timeout: Duration::from_secs(30),
            max_samples: 1000,
            lookback_delta: Duration::from_secs(60),
            max_concurrency: 4,
            rollup_cache_values: 2_000_000,
        }
    );
    let overrides = Overrides {
        query_timeout: Some(Duration::from_secs(5)),
        query_max_concurrency: Some(2),
        ..Overrides::default()
    };
    let settings = config.resolve(&overrides);
    assert_eq!(settings.query.timeout, Duration::from_secs(5));
    assert_eq!(settings.query.max_concurrency, 2);
    assert_eq!(settings.query.max_samples, 1000);
    assert_eq!(
        parse("").unwrap().resolve(&Overrides::default()).query,
        QuerySettings::default()
    );

    let error = parse("query:\n  max_concurrency: 0\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("query.max_concurrency must be greater than zero"),
        "{error}"
    );
    let error = parse("query:\n  timeout: 0\n").unwrap_err().to_string();
    assert!(
        error.contains("query.timeout must be greater than zero"),
        "{error}"
    );
    let error = parse("query:\n  max_sample: 10\n").unwrap_err().to_string();
    assert!(error.contains("unknown field `max_sample`"), "{error}");
}

#[test]
fn relative_scrape_paths_are_under_the_config_files_directory() {
    let config = Config::parse(
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: pw}\n    \
         file_sd_configs: [{files: ['sd/*.json']}]\n",
        Path::new("/etc/agentmon/agentmon.yml"),
    )
    .unwrap();
    let job = config.scrape_jobs().unwrap().remove(0);
    assert_eq!(
        job.file_sd[0].files,
        [PathBuf::from("/etc/agentmon/sd/*.json")]
    );
    let error = job.authorization_header().unwrap_err();
    assert!(error.contains("/etc/agentmon/pw"), "{error}");
}

#[test]
fn scrape_configs_are_read_and_validated() {
    let config = parse(
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    \
         static_configs: [{targets: ['localhost:9100']}]\n",
    )
    .unwrap();
    let jobs = config.scrape_jobs().unwrap();
    assert_eq!(jobs[0].scrape_interval, Duration::from_secs(15));
    let error = parse("scrape_configs:\n  - job_name: a\n  - job_name: a\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unique"), "{error}");
    let error = parse("scrape_configs:\n  - job_name: a\n    scheme: ftp\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("scheme"), "{error}");
    let error = parse("global:\n  scrape_intervall: 1m\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("scrape_intervall"), "{error}");
}

#[test]
fn external_url_is_checked_and_the_flag_wins() {
    let config = parse("external_url: https://mon.example.com/agentmon/\n").unwrap();
    let settings = config.resolve(&Overrides::default());
    assert_eq!(
        settings.external_url.as_deref(),
        Some("https://mon.example.com/agentmon")
    );
    let flagged = config.resolve(&Overrides {
        external_url: Some("http://proxy:80".to_owned()),
        ..Overrides::default()
    });
    assert_eq!(flagged.external_url.as_deref(), Some("http://proxy"));
    assert_eq!(
        parse("")
            .unwrap()
            .resolve(&Overrides::default())
            .external_url,
        None
    );
    for (bad, why) in [
        ("ftp://x/", "must use http or https"),
        ("/relative", "is not a URL"),
        ("http://x/?a=b", "must not have a query or fragment"),
        ("http://x/#top", "must not have a query or fragment"),
    ] {
        let error = parse(&format!("external_url: '{bad}'\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("external_url") && error.contains(why),
            "{bad}: {error}"
        );
    }
    let local: std::net::SocketAddr = "127.0.0.1:9090".parse().unwrap();
    assert_eq!(default_external_url(local), "http://127.0.0.1:9090");
    let any: std::net::SocketAddr = "0.0.0.0:9090".parse().unwrap();
    let derived = default_external_url(any);
    assert!(
        derived.starts_with("http://") && derived.ends_with(":9090"),
        "{derived}"
    );
    assert!(!derived.contains("0.0.0.0"), "{derived}");
}
