//! The configuration in effect, written back as YAML for
//! `/api/v1/status/config`. The keys are those of `agentmon.yml`, with
//! every value resolved (flags, file, defaults); token secrets are replaced
//! by `<secret>`, as Prometheus hides secrets in its config endpoint.

use std::time::Duration;

use agentmon_model::duration::format_millis;
use agentmon_tsdb::WalFsync;
use serde::Serialize;

use crate::config::Settings;

#[derive(Serialize)]
struct View<'a> {
    listen: &'a str,
    data_dir: String,
    storage: StorageView,
    query: QueryView,
    auth: AuthView<'a>,
    agents: AgentsView<'a>,
    /// The `pricing:` overrides only; the whole table is `/api/v1/pricing`.
    pricing: std::collections::BTreeMap<&'a str, PriceView>,
    /// alertmanager.yml's schema, secrets shown as `<secret>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    alertmanager: Option<serde_yaml::Value>,
}

#[derive(Serialize)]
struct PriceView {
    input: f64,
    output: f64,
}

#[derive(Serialize)]
struct AgentsView<'a> {
    metrics_interval: String,
    session_timeout: String,
    namespace: &'a str,
}

#[derive(Serialize)]
struct StorageView {
    retention_time: String,
    retention_size: u64,
    wal_fsync: String,
    wal_segment_size: u64,
    out_of_order_window: String,
    head_block_duration: String,
}

#[derive(Serialize)]
struct QueryView {
    timeout: String,
    max_samples: usize,
    lookback_delta: String,
    max_concurrency: usize,
    rollup_cache_values: usize,
}

#[derive(Serialize)]
struct AuthView<'a> {
    tokens: Vec<TokenView<'a>>,
}

#[derive(Serialize)]
struct TokenView<'a> {
    name: &'a str,
    token: &'static str,
    role: &'static str,
}

fn duration(d: Duration) -> String {
    format_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Settings {
    /// The settings as `agentmon.yml` would spell them, secrets hidden.
    pub fn to_yaml(&self) -> String {
        let tsdb = &self.tsdb;
        let view = View {
            listen: &self.listen,
            data_dir: self.data_dir.display().to_string(),
            storage: StorageView {
                retention_time: duration(tsdb.retention_time),
                retention_size: tsdb.retention_size.unwrap_or(0),
                wal_fsync: match tsdb.wal_fsync {
                    WalFsync::Always => "always".to_owned(),
                    WalFsync::Interval(d) => duration(d),
                },
                wal_segment_size: tsdb.wal_segment_size,
                out_of_order_window: duration(tsdb.out_of_order_window),
                head_block_duration: duration(tsdb.head_block_duration),
            },
            query: QueryView {
                timeout: duration(self.query.timeout),
                max_samples: self.query.max_samples,
                lookback_delta: duration(self.query.lookback_delta),
                max_concurrency: self.query.max_concurrency,
                rollup_cache_values: self.query.rollup_cache_values,
            },
            auth: AuthView {
                tokens: self
                    .tokens
                    .iter()
                    .map(|t| TokenView {
                        name: &t.name,
                        token: "<secret>",
                        role: t.role.as_str(),
                    })
                    .collect(),
            },
            agents: AgentsView {
                metrics_interval: duration(self.agents.metrics_interval),
                session_timeout: duration(self.agents.session_timeout),
                namespace: &self.agents.namespace,
            },
            pricing: self
                .prices
                .entries()
                .filter(|(_, price)| price.source == agentmon_agents::PriceSource::Config)
                .map(|(model, price)| {
                    let view = PriceView {
                        input: price.input_usd_per_million,
                        output: price.output_usd_per_million,
                    };
                    (model, view)
                })
                .collect(),
            alertmanager: self
                .alertmanager_redacted
                .as_deref()
                .and_then(|text| serde_yaml::from_str(text).ok()),
        };
        serde_yaml::to_string(&view).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// The retention as Prometheus's runtime info words it: `15d`, or
    /// `15d or 50GiB`-style with a size limit (here in bytes).
    pub fn retention_description(&self) -> String {
        let time = duration(self.tsdb.retention_time);
        match self.tsdb.retention_size {
            Some(bytes) => format!("{time} or {bytes}B"),
            None => time,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, Overrides};

    #[test]
    fn yaml_reads_back_as_a_config_and_hides_tokens() {
        let text = "storage:\n  retention_time: 30d\nquery:\n  max_samples: 1000\nauth:\n  tokens:\n    - {name: grafana, token: \"read-token-1\", role: read}\n";
        let config = Config::parse(text, Path::new("agentmon.yml")).unwrap();
        let settings = config.resolve(&Overrides::default());
        let yaml = settings.to_yaml();
        assert!(!yaml.contains("read-token-1"), "{yaml}");
        assert!(yaml.contains("token: <secret>"), "{yaml}");
        assert!(yaml.contains("retention_time: 30d"), "{yaml}");
        assert!(yaml.contains("max_samples: 1000"), "{yaml}");
        assert_eq!(settings.retention_description(), "30d");
    }

    #[test]
    fn alertmanager_secrets_are_hidden() {
        let text = "alertmanager:\n  route: {receiver: hook}\n  receivers:\n    - name: hook\n      webhook_configs: [{url: 'http://127.0.0.1:9/hook?token=s3cr3t'}]\n";
        let config = Config::parse(text, Path::new("agentmon.yml")).unwrap();
        let yaml = config.resolve(&Overrides::default()).to_yaml();
        assert!(!yaml.contains("s3cr3t"), "{yaml}");
        assert!(yaml.contains("url: <secret>"), "{yaml}");
        assert!(yaml.contains("receiver: hook"), "{yaml}");
        let broken = "alertmanager:\n  route: {receiver: nobody}\n  receivers: [{name: hook}]\n";
        let error = Config::parse(broken, Path::new("agentmon.yml")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("undefined receiver \"nobody\" used in route"),
            "{error}"
        );
    }
}
