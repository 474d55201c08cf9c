//! The `global` and `scrape_configs` sections, with prometheus.yml's keys
//! and meaning
//! (<https://prometheus.io/docs/prometheus/latest/configuration/configuration/>).
//!
//! [`GlobalConfig`] and [`ScrapeConfig`] are the YAML form (unknown keys are
//! errors); [`resolve_jobs`] validates them into [`ScrapeJob`]s with every
//! default filled in: job names unique, `scrape_timeout` at most
//! `scrape_interval`, scheme `http` or `https` (with `tls_config`),
//! credentials inline or from files (mutually exclusive as Prometheus's
//! `http_config` makes them, with its messages), `file_sd_configs` paths
//! checked, `body_size_limit` and `scrape_protocols` parsed, relabel rules
//! compiled. Relative file paths (`files`, `password_file`,
//! `credentials_file`, `bearer_token_file`, `ca_file`, `cert_file`,
//! `key_file`) are resolved against the config file's directory, as
//! Prometheus does.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentmon_model::{duration, size, validate_label_name};
use serde::{Deserialize, Deserializer};

use super::relabel::{compile_rules, RelabelConfig, RelabelRule};
use crate::IngestError;

/// A Prometheus duration string (`15s`, `1m30s`) in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YamlDuration(pub Duration);

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<YamlDuration, D::Error> {
        let text = String::deserialize(d)?;
        duration::parse(&text)
            .map(YamlDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// The `global` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    pub scrape_interval: Option<YamlDuration>,
    /// Default scrape timeout (10s, or the interval if shorter).
    pub scrape_timeout: Option<YamlDuration>,
    /// How often rule groups without their own `interval` run (1m).
    pub evaluation_interval: Option<YamlDuration>,
    /// Labels for data leaving agentmon (remote write, federation, alerts:
    /// not built yet). As in Prometheus they are not added to stored samples.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
}

/// One `static_configs` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `basic_auth` of a scrape config: `password` or `password_file`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    pub password_file: Option<String>,
}

/// `authorization` of a scrape config: sent as `Authorization: <type> <credentials>`,
/// the credentials inline or read from `credentials_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub credentials: String,
    pub credentials_file: Option<String>,
}

/// `tls_config` of a scrape config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
}

/// One `file_sd_configs` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    #[serde(default)]
    pub files: Vec<String>,
    pub refresh_interval: Option<YamlDuration>,
}

/// A byte size in YAML (`10MB`, powers of 1024 as Prometheus's
/// `body_size_limit` takes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct YamlBytes(pub u64);

impl<'de> Deserialize<'de> for YamlBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<YamlBytes, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(YamlBytes(n)),
            Raw::Text(text) => size::parse_bytes(&text)
                .map(YamlBytes)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// One `scrape_configs` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Option<YamlDuration>,
    pub scrape_timeout: Option<YamlDuration>,
    pub metrics_path: Option<String>,
    pub scheme: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default)]
    pub honor_labels: bool,
    pub honor_timestamps: Option<bool>,
    #[serde(default)]
    pub sample_limit: usize,
    #[serde(default)]
    pub label_limit: usize,
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    /// Prometheus's older spelling of `authorization: {credentials: ...}`.
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<String>,
    pub tls_config: Option<TlsConfig>,
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    pub body_size_limit: Option<YamlBytes>,
    pub scrape_protocols: Option<Vec<String>>,
    pub enable_compression: Option<bool>,
    #[serde(default)]
    pub target_limit: usize,
    #[serde(default)]
    pub label_name_length_limit: usize,
    #[serde(default)]
    pub label_value_length_limit: usize,
    #[serde(default)]
    pub keep_dropped_targets: usize,
    /// Accepted as Prometheus does; redirects are always followed (10 at most).
    pub follow_redirects: Option<bool>,
    /// Accepted as Prometheus does; the scrape client speaks HTTP/1.1 only.
    pub enable_http2: Option<bool>,
}

/// Where a secret comes from: written in the config, or a file read at
/// each scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    File(PathBuf),
}

impl Secret {
    /// The secret's text; a file's content without surrounding whitespace,
    /// as Prometheus trims it.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(text) => Ok(text.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|e| format!("unable to read credentials file {}: {e}", path.display())),
        }
    }
}

/// How a job authenticates its scrapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrapeAuth {
    Basic {
        username: String,
        password: Secret,
    },
    /// `Authorization: <kind> <credentials>`.
    Credentials {
        kind: String,
        credentials: Secret,
    },
}

impl ScrapeAuth {
    /// The `Authorization` header value, reading credential files now.
    pub fn header(&self) -> Result<String, String> {
        let header = match self {
            ScrapeAuth::Basic { username, password } => format!(
                "Basic {}",
                base64(format!("{username}:{}", password.read()?).as_bytes())
            ),
            ScrapeAuth::Credentials { kind, credentials } => {
                format!("{kind} {}", credentials.read()?)
            }
        };
        if header.chars().any(|c| c.is_control()) {
            return Err("credentials must not contain control characters".to_owned());
        }
        Ok(header)
    }
}

/// The oldest TLS version a job accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Prometheus's names (`TLS10` .. `TLS13`).
    pub fn parse(name: &str) -> Option<TlsVersion> {
        Some(match name {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }
}

/// A validated `tls_config`, paths resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    /// `None`: the default (TLS 1.2, as Prometheus).
    pub min_version: Option<TlsVersion>,
}

/// A validated `file_sd_configs` entry: patterns resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSd {
    pub files: Vec<PathBuf>,
    pub refresh_interval: Duration,
}

/// Prometheus's default `file_sd_configs.refresh_interval`.
pub const DEFAULT_FILE_SD_REFRESH: Duration = Duration::from_secs(300);

/// The exposition formats `scrape_protocols` names, with their media types.
pub const SCRAPE_PROTOCOLS: [(&str, &str); 4] = [
    (
        "PrometheusProto",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    ),
    ("PrometheusText0.0.4", "text/plain;version=0.0.4"),
    (
        "OpenMetricsText0.0.1",
        "application/openmetrics-text;version=0.0.1",
    ),
    (
        "OpenMetricsText1.0.0",
        "application/openmetrics-text;version=1.0.0",
    ),
];

/// Prometheus's default `scrape_protocols`.
pub const DEFAULT_SCRAPE_PROTOCOLS: [&str; 3] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText0.0.4",
];

/// The `Accept` header for `protocols` (valid names), as Prometheus builds
/// it: weights falling from `0.<n+1>` in list order, then `*/*`.
pub fn accept_header(protocols: &[String]) -> String {
    let mut weight = SCRAPE_PROTOCOLS.len() + 1;
    let mut parts = Vec::with_capacity(protocols.len() + 1);
    for name in protocols {
        if let Some((_, media)) = SCRAPE_PROTOCOLS.iter().find(|(n, _)| n == name) {
            parts.push(format!("{media};q=0.{weight}"));
            weight = weight.saturating_sub(1);
        }
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

/// A validated scrape job with every default applied.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    pub job_name: String,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub static_configs: Vec<StaticConfig>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// 0: no limit.
    pub sample_limit: usize,
    /// 0: no limit.
    pub label_limit: usize,
    pub relabel_rules: Vec<RelabelRule>,
    pub metric_relabel_rules: Vec<RelabelRule>,
    /// How scrapes authenticate, if they do.
    pub auth: Option<ScrapeAuth>,
    /// For `https` (and used whenever the job's targets use https).
    pub tls: TlsSettings,
    pub file_sd: Vec<FileSd>,
    /// Largest uncompressed body accepted; 0: no limit.
    pub body_size_limit: u64,
    /// `scrape_protocols`, validated, in order.
    pub scrape_protocols: Vec<String>,
    /// The `Accept` header built from `scrape_protocols`.
    pub accept_header: String,
    /// Send `Accept-Encoding: gzip` (and decode a gzip answer).
    pub enable_compression: bool,
    /// 0: no limit.
    pub target_limit: usize,
    /// 0: no limit.
    pub label_name_length_limit: usize,
    /// 0: no limit.
    pub label_value_length_limit: usize,
    /// How many dropped targets the API keeps for the job; 0: all.
    pub keep_dropped_targets: usize,
    /// The config as written, for `/api/v1/status/config`.
    pub source: ScrapeConfig,
}

impl ScrapeJob {
    /// The `Authorization` header for the next scrape (reading credential
    /// files now), if the job has credentials.
    pub fn authorization_header(&self) -> Result<Option<String>, String> {
        self.auth.as_ref().map(ScrapeAuth::header).transpose()
    }
}

/// `path` under `base` unless it is absolute.
fn resolve_path(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

/// Prometheus's check of a `file_sd_configs` path: a `*` only in the last
/// path element, and a `.json`, `.yml` or `.yaml` extension.
fn valid_file_sd_pattern(pattern: &str) -> bool {
    if let Some(star) = pattern.find('*') {
        if pattern[star..].contains('/') {
            return false;
        }
    }
    ["json", "yml", "yaml", "JSON", "YML", "YAML"]
        .iter()
        .any(|ext| pattern.strip_suffix(ext).is_some_and(|r| r.ends_with('.')))
}

/// Prometheus's default `global.scrape_interval`.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
/// Prometheus's default `global.scrape_timeout`.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

fn config_error(at: impl Into<String>, reason: impl Into<String>) -> IngestError {
    IngestError::ScrapeConfig {
        at: at.into(),
        reason: reason.into(),
    }
}

/// Validates `global` and `scrape_configs` into runnable jobs; relative
/// file paths are taken under `base_dir` (the config file's directory).
pub fn resolve_jobs(
    global: &GlobalConfig,
    configs: &[ScrapeConfig],
    base_dir: &Path,
) -> Result<Vec<ScrapeJob>, IngestError> {
    let global_interval = global
        .scrape_interval
        .map_or(DEFAULT_SCRAPE_INTERVAL, |d| d.0);
    if global_interval.is_zero() {
        return Err(config_error("global", "scrape_interval must be above 0"));
    }
    let global_timeout = match global.scrape_timeout {
        Some(t) if t.0 > global_interval => {
            return Err(config_error(
                "global",
                "scrape_timeout must not be longer than scrape_interval",
            ))
        }
        Some(t) => t.0,
        None => DEFAULT_SCRAPE_TIMEOUT.min(global_interval),
    };
    for (name, value) in &global.external_labels {
        validate_label_name(name)
            .map_err(|e| config_error("global.external_labels", e.to_string()))?;
        if name.starts_with("__") || value.is_empty() {
            return Err(config_error(
                "global.external_labels",
                format!("label {name:?}: names starting with __ and empty values are not allowed"),
            ));
        }
    }
    let mut names = HashSet::new();
    let mut jobs = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let at = format!("scrape_configs[{i}] (job {:?})", config.job_name);
        let err = |reason: String| config_error(at.clone(), reason);
        if config.job_name.is_empty() {
            return Err(err("job_name is required".to_owned()));
        }
        if !names.insert(config.job_name.clone()) {
            return Err(err(
                "job_name is used by an earlier scrape config: names must be unique".to_owned(),
            ));
        }
        let interval = config.scrape_interval.map_or(global_interval, |d| d.0);
        if interval.is_zero() {
            return Err(err("scrape_interval must be above 0".to_owned()));
        }
        let timeout = match config.scrape_timeout {
            Some(t) => t.0,
            None => global_timeout.min(interval),
        };
        if timeout.is_zero() || timeout > interval {
            return Err(err(format!(
                "scrape_timeout {} must be above 0 and at most scrape_interval {}",
                duration::format_millis(timeout.as_millis() as u64),
                duration::format_millis(interval.as_millis() as u64)
            )));
        }
        let scheme = config.scheme.clone().unwrap_or_else(|| "http".to_owned());
        match scheme.as_str() {
            "http" | "https" => {}
            other => {
                return Err(err(format!(
                    "scheme {other:?} is invalid: use http or https"
                )))
            }
        }
        let metrics_path = config
            .metrics_path
            .clone()
            .unwrap_or_else(|| "/metrics".to_owned());
        if !metrics_path.starts_with('/') {
            return Err(err(format!(
                "metrics_path {metrics_path:?} must start with '/'"
            )));
        }
        for (s, group) in config.static_configs.iter().enumerate() {
            for target in &group.targets {
                if target.is_empty() || target.contains('/') || target.contains(char::is_whitespace)
                {
                    return Err(err(format!(
                        "static_configs[{s}]: target {target:?} must be host:port, without scheme or path"
                    )));
                }
            }
            for name in group.labels.keys() {
                validate_label_name(name)
                    .map_err(|e| err(format!("static_configs[{s}].labels: {e}")))?;
            }
        }
        let auth = resolve_auth(config, base_dir).map_err(err)?;
        let tls = resolve_tls(config.tls_config.as_ref(), base_dir).map_err(err)?;
        let mut file_sd = Vec::with_capacity(config.file_sd_configs.len());
        for sd in &config.file_sd_configs {
            if sd.files.is_empty() {
                return Err(err(
                    "file service discovery config must contain at least one path name".to_owned(),
                ));
            }
            for pattern in &sd.files {
                if !valid_file_sd_pattern(pattern) {
                    return Err(err(format!(
                        "path name {pattern:?} is not valid for file discovery"
                    )));
                }
            }
            file_sd.push(FileSd {
                files: sd.files.iter().map(|f| resolve_path(base_dir, f)).collect(),
                refresh_interval: sd.refresh_interval.map_or(DEFAULT_FILE_SD_REFRESH, |d| d.0),
            });
        }
        let scrape_protocols = match &config.scrape_protocols {
            None => DEFAULT_SCRAPE_PROTOCOLS.map(str::to_owned).to_vec(),
            Some(list) => {
                if list.is_empty() {
                    return Err(err("scrape_protocols cannot be empty".to_owned()));
                }
                let mut seen = HashSet::new();
                for name in list {
                    if !SCRAPE_PROTOCOLS.iter().any(|(n, _)| n == name) {
                        let supported: Vec<&str> =
                            SCRAPE_PROTOCOLS.iter().map(|(n, _)| *n).collect();
                        return Err(err(format!(
                            "unknown scrape protocol {name}, supported: [{}]",
                            supported.join(" ")
                        )));
                    }
                    if name == "PrometheusProto" {
                        return Err(err(
                            "scrape protocol PrometheusProto is not supported: agentmon parses \
                             the text formats only (PrometheusText0.0.4, OpenMetricsText0.0.1, \
                             OpenMetricsText1.0.0)"
                                .to_owned(),
                        ));
                    }
                    if !seen.insert(name.as_str()) {
                        return Err(err(format!(
                            "duplicated protocol in scrape_protocols, got [{}]",
                            list.join(" ")
                        )));
                    }
                }
                list.clone()
            }
        };
        let compile = |rules: &[RelabelConfig], section: &str| {
            compile_rules(rules, section)
                .map_err(|(where_, reason)| config_error(format!("{at}: {where_}"), reason))
        };
        jobs.push(ScrapeJob {
            job_name: config.job_name.clone(),
            scrape_interval: interval,
            scrape_timeout: timeout,
            metrics_path,
            scheme,
            params: config.params.clone(),
            static_configs: config.static_configs.clone(),
            honor_labels: config.honor_labels,
            honor_timestamps: config.honor_timestamps.unwrap_or(true),
            sample_limit: config.sample_limit,
            label_limit: config.label_limit,
            relabel_rules: compile(&config.relabel_configs, "relabel_configs")?,
            metric_relabel_rules: compile(
                &config.metric_relabel_configs,
                "metric_relabel_configs",
            )?,
            auth,
            tls,
            file_sd,
            body_size_limit: config.body_size_limit.map_or(0, |b| b.0),
            accept_header: accept_header(&scrape_protocols),
            scrape_protocols,
            enable_compression: config.enable_compression.unwrap_or(true),
            target_limit: config.target_limit,
            label_name_length_limit: config.label_name_length_limit,
            label_value_length_limit: config.label_value_length_limit,
            keep_dropped_targets: config.keep_dropped_targets,
            source: config.clone(),
        });
    }
    Ok(jobs)
}

/// The job's credentials, checked as Prometheus's `http_config` checks them
/// (same messages).
fn resolve_auth(config: &ScrapeConfig, base_dir: &Path) -> Result<Option<ScrapeAuth>, String> {
    let bearer = config.bearer_token.as_deref().filter(|t| !t.is_empty());
    let bearer_file = config
        .bearer_token_file
        .as_deref()
        .filter(|t| !t.is_empty());
    if bearer.is_some() && bearer_file.is_some() {
        return Err(
            "at most one of bearer_token & bearer_token_file must be configured".to_owned(),
        );
    }
    if config.basic_auth.is_some() && (bearer.is_some() || bearer_file.is_some()) {
        return Err(
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                .to_owned(),
        );
    }
    if let Some(basic) = &config.basic_auth {
        if !basic.password.is_empty()
            && basic
                .password_file
                .as_deref()
                .is_some_and(|f| !f.is_empty())
        {
            return Err(
                "at most one of basic_auth password & password_file must be configured".to_owned(),
            );
        }
    }
    if let Some(auth) = &config.authorization {
        if bearer.is_some() || bearer_file.is_some() {
            return Err(
                "authorization is not compatible with bearer_token & bearer_token_file".to_owned(),
            );
        }
        if !auth.credentials.is_empty()
            && auth
                .credentials_file
                .as_deref()
                .is_some_and(|f| !f.is_empty())
        {
            return Err(
                "at most one of authorization credentials & credentials_file must be configured"
                    .to_owned(),
            );
        }
        if auth
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("basic"))
        {
            return Err(
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                    .to_owned(),
            );
        }
        if config.basic_auth.is_some() {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".to_owned(),
            );
        }
    }
    let file_or = |inline: &str, file: Option<&str>| match file.filter(|f| !f.is_empty()) {
        Some(path) => Secret::File(resolve_path(base_dir, path)),
        None => Secret::Inline(inline.to_owned()),
    };
    let auth = if let Some(basic) = &config.basic_auth {
        Some(ScrapeAuth::Basic {
            username: basic.username.clone(),
            password: file_or(&basic.password, basic.password_file.as_deref()),
        })
    } else if let Some(auth) = &config.authorization {
        let kind = auth
            .kind
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "Bearer".to_owned());
        let has_credentials = !auth.credentials.is_empty()
            || auth
                .credentials_file
                .as_deref()
                .is_some_and(|f| !f.is_empty());
        has_credentials.then(|| ScrapeAuth::Credentials {
            kind,
            credentials: file_or(&auth.credentials, auth.credentials_file.as_deref()),
        })
    } else if bearer.is_some() || bearer_file.is_some() {
        Some(ScrapeAuth::Credentials {
            kind: "Bearer".to_owned(),
            credentials: file_or(bearer.unwrap_or(""), bearer_file),
        })
    } else {
        None
    };
    if let Some(ScrapeAuth::Basic {
        username,
        password: Secret::Inline(password),
    }) = &auth
    {
        if username
            .chars()
            .chain(password.chars())
            .any(|c| c.is_control())
        {
            return Err("credentials must not contain control characters".to_owned());
        }
    }
    if let Some(ScrapeAuth::Credentials {
        kind,
        credentials: Secret::Inline(c),
    }) = &auth
    {
        if kind.chars().chain(c.chars()).any(|c| c.is_control()) {
            return Err("credentials must not contain control characters".to_owned());
        }
    }
    Ok(auth)
}

/// `tls_config` checked as Prometheus checks it (same messages).
fn resolve_tls(config: Option<&TlsConfig>, base_dir: &Path) -> Result<TlsSettings, String> {
    let Some(config) = config else {
        return Ok(TlsSettings::default());
    };
    let nonempty = |f: &Option<String>| f.clone().filter(|f| !f.is_empty());
    let (cert, key) = (nonempty(&config.cert_file), nonempty(&config.key_file));
    match (&cert, &key) {
        (Some(cert), None) => {
            return Err(format!(
                "client cert file {cert:?} specified without client key file"
            ))
        }
        (None, Some(key)) => {
            return Err(format!(
                "client key file {key:?} specified without client cert file"
            ))
        }
        _ => {}
    }
    let min_version = match config.min_version.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(name) => {
            Some(TlsVersion::parse(name).ok_or_else(|| format!("unknown TLS version: {name}"))?)
        }
    };
    Ok(TlsSettings {
        ca_file: nonempty(&config.ca_file).map(|f| resolve_path(base_dir, &f)),
        cert_file: cert.map(|f| resolve_path(base_dir, &f)),
        key_file: key.map(|f| resolve_path(base_dir, &f)),
        server_name: nonempty(&config.server_name),
        insecure_skip_verify: config.insecure_skip_verify,
        min_version,
    })
}

/// Standard base64 with padding, for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
