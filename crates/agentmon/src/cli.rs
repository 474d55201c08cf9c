//! The command line: `agentmon serve [flags]`, `agentmon promqltest FILE...`,
//! `agentmon rules check|test FILE...` and `agentmon bench …`. For `serve`, flags override the configuration
//! file, which overrides the defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use agentmon_server::config::{parse_wal_fsync, Overrides, Settings};
use agentmon_tsdb::WalFsync;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// agentmon: monitoring for fleets of AI agents.
#[derive(Debug, Parser)]
#[command(name = "agentmon", version, about)]
pub struct Cli {
    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP API, ingest and storage.
    Serve(ServeArgs),
    /// Run promqltest scripts (Prometheus's PromQL test format) against the engine.
    Promqltest(PromqltestArgs),
    /// Check Prometheus rule files or run their unit tests, as promtool does.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Load generators for benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `agentmon bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send the agent-fleet workload as remote-write requests over parallel connections.
    RemoteWrite(crate::bench::RemoteWriteArgs),
    /// Time PromQL range queries against a Prometheus-compatible query API.
    Query(crate::bench::QueryArgs),
    /// Post realistic agent events as NDJSON batches (or VictoriaMetrics import lines).
    Events(crate::bench::EventsArgs),
    /// Measure POST-to-WebSocket delivery latency with many live-stream subscribers.
    Live(crate::bench::LiveArgs),
    /// Serve many scrape targets with changing values on loopback ports.
    ScrapeTargets(crate::bench::ScrapeTargetsArgs),
    /// Remote-write the agent-fleet workload in real time to one or more receivers.
    Feed(crate::bench::FeedArgs),
    /// Write a rule file of many alerting rules over the agent-fleet workload.
    AlertRules(crate::bench::AlertRulesArgs),
}

/// `agentmon rules …`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files for syntax and validity (`promtool check rules`).
    Check(RulesFilesArgs),
    /// Run rule unit-test files (`promtool test rules`).
    Test(RulesFilesArgs),
}

/// The files of `agentmon rules check|test`.
#[derive(Debug, Args)]
pub struct RulesFilesArgs {
    /// Rule files to check, or unit-test files to run.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `agentmon promqltest`.
#[derive(Debug, Args)]
pub struct PromqltestArgs {
    /// Script files to run, in order.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Flags of `agentmon serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file. Without this flag, ./agentmon.yml is read if it
    /// exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for all data [default: ./data].
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address to listen on, host:port [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<String>,

    /// The URL agentmon is reached at from outside, for links in alerts and
    /// notifications [default: http://<listen address>].
    #[arg(long = "web.external-url", value_name = "URL", value_parser = parse_external_url)]
    pub external_url: Option<String>,

    /// Delete blocks older than this, e.g. 15d [default: 15d].
    #[arg(long = "retention.time", value_name = "DURATION", value_parser = parse_duration)]
    pub retention_time: Option<Duration>,

    /// Delete the oldest blocks while all blocks exceed this size, e.g. 50GB; 0 means no limit.
    #[arg(long = "retention.size", value_name = "SIZE", value_parser = parse_size)]
    pub retention_size: Option<u64>,

    /// "always" to fsync the WAL before every answer, or how often to fsync it, e.g. 1s.
    #[arg(long = "wal.fsync", value_name = "always|DURATION", value_parser = parse_wal_fsync)]
    pub wal_fsync: Option<WalFsync>,

    /// Longest a query may run, including its wait for a slot [default: 2m].
    #[arg(long = "query.timeout", value_name = "DURATION", value_parser = parse_positive_duration)]
    pub query_timeout: Option<Duration>,

    /// Most samples one query may hold in memory [default: 50000000].
    #[arg(long = "query.max-samples", value_name = "N", value_parser = parse_positive_count)]
    pub query_max_samples: Option<usize>,

    /// How far back an instant selector looks for a sample [default: 5m].
    #[arg(long = "query.lookback-delta", value_name = "DURATION", value_parser = parse_positive_duration)]
    pub query_lookback_delta: Option<Duration>,

    /// Queries evaluated at once; more wait for a slot [default: 20].
    #[arg(long = "query.max-concurrency", value_name = "N", value_parser = parse_positive_count)]
    pub query_max_concurrency: Option<usize>,

    /// Values of aggregations kept across range queries, so repeated
    /// dashboard queries recompute only changed steps; 0 turns the cache
    /// off [default: 2000000].
    #[arg(long = "query.rollup-cache-values", value_name = "N")]
    pub query_rollup_cache_values: Option<usize>,

    /// Allow listening on a non-loopback address without auth tokens.
    #[arg(long)]
    pub insecure: bool,
}

impl ServeArgs {
    /// The settings these flags override.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            external_url: self.external_url.clone(),
            data_dir: self.data_dir.clone(),
            retention_time: self.retention_time,
            retention_size: self.retention_size,
            wal_fsync: self.wal_fsync,
            query_timeout: self.query_timeout,
            query_max_samples: self.query_max_samples,
            query_lookback_delta: self.query_lookback_delta,
            query_max_concurrency: self.query_max_concurrency,
            query_rollup_cache_values: self.query_rollup_cache_values,
        }
    }
}

impl ServeArgs {
    /// Every flag of `serve` with the value in effect (from the flag, the
    /// file or the default), for `/api/v1/status/flags`.
    pub fn flag_values(&self, settings: &Settings) -> BTreeMap<String, String> {
        let millis = |d: Duration| {
            agentmon_model::duration::format_millis(
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            )
        };
        let tsdb = &settings.tsdb;
        let query = &settings.query;
        let config = self
            .config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        [
            ("config", config),
            ("data-dir", settings.data_dir.display().to_string()),
            ("listen", settings.listen.clone()),
            (
                "web.external-url",
                settings.external_url.clone().unwrap_or_default(),
            ),
            ("retention.time", millis(tsdb.retention_time)),
            (
                "retention.size",
                tsdb.retention_size.unwrap_or(0).to_string(),
            ),
            (
                "wal.fsync",
                match tsdb.wal_fsync {
                    WalFsync::Always => "always".to_owned(),
                    WalFsync::Interval(d) => millis(d),
                },
            ),
            ("query.timeout", millis(query.timeout)),
            ("query.max-samples", query.max_samples.to_string()),
            ("query.lookback-delta", millis(query.lookback_delta)),
            ("query.max-concurrency", query.max_concurrency.to_string()),
            (
                "query.rollup-cache-values",
                query.rollup_cache_values.to_string(),
            ),
            ("insecure", self.insecure.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

fn parse_external_url(text: &str) -> Result<String, String> {
    agentmon_server::config::check_external_url(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    agentmon_model::duration::parse(text).map_err(|e| e.to_string())
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(duration)
}

fn parse_positive_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be greater than zero".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number: {e}")),
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    agentmon_model::size::parse_bytes(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_with_no_flags_parses() {
        let cli = Cli::try_parse_from(["agentmon", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert!(args.config.is_none() && !args.insecure);
        assert_eq!(cli.log_format, LogFormat::Text);
    }

    #[test]
    fn storage_flags_are_validated() {
        let cli = Cli::try_parse_from([
            "agentmon",
            "serve",
            "--retention.time",
            "30d",
            "--retention.size",
            "0",
            "--wal.fsync",
            "always",
            "--log.format",
            "json",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.retention_time, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(args.retention_size, Some(0));
        assert_eq!(args.wal_fsync, Some(WalFsync::Always));
        assert!(Cli::try_parse_from(["agentmon", "serve", "--retention.time", "soon"]).is_err());
        assert!(Cli::try_parse_from(["agentmon", "serve", "--wal.fsync", "never"]).is_err());
    }

    #[test]
    fn query_flags_are_validated() {
        let cli = Cli::try_parse_from([
            "agentmon",
            "serve",
            "--query.timeout",
            "30s",
            "--query.max-samples",
            "1000",
            "--query.lookback-delta",
            "1m",
            "--query.max-concurrency",
            "4",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        let overrides = args.overrides();
        assert_eq!(overrides.query_timeout, Some(Duration::from_secs(30)));
        assert_eq!(overrides.query_max_samples, Some(1000));
        assert_eq!(
            overrides.query_lookback_delta,
            Some(Duration::from_secs(60))
        );
        assert_eq!(overrides.query_max_concurrency, Some(4));
        for (flag, value) in [
            ("--query.timeout", "0s"),
            ("--query.max-samples", "0"),
            ("--query.max-concurrency", "-1"),
            ("--query.lookback-delta", "soon"),
        ] {
            assert!(
                Cli::try_parse_from(["agentmon", "serve", flag, value]).is_err(),
                "{flag} {value}"
            );
        }
    }

    #[test]
    fn bench_remote_write_parses() {
        let cli = Cli::try_parse_from([
            "agentmon",
            "bench",
            "remote-write",
            "--url",
            "http://127.0.0.1:1/api/v1/write",
            "--instances",
            "2",
            "--steps",
            "3",
            "--senders",
            "2",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Bench(BenchCommand::RemoteWrite(_))
        ));
    }
}
