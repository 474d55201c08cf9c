//! The `agentmon.yml` configuration file.
//!
//! Every key is optional. Known sections: `listen`, `external_url`, `data_dir`, `storage`
//! (`retention_time`, `retention_size`, `wal_fsync`, `wal_segment_size`,
//! `out_of_order_window`, `head_block_duration`), `query` (`timeout`,
//! `max_samples`, `lookback_delta`, `max_concurrency`, `rollup_cache_values`)
//! `auth` (`tokens`) and `agents` (`metrics_interval`, `session_timeout`,
//! `namespace`: the derived metrics of agent events), `pricing` (per
//! model `input` and `output` in USD per million tokens, over the built-in
//! price table of `agentmon_agents::pricing`), and `global` and
//! `scrape_configs` with prometheus.yml's schema (parsed and validated by
//! [`agentmon_ingest::scrape::config`]; [`Config::scrape_jobs`]), and
//! `health_checks` (a list of `agentmon_probes` targets, unique by
//! `service_name`; [`Config::health_targets`]), `rule_files` (globs of
//! Prometheus rule files, evaluated every `global.evaluation_interval`),
//! and `alertmanager` with alertmanager.yml's schema (parsed and validated
//! by [`agentmon_notify::AlertmanagerConfig`];
//! [`Config::alertmanager_config`]).
//! Sections planned for later (`remote_write`) are
//! accepted so a full config file loads, and reported by
//! [`Config::unsupported_sections`]; any other key is an error naming it.
//!
//! Precedence is flags > file > defaults: [`Config::resolve`] applies
//! [`Overrides`] from the command line on top of the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentmon_agents::PriceTable;
use agentmon_ingest::scrape::{resolve_jobs, GlobalConfig, ScrapeConfig, ScrapeJob};
use agentmon_model::{duration, size};
use agentmon_notify::AlertmanagerConfig;
use agentmon_probes::{HealthTarget, TargetOrigin, TargetSpec};
use agentmon_tsdb::{Options, WalFsync};
use serde::Deserialize;

use crate::auth::Token;
use crate::error::ConfigError;

/// Where the server listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where data lives when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// The parsed configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `host:port` to listen on.
    pub listen: Option<String>,
    /// The URL agentmon is reached at from outside (behind a proxy, under
    /// a path): alerts' generator URLs and notifications link to it.
    /// Default: `http://<listen address>`.
    pub external_url: Option<String>,
    /// The one directory holding all data.
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub query: QueryConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub agents: AgentsConfig,
    /// Model → price, overriding the built-in table.
    #[serde(default)]
    pub pricing: std::collections::BTreeMap<String, PriceConfig>,
    /// prometheus.yml's `global`: scrape defaults and external labels.
    #[serde(default)]
    pub global: GlobalConfig,
    /// prometheus.yml's `scrape_configs`.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Services probed over HTTP (`agentmon_probes`).
    #[serde(default)]
    pub health_checks: Vec<TargetSpec>,
    /// Globs of Prometheus rule files, relative to the config file's
    /// directory (evaluated by `agentmon_rules`, see `docs/rules.md`).
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// alertmanager.yml's schema: the notification pipeline.
    #[serde(default)]
    pub alertmanager: Option<serde_yaml::Value>,
    // Sections of the target architecture that are not implemented yet.
    remote_write: Option<serde_yaml::Value>,
    /// The config file's directory: relative paths of `scrape_configs`
    /// (`file_sd_configs` files, credential and TLS files) are under it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The `agents` section: metrics derived from `POST /api/v1/events`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    /// How often the derived metrics are written into the TSDB (default 15s).
    pub metrics_interval: Option<ConfigDuration>,
    /// A session silent this long is closed (default 30m).
    pub session_timeout: Option<ConfigDuration>,
    /// Prefix of the derived metric names (default `hermes`).
    pub namespace: Option<String>,
}

/// One model's price under `pricing:`, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    pub input: f64,
    pub output: f64,
}

/// The `agents` settings in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsSettings {
    pub metrics_interval: Duration,
    pub session_timeout: Duration,
    pub namespace: String,
}

impl Default for AgentsSettings {
    fn default() -> AgentsSettings {
        AgentsSettings {
            metrics_interval: Duration::from_secs(15),
            session_timeout: Duration::from_secs(30 * 60),
            namespace: "hermes".to_owned(),
        }
    }
}

/// The `storage` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub retention_time: Option<ConfigDuration>,
    /// `0` means no size limit.
    pub retention_size: Option<ConfigSize>,
    pub wal_fsync: Option<ConfigWalFsync>,
    pub wal_segment_size: Option<ConfigSize>,
    pub out_of_order_window: Option<ConfigDuration>,
    pub head_block_duration: Option<ConfigDuration>,
}

/// The `query` section: limits of PromQL queries, with Prometheus's
/// `--query.*` flags as models.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    pub timeout: Option<ConfigDuration>,
    pub max_samples: Option<usize>,
    pub lookback_delta: Option<ConfigDuration>,
    pub max_concurrency: Option<usize>,
    pub rollup_cache_values: Option<usize>,
}

/// Limits of PromQL queries after flags, file and defaults are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySettings {
    /// The longest a query may run, including its wait for a slot (2m).
    pub timeout: Duration,
    /// Most samples one query may hold in memory (50,000,000).
    pub max_samples: usize,
    /// How far back an instant selector looks for a sample (5m).
    pub lookback_delta: Duration,
    /// Queries evaluated at once; more wait for a slot (20).
    pub max_concurrency: usize,
    /// Values of aggregations kept across range queries (2,000,000; 0 off).
    pub rollup_cache_values: usize,
}

impl Default for QuerySettings {
    fn default() -> QuerySettings {
        QuerySettings {
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            lookback_delta: Duration::from_secs(300),
            max_concurrency: 20,
            rollup_cache_values: 2_000_000,
        }
    }
}

/// The `auth` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub tokens: Vec<Token>,
}

/// A YAML scalar before it is read as a duration or size: Prometheus style
/// strings, or plain integers (`0`, or bytes for sizes).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(u64),
}

/// A Prometheus duration (`15d`, `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Scalar")]
pub struct ConfigDuration(pub Duration);

impl TryFrom<Scalar> for ConfigDuration {
    type Error = String;
    fn try_from(scalar: Scalar) -> Result<ConfigDuration, String> {
        match scalar {
            Scalar::Text(text) => duration::parse(&text)
                .map(ConfigDuration)
                .map_err(|e| e.to_string()),
            Scalar::Integer(0) => Ok(ConfigDuration(Duration::ZERO)),
            Scalar::Integer(n) => Err(format!(
                "invalid duration {n}: a duration needs a unit, e.g. \"{n}s\""
            )),
        }
    }
}

/// A byte size (`512MB`, or a plain number of bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Scalar")]
pub struct ConfigSize(pub u64);

impl TryFrom<Scalar> for ConfigSize {
    type Error = String;
    fn try_from(scalar: Scalar) -> Result<ConfigSize, String> {
        match scalar {
            Scalar::Text(text) => size::parse_bytes(&text)
                .map(ConfigSize)
                .map_err(|e| e.to_string()),
            Scalar::Integer(n) => Ok(ConfigSize(n)),
        }
    }
}

/// `always`, or how often to fsync the WAL as a duration (`1s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Scalar")]
pub struct ConfigWalFsync(pub WalFsync);

impl TryFrom<Scalar> for ConfigWalFsync {
    type Error = String;
    fn try_from(scalar: Scalar) -> Result<ConfigWalFsync, String> {
        match scalar {
            Scalar::Text(text) => parse_wal_fsync(&text).map(ConfigWalFsync),
            Scalar::Integer(_) => {
                Err("invalid wal_fsync: use \"always\" or a duration such as \"1s\"".into())
            }
        }
    }
}

/// Parses a `wal_fsync` setting: `always`, or a non-zero duration.
pub fn parse_wal_fsync(text: &str) -> Result<WalFsync, String> {
    if text == "always" {
        return Ok(WalFsync::Always);
    }
    let interval = duration::parse(text).map_err(|e| {
        format!("invalid wal_fsync {text:?}: use \"always\" or a duration such as \"1s\" ({e})")
    })?;
    if interval.is_zero() {
        return Err(format!(
            "invalid wal_fsync {text:?}: use \"always\" rather than a zero interval"
        ));
    }
    Ok(WalFsync::Interval(interval))
}

/// Checks an external URL (absolute `http`/`https` with a host, no query
/// or fragment) and returns it without a trailing `/`.
pub fn check_external_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?} must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?} must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The external URL when none is configured: the listening address, or
/// the machine's host name when it listens on every address.
pub fn default_external_url(address: std::net::SocketAddr) -> String {
    if address.ip().is_unspecified() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("http://{host}:{}", address.port())
    } else {
        format!("http://{address}")
    }
}

/// Settings given on the command line, which win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub external_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub retention_time: Option<Duration>,
    /// `Some(0)` means no size limit.
    pub retention_size: Option<u64>,
    pub wal_fsync: Option<WalFsync>,
    pub query_timeout: Option<Duration>,
    pub query_max_samples: Option<usize>,
    pub query_lookback_delta: Option<Duration>,
    pub query_max_concurrency: Option<usize>,
    pub query_rollup_cache_values: Option<usize>,
}

/// Everything `serve` needs, after flags, file and defaults are combined.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    /// Checked and without a trailing `/`; `None`: derived from the
    /// listening address once it is bound ([`default_external_url`]).
    pub external_url: Option<String>,
    pub data_dir: PathBuf,
    pub tsdb: Options,
    pub query: QuerySettings,
    pub tokens: Vec<Token>,
    pub agents: AgentsSettings,
    /// The effective price table (built-in and `pricing:`).
    pub prices: PriceTable,
    /// The `alertmanager:` section with its secrets shown as `<secret>`.
    pub alertmanager_redacted: Option<String>,
}

impl Config {
    /// Reads and validates a configuration file. An empty file is the
    /// default configuration.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses configuration text; `path` names the file in error messages
    /// and its directory is where relative scrape paths are resolved.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let is_blank = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if is_blank {
            return Ok(Config::default());
        }
        let mut config: Config =
            serde_yaml::from_str(text).map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source,
            })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.validate().map_err(|reason| ConfigError::Invalid {
            path: path.to_owned(),
            reason,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.external_url {
            check_external_url(url).map_err(|e| format!("external_url: {e}"))?;
        }
        for (i, token) in self.auth.tokens.iter().enumerate() {
            if token.name.is_empty() {
                return Err(format!("auth.tokens[{i}]: name must not be empty"));
            }
            if token.token.len() < 8 {
                return Err(format!(
                    "auth.tokens[{i}] ({:?}): token must be at least 8 characters",
                    token.name
                ));
            }
            for other in &self.auth.tokens[..i] {
                if other.name == token.name {
                    return Err(format!(
                        "auth.tokens[{i}]: name {:?} is used twice",
                        token.name
                    ));
                }
                if other.token == token.token {
                    return Err(format!(
                        "auth.tokens[{i}] ({:?}): same token as {:?}; every token must be distinct",
                        token.name, other.name
                    ));
                }
            }
        }
        if let Some(ConfigSize(0)) = self.storage.wal_segment_size {
            return Err("storage.wal_segment_size must be greater than zero".into());
        }
        if let Some(ConfigDuration(d)) = self.storage.head_block_duration {
            if d.is_zero() {
                return Err("storage.head_block_duration must be greater than zero".into());
            }
        }
        check_query_section(&self.query)?;
        self.scrape_jobs()?;
        check_agents_section(&self.agents)?;
        self.health_targets()?;
        self.alertmanager_config()?;
        self.price_table().map(|_| ())
    }

    /// The validated `alertmanager` section, if the file has one.
    pub fn alertmanager_config(&self) -> Result<Option<AlertmanagerConfig>, String> {
        self.alertmanager
            .clone()
            .map(|value| {
                AlertmanagerConfig::from_value(value).map_err(|e| format!("alertmanager: {e}"))
            })
            .transpose()
    }

    /// The built-in price table with this file's `pricing:` overrides.
    pub fn price_table(&self) -> Result<PriceTable, String> {
        let overrides: Vec<(String, f64, f64)> = self
            .pricing
            .iter()
            .map(|(model, price)| (model.clone(), price.input, price.output))
            .collect();
        PriceTable::builtin()
            .with_overrides(&overrides)
            .map_err(|e| e.to_string())
    }

    /// The scrape jobs of `global` and `scrape_configs`, validated, with
    /// Prometheus's defaults applied.
    pub fn scrape_jobs(&self) -> Result<Vec<ScrapeJob>, String> {
        resolve_jobs(&self.global, &self.scrape_configs, &self.base_dir).map_err(|e| e.to_string())
    }

    /// The validated `health_checks` targets; service names must be unique.
    pub fn health_targets(&self) -> Result<Vec<HealthTarget>, String> {
        let mut targets: Vec<HealthTarget> = Vec::with_capacity(self.health_checks.len());
        for (i, spec) in self.health_checks.iter().enumerate() {
            let target = spec
                .validate(TargetOrigin::Config)
                .map_err(|e| format!("health_checks[{i}]: {e}"))?;
            if targets
                .iter()
                .any(|t| t.service_name == target.service_name)
            {
                return Err(format!(
                    "health_checks[{i}]: service_name {:?} is used twice",
                    target.service_name
                ));
            }
            targets.push(target);
        }
        Ok(targets)
    }

    /// Top-level sections present in the file that agentmon does not act on
    /// yet; `serve` logs them as ignored.
    pub fn unsupported_sections(&self) -> Vec<&'static str> {
        let sections = [("remote_write", self.remote_write.is_some())];
        sections
            .iter()
            .filter(|(_, present)| *present)
            .map(|(name, _)| *name)
            .collect()
    }

    /// Storage options from this file over the engine's defaults.
    pub fn tsdb_options(&self) -> Options {
        let mut options = Options::default();
        let storage = &self.storage;
        if let Some(ConfigDuration(d)) = storage.retention_time {
            options.retention_time = d;
        }
        if let Some(ConfigSize(bytes)) = storage.retention_size {
            options.retention_size = (bytes > 0).then_some(bytes);
        }
        if let Some(ConfigWalFsync(policy)) = storage.wal_fsync {
            options.wal_fsync = policy;
        }
        if let Some(ConfigSize(bytes)) = storage.wal_segment_size {
            options.wal_segment_size = bytes;
        }
        if let Some(ConfigDuration(d)) = storage.out_of_order_window {
            options.out_of_order_window = d;
        }
        if let Some(ConfigDuration(d)) = storage.head_block_duration {
            options.head_block_duration = d;
        }
        options
    }

    /// Query limits from this file and the command line over the defaults.
    pub fn query_settings(&self, overrides: &Overrides) -> QuerySettings {
        let defaults = QuerySettings::default();
        let file = &self.query;
        QuerySettings {
            timeout: overrides
                .query_timeout
                .or(file.timeout.map(|d| d.0))
                .unwrap_or(defaults.timeout),
            max_samples: overrides
                .query_max_samples
                .or(file.max_samples)
                .unwrap_or(defaults.max_samples),
            lookback_delta: overrides
                .query_lookback_delta
                .or(file.lookback_delta.map(|d| d.0))
                .unwrap_or(defaults.lookback_delta),
            max_concurrency: overrides
                .query_max_concurrency
                .or(file.max_concurrency)
                .unwrap_or(defaults.max_concurrency),
            rollup_cache_values: overrides
                .query_rollup_cache_values
                .or(file.rollup_cache_values)
                .unwrap_or(defaults.rollup_cache_values),
        }
    }

    /// The `agents` section over its defaults.
    pub fn agents_settings(&self) -> AgentsSettings {
        let defaults = AgentsSettings::default();
        AgentsSettings {
            metrics_interval: self
                .agents
                .metrics_interval
                .map_or(defaults.metrics_interval, |d| d.0),
            session_timeout: self
                .agents
                .session_timeout
                .map_or(defaults.session_timeout, |d| d.0),
            namespace: self.agents.namespace.clone().unwrap_or(defaults.namespace),
        }
    }

    /// Combines command-line overrides, this file and the defaults.
    pub fn resolve(&self, overrides: &Overrides) -> Settings {
        let mut tsdb = self.tsdb_options();
        if let Some(d) = overrides.retention_time {
            tsdb.retention_time = d;
        }
        if let Some(bytes) = overrides.retention_size {
            tsdb.retention_size = (bytes > 0).then_some(bytes);
        }
        if let Some(policy) = overrides.wal_fsync {
            tsdb.wal_fsync = policy;
        }
        Settings {
            listen: overrides
                .listen
                .clone()
                .or_else(|| self.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            // Checked by the flag's parser and when the file was parsed.
            external_url: overrides
                .external_url
                .as_deref()
                .or(self.external_url.as_deref())
                .and_then(|url| check_external_url(url).ok()),
            data_dir: overrides
                .data_dir
                .clone()
                .or_else(|| self.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            tsdb,
            query: self.query_settings(overrides),
            tokens: self.auth.tokens.clone(),
            agents: self.agents_settings(),
            // Checked when the file was parsed; a default config has no overrides.
            prices: self.price_table().unwrap_or_default(),
            alertmanager_redacted: self
                .alertmanager_config()
                .ok()
                .flatten()
                .map(|c| c.original),
        }
    }
}

/// Every query limit must be positive: a zero timeout or sample budget
/// would fail every query, a zero concurrency would queue them forever.
fn check_query_section(query: &QueryConfig) -> Result<(), String> {
    let zero = [
        ("timeout", query.timeout.is_some_and(|d| d.0.is_zero())),
        ("max_samples", query.max_samples == Some(0)),
        (
            "lookback_delta",
            query.lookback_delta.is_some_and(|d| d.0.is_zero()),
        ),
        ("max_concurrency", query.max_concurrency == Some(0)),
    ];
    match zero.iter().find(|(_, is_zero)| *is_zero) {
        Some((name, _)) => Err(format!("query.{name} must be greater than zero")),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

/// Intervals must be positive (a zero interval would spin), and the
/// namespace must start a valid metric name.
fn check_agents_section(agents: &AgentsConfig) -> Result<(), String> {
    for (key, value) in [
        ("metrics_interval", agents.metrics_interval),
        ("session_timeout", agents.session_timeout),
    ] {
        if value.is_some_and(|d| d.0.is_zero()) {
            return Err(format!("agents.{key} must be greater than zero"));
        }
    }
    if let Some(namespace) = &agents.namespace {
        let valid = !namespace.is_empty()
            && namespace.bytes().enumerate().all(|(i, b)| {
                b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit())
            });
        if !valid {
            return Err(format!(
                "agents.namespace {namespace:?} is invalid: must match [a-zA-Z_][a-zA-Z0-9_]*"
            ));
        }
    }
    Ok(())
}
