//! Health check targets: the specification as written by a user and the
//! validated [`HealthTarget`].

use std::time::Duration;

use agentmon_model::duration;
use serde::{Deserialize, Serialize};

use crate::error::ProbeError;

/// Probe period when none is given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Probe timeout when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Status that counts as up when none is given.
pub const DEFAULT_EXPECTED_STATUS: u16 = 200;
/// Longest accepted service name.
const MAX_NAME_LEN: usize = 128;
/// Shortest accepted interval, so that a typo cannot flood a service.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A target as written in `health_checks:` or a `POST` body. Durations are
/// a Prometheus duration (`"30s"`) or a whole number of seconds (`30`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub service_name: String,
    pub endpoint: String,
    pub interval: Option<DurationSpec>,
    pub timeout: Option<DurationSpec>,
    pub expected_status: Option<u16>,
}

/// A duration as text or as whole seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationSpec {
    Seconds(u64),
    Text(String),
}

impl DurationSpec {
    fn resolve(&self, field: &str) -> Result<Duration, ProbeError> {
        match self {
            DurationSpec::Seconds(n) => Ok(Duration::from_secs(*n)),
            DurationSpec::Text(text) => duration::parse(text)
                .map_err(|e| ProbeError::InvalidTarget(format!("{field}: {e}"))),
        }
    }
}

/// Where a target came from; config-file targets cannot be deleted through
/// the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetOrigin {
    Config,
    Api,
}

/// A validated target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTarget {
    pub service_name: String,
    pub endpoint: reqwest::Url,
    pub interval: Duration,
    pub timeout: Duration,
    pub expected_status: u16,
    pub origin: TargetOrigin,
}

impl TargetSpec {
    /// Checks every field and applies the defaults.
    pub fn validate(&self, origin: TargetOrigin) -> Result<HealthTarget, ProbeError> {
        let invalid = |message: String| ProbeError::InvalidTarget(message);
        validate_service_name(&self.service_name)?;
        let endpoint = reqwest::Url::parse(&self.endpoint)
            .map_err(|e| invalid(format!("endpoint {:?}: {e}", self.endpoint)))?;
        if endpoint.scheme() != "http" {
            return Err(invalid(format!(
                "endpoint {:?}: scheme must be http (https is not supported by this build)",
                self.endpoint
            )));
        }
        let interval = match &self.interval {
            Some(spec) => spec.resolve("interval")?,
            None => DEFAULT_INTERVAL,
        };
        if interval < MIN_INTERVAL {
            return Err(invalid(format!(
                "interval {} is shorter than the minimum of 1s",
                duration::format_millis(interval.as_millis() as u64)
            )));
        }
        let timeout = match &self.timeout {
            Some(spec) => spec.resolve("timeout")?,
            None => DEFAULT_TIMEOUT.min(interval),
        };
        if timeout.is_zero() {
            return Err(invalid("timeout must be greater than 0".to_owned()));
        }
        if timeout > interval {
            return Err(invalid(format!(
                "timeout {} is longer than the interval {}",
                duration::format_millis(timeout.as_millis() as u64),
                duration::format_millis(interval.as_millis() as u64)
            )));
        }
        let expected_status = self.expected_status.unwrap_or(DEFAULT_EXPECTED_STATUS);
        if !(100..=599).contains(&expected_status) {
            return Err(invalid(format!(
                "expected_status {expected_status} is not an HTTP status (100-599)"
            )));
        }
        Ok(HealthTarget {
            service_name: self.service_name.clone(),
            endpoint,
            interval,
            timeout,
            expected_status,
            origin,
        })
    }
}

/// A service name is also a label value and a URL path segment: 1 to 128
/// characters of `[A-Za-z0-9_.-]`, and not `targets`, which
/// `/api/v1/monitor/health/targets` would shadow.
pub fn validate_service_name(name: &str) -> Result<(), ProbeError> {
    if name == "targets" {
        return Err(ProbeError::InvalidTarget(
            "service_name \"targets\" is reserved: /api/v1/monitor/health/targets lists the targets"
                .to_owned(),
        ));
    }
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(ProbeError::InvalidTarget(format!(
            "service_name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(ProbeError::InvalidTarget(format!(
            "service_name {name:?} has the character {bad:?}: use letters, digits, '_', '-' and '.'"
        )));
    }
    Ok(())
}

impl HealthTarget {
    /// The specification this target was made from, with every default
    /// written out (what the store keeps).
    pub fn spec(&self) -> TargetSpec {
        TargetSpec {
            service_name: self.service_name.clone(),
            endpoint: self.endpoint.to_string(),
            interval: Some(DurationSpec::Text(duration::format_millis(
                self.interval.as_millis() as u64,
            ))),
            timeout: Some(DurationSpec::Text(duration::format_millis(
                self.timeout.as_millis() as u64,
            ))),
            expected_status: Some(self.expected_status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(endpoint: &str) -> TargetSpec {
        TargetSpec {
            service_name: "api".to_owned(),
            endpoint: endpoint.to_owned(),
            interval: None,
            timeout: None,
            expected_status: None,
        }
    }

    fn error(spec: &TargetSpec) -> String {
        spec.validate(TargetOrigin::Api).unwrap_err().to_string()
    }

    #[test]
    fn defaults_apply() {
        let target = spec("http://127.0.0.1:9/health")
            .validate(TargetOrigin::Config)
            .unwrap();
        assert_eq!(target.interval, Duration::from_secs(30));
        assert_eq!(target.timeout, Duration::from_secs(5));
        assert_eq!(target.expected_status, 200);
        assert_eq!(target.origin, TargetOrigin::Config);
    }

    #[test]
    fn durations_as_text_or_seconds() {
        let mut s = spec("http://127.0.0.1:9/");
        s.interval = Some(DurationSpec::Seconds(60));
        s.timeout = Some(DurationSpec::Text("1500ms".to_owned()));
        let target = s.validate(TargetOrigin::Api).unwrap();
        assert_eq!(target.interval, Duration::from_secs(60));
        assert_eq!(target.timeout, Duration::from_millis(1500));
        // A short interval without a timeout gets a timeout that fits.
        let mut s = spec("http://127.0.0.1:9/");
        s.interval = Some(DurationSpec::Text("2s".to_owned()));
        assert_eq!(
            s.validate(TargetOrigin::Api).unwrap().timeout,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(error(&spec("not a url")).contains("endpoint"));
        assert!(error(&spec("ftp://host/")).contains("scheme must be http"));
        assert!(error(&spec("https://host/")).contains("scheme must be http"));
        let mut s = spec("http://h/");
        s.service_name = "a b".to_owned();
        assert!(error(&s).contains("character ' '"));
        s.service_name = String::new();
        assert!(error(&s).contains("1 to 128"));
        s.service_name = "targets".to_owned();
        assert!(error(&s).contains("reserved"));
        let mut s = spec("http://h/");
        s.timeout = Some(DurationSpec::Text("40s".to_owned()));
        assert!(error(&s).contains("longer than the interval"));
        s.timeout = Some(DurationSpec::Seconds(0));
        assert!(error(&s).contains("greater than 0"));
        s.timeout = Some(DurationSpec::Text("5 seconds".to_owned()));
        assert!(error(&s).contains("timeout"));
        let mut s = spec("http://h/");
        s.interval = Some(DurationSpec::Text("500ms".to_owned()));
        assert!(error(&s).contains("minimum"));
        let mut s = spec("http://h/");
        s.expected_status = Some(99);
        assert!(error(&s).contains("expected_status 99"));
    }

    #[test]
    fn spec_round_trips() {
        let mut s = spec("http://127.0.0.1:9/health");
        s.interval = Some(DurationSpec::Seconds(90));
        s.expected_status = Some(204);
        let target = s.validate(TargetOrigin::Api).unwrap();
        assert_eq!(target.spec().validate(TargetOrigin::Api).unwrap(), target);
    }
}
