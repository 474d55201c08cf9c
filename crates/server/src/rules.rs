//! The server's side of rules: a [`RuleManager`] evaluating the config
//! file's `rule_files` against the database, with `global.evaluation_interval`
//! and `global.external_labels`, and reloading them on SIGHUP and
//! `POST /-/reload`.
//!
//! Queries go through the same PromQL engine (and limits) as the query
//! API, rule output and `ALERTS` are appended to the database, and alerts
//! leave through the [`AlertSender`] `serve` hands in. A reload re-reads
//! `rule_files` from the config file; a broken rule file keeps the last good
//! rules and the reload answers the error. Changing
//! `global.evaluation_interval` or `global.external_labels` needs a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentmon_promql::Engine;
use agentmon_rules::{
    AlertSender, EngineQueryFunc, RuleContext, RuleManager, SeriesReader, TsdbAppender,
};

use crate::config::Config;
use crate::storage::Db;

/// Prometheus's default `global.evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

/// What rules take from the configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// `rule_files` globs; relative ones are under `base_dir`.
    pub patterns: Vec<String>,
    /// The config file's directory (`None`: the working directory).
    pub base_dir: Option<PathBuf>,
    /// `global.evaluation_interval` (1m by default).
    pub evaluation_interval: Duration,
    /// `global.external_labels` (`$externalLabels` in templates).
    pub external_labels: BTreeMap<String, String>,
}

impl RuleSettings {
    /// The rule settings of `config`, read from `config_path` (if any).
    pub fn from_config(
        config: &Config,
        config_path: Option<&Path>,
    ) -> Result<RuleSettings, String> {
        let evaluation_interval = config
            .global
            .evaluation_interval
            .map_or(DEFAULT_EVALUATION_INTERVAL, |d| d.0);
        if evaluation_interval.is_zero() {
            return Err("global.evaluation_interval must be greater than 0".to_owned());
        }
        Ok(RuleSettings {
            patterns: config.rule_files.clone(),
            base_dir: config_path.map(base_dir),
            evaluation_interval,
            external_labels: config.global.external_labels.clone(),
        })
    }
}

/// The directory relative `rule_files` are resolved in: the config file's.
fn base_dir(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The running rules and the file they came from.
pub struct Rules {
    /// Evaluates the groups; its discovery and metrics feed the API.
    pub manager: Arc<RuleManager>,
    /// Re-read on reload; `None` when the server runs without a config file.
    pub config_path: Option<PathBuf>,
}

impl Rules {
    /// A manager over `db` with `engine`, its alerts sent to `alert_sink`;
    /// no rules are loaded yet ([`Rules::load`]).
    pub fn new(
        db: Arc<Db>,
        engine: Engine,
        settings: &RuleSettings,
        external_url: String,
        alert_sink: Arc<dyn AlertSender>,
        config_path: Option<PathBuf>,
    ) -> Rules {
        let query = Arc::new(EngineQueryFunc::new(engine, db.clone()));
        let appender = Arc::new(TsdbAppender(db.clone()));
        let mut ctx = RuleContext::new(query, appender, alert_sink);
        let series: Arc<SeriesReader> = db;
        ctx.series = Some(series);
        ctx.evaluation_interval = settings.evaluation_interval;
        ctx.external_labels = settings.external_labels.clone();
        ctx.external_url = external_url;
        Rules {
            manager: Arc::new(RuleManager::new(ctx)),
            config_path,
        }
    }

    /// Loads and runs the rule files `settings` names; returns the number
    /// of groups running. On error the running rules stay as they were.
    pub async fn load(&self, settings: &RuleSettings) -> Result<usize, String> {
        self.manager
            .update(&settings.patterns, settings.base_dir.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        Ok(self.manager.groups().len())
    }

    /// Runs the `rule_files` of `config`, the config file read again by
    /// a reload; returns the number of groups. A broken rule file changes
    /// nothing.
    pub async fn reload(&self, config: &Config) -> Result<usize, String> {
        let Some(path) = &self.config_path else {
            return Err("no configuration file to reload: start with --config".to_owned());
        };
        let settings = RuleSettings::from_config(config, Some(path))?;
        let groups = self.load(&settings).await?;
        tracing::info!(path = %path.display(), groups, "rule files reloaded");
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_resolve_relative_to_the_config_file() {
        let config = Config::parse(
            "rule_files: [rules/*.yml]\nglobal:\n  evaluation_interval: 15s\n  external_labels: {dc: eu}\n",
            Path::new("x.yml"),
        )
        .unwrap();
        let settings =
            RuleSettings::from_config(&config, Some(Path::new("conf/agentmon.yml"))).unwrap();
        assert_eq!(settings.patterns, vec!["rules/*.yml".to_owned()]);
        assert_eq!(settings.base_dir, Some(PathBuf::from("conf")));
        assert_eq!(settings.evaluation_interval, Duration::from_secs(15));
        assert_eq!(
            settings.external_labels.get("dc").map(String::as_str),
            Some("eu")
        );

        let settings =
            RuleSettings::from_config(&Config::default(), Some(Path::new("agentmon.yml"))).unwrap();
        assert_eq!(settings.evaluation_interval, DEFAULT_EVALUATION_INTERVAL);
        assert_eq!(settings.base_dir, Some(PathBuf::from(".")));
        assert!(settings.patterns.is_empty());
    }

    #[test]
    fn zero_interval_is_refused() {
        let config =
            Config::parse("global:\n  evaluation_interval: 0s\n", Path::new("x.yml")).unwrap();
        let err = RuleSettings::from_config(&config, None).unwrap_err();
        assert!(err.contains("evaluation_interval"), "{err}");
    }
}
