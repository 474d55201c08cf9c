//! The `global` and `scrape_configs` sections, with prometheus.yml's keys
//! and meaning
//! (<https://prometheus.io/docs/prometheus/latest/configuration/configuration/>).
//!
//! [`GlobalConfig`] and [`ScrapeConfig`] are the YAML form (unknown keys are
//! errors); [`resolve_jobs`] validates them into [`ScrapeJob`]s with every
//! default filled in: job names unique, `scrape_timeout` at most
//! `scrape_interval`, scheme `http` (no TLS client is built in, so `https`
//! is refused), relabel rules compiled.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use agentmon_model::{duration, validate_label_name};
use serde::{Deserialize, Deserializer};

use super::relabel::{compile_rules, RelabelConfig, RelabelRule};
use crate::IngestError;

/// A Prometheus duration string (`15s`, `1m30s`) in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// `basic_auth` of a scrape config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password: String,
}

/// `authorization` of a scrape config: sent as `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub credentials: String,
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
    /// The `Authorization` header value to send, if any.
    pub authorization_header: Option<String>,
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

/// Validates `global` and `scrape_configs` into runnable jobs.
pub fn resolve_jobs(
    global: &GlobalConfig,
    configs: &[ScrapeConfig],
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
            "http" => {}
            "https" => {
                return Err(err(
                    "scheme https is not supported: agentmon is built without a TLS client; \
                     scrape over http or through a local TLS-terminating proxy"
                        .to_owned(),
                ))
            }
            other => return Err(err(format!("scheme {other:?} is invalid: use http"))),
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
        let authorization_header = match (&config.basic_auth, &config.authorization) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "basic_auth and authorization are mutually exclusive".to_owned()
                ))
            }
            (Some(basic), None) => Some(format!(
                "Basic {}",
                base64(format!("{}:{}", basic.username, basic.password).as_bytes())
            )),
            (None, Some(auth)) => {
                let kind = auth.kind.clone().unwrap_or_else(|| "Bearer".to_owned());
                if kind.eq_ignore_ascii_case("basic") {
                    return Err(err(
                        "authorization type Basic is not allowed: use basic_auth".to_owned(),
                    ));
                }
                Some(format!("{kind} {}", auth.credentials))
            }
            (None, None) => None,
        };
        if let Some(header) = &authorization_header {
            if header.chars().any(|c| c.is_control()) {
                return Err(err(
                    "credentials must not contain control characters".to_owned()
                ));
            }
        }
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
            authorization_header,
        });
    }
    Ok(jobs)
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
