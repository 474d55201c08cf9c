//! Shared state of the HTTP app.
//!
//! The listener starts before the WAL replay ends, so the database is set
//! once, later, through [`AppState::set_db`]; until then data endpoints
//! answer 503 and `/health/ready` says why.
//!
//! The state also holds the PromQL engine behind its admission control
//! ([`QueryEngine`]) and what the status endpoints report about the running
//! server ([`ServerInfo`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use agentmon_agents::{AgentMetrics, AgentMetricsOptions, TraceSessions, DEFAULT_TRACE_CAPACITY};
use agentmon_probes::HealthMonitor;
use agentmon_promql::{Engine, EngineOptions};
use agentmon_sessions::SessionStore;

use crate::alert_rules::AlertRules;
use crate::alerting::{AlertSink, Alerting};
use crate::auth::Tokens;
use crate::config::QuerySettings;
use crate::decode::Limits;
use crate::engine::QueryEngine;
use crate::error::ApiError;
use crate::live::LiveHub;
use crate::metrics::HttpMetrics;
use crate::otlp_metrics::OtlpMetrics;
use crate::rules::Rules;
use crate::scrape::Scraping;
use crate::storage::Db;
use crate::webhooks::EventWebhooks;

/// Why data endpoints answer 503 before the database is set.
pub const NOT_READY_REASON: &str = "WAL replay in progress";

/// What the router shares between requests; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: OnceLock<Arc<Db>>,
    tokens: Tokens,
    limits: Limits,
    query_engine: QueryEngine,
    query_settings: QuerySettings,
    info: ServerInfo,
    http_metrics: HttpMetrics,
    otlp_metrics: OtlpMetrics,
    /// The session each recent trace's GenAI spans went to.
    trace_sessions: TraceSessions,
    started_at: SystemTime,
    agent_metrics: Arc<AgentMetrics>,
    sessions: OnceLock<Arc<SessionStore>>,
    live: LiveHub,
    scraping: OnceLock<Arc<Scraping>>,
    health: OnceLock<Arc<HealthMonitor>>,
    rules: OnceLock<Arc<Rules>>,
    alerting: OnceLock<Arc<Alerting>>,
    alert_rules: OnceLock<Arc<AlertRules>>,
    webhooks: OnceLock<Arc<EventWebhooks>>,
}

/// What `/api/v1/status/config` and `/api/v1/status/flags` report.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    /// The configuration in effect, as YAML.
    pub config_yaml: String,
    /// Every command-line flag of `serve` and its value (defaults included).
    pub flags: BTreeMap<String, String>,
    /// The retention in effect, as Prometheus words it (`15d`, or
    /// `15d or 50GiB` with a size limit).
    pub storage_retention: String,
}

impl AppState {
    /// A state without a database yet, with default query limits.
    pub fn new(tokens: Tokens, limits: Limits) -> AppState {
        AppState::with_query_settings(
            tokens,
            limits,
            QuerySettings::default(),
            ServerInfo::default(),
        )
    }

    /// A state without a database yet, with the given query limits and
    /// status information.
    pub fn with_query_settings(
        tokens: Tokens,
        limits: Limits,
        query_settings: QuerySettings,
        info: ServerInfo,
    ) -> AppState {
        AppState::with_agents(
            tokens,
            limits,
            query_settings,
            info,
            AgentMetricsOptions::default(),
        )
    }

    /// A state without a database yet, with everything configurable,
    /// including the derived agent metrics' namespace and session timeout.
    pub fn with_agents(
        tokens: Tokens,
        limits: Limits,
        query_settings: QuerySettings,
        info: ServerInfo,
        agent_options: AgentMetricsOptions,
    ) -> AppState {
        let engine = Engine::new(EngineOptions {
            lookback_delta: query_settings.lookback_delta,
            timeout: query_settings.timeout,
            max_samples: query_settings.max_samples,
            rollup_cache_values: query_settings.rollup_cache_values,
            ..EngineOptions::default()
        });
        AppState {
            inner: Arc::new(Inner {
                db: OnceLock::new(),
                tokens,
                limits,
                query_engine: QueryEngine::new(engine, query_settings.max_concurrency),
                query_settings,
                info,
                http_metrics: HttpMetrics::default(),
                otlp_metrics: OtlpMetrics::default(),
                trace_sessions: TraceSessions::new(
                    DEFAULT_TRACE_CAPACITY,
                    Duration::from_millis(agent_options.session_timeout_ms.max(0) as u64),
                ),
                started_at: SystemTime::now(),
                agent_metrics: Arc::new(AgentMetrics::new(agent_options)),
                sessions: OnceLock::new(),
                live: LiveHub::default(),
                scraping: OnceLock::new(),
                health: OnceLock::new(),
                rules: OnceLock::new(),
                alerting: OnceLock::new(),
                alert_rules: OnceLock::new(),
                webhooks: OnceLock::new(),
            }),
        }
    }

    /// Makes the database available to handlers; the server is ready from
    /// now on. Fails (returning the argument) if one was already set.
    pub fn set_db(&self, db: Arc<Db>) -> Result<(), Arc<Db>> {
        self.inner.db.set(db)
    }

    /// The database, or 503 while it is still opening.
    pub fn db(&self) -> Result<Arc<Db>, ApiError> {
        self.ready_db()
            .ok_or_else(|| ApiError::Unavailable(NOT_READY_REASON.to_owned()))
    }

    /// Sets the scraping that `/api/v1/targets` reports on and
    /// `POST /-/reload` reloads; later calls are ignored.
    pub fn set_scraping(&self, scraping: Arc<Scraping>) {
        let _ = self.inner.scraping.set(scraping);
    }

    /// Sets the health monitor behind `/api/v1/monitor/health*`; until
    /// then those endpoints answer 503. Later calls are ignored.
    pub fn set_health(&self, monitor: Arc<HealthMonitor>) {
        let _ = self.inner.health.set(monitor);
    }

    /// Sets the notification pipeline behind `/api/v2/*` and
    /// `/api/v1/monitor/notifications`; until then those endpoints
    /// answer 503. Later calls are ignored.
    pub fn set_alerting(&self, alerting: Arc<Alerting>) {
        let _ = self.inner.alerting.set(alerting);
    }

    /// The notification pipeline, if it is set.
    pub fn alerting(&self) -> Option<&Arc<Alerting>> {
        self.inner.alerting.get()
    }

    /// Sets the event webhooks behind `/api/v1/monitor/webhooks*`; until
    /// then those endpoints answer 503. Later calls are ignored.
    pub fn set_webhooks(&self, webhooks: Arc<EventWebhooks>) {
        let _ = self.inner.webhooks.set(webhooks);
    }

    /// The event webhooks, if they are set.
    pub fn webhooks(&self) -> Option<&Arc<EventWebhooks>> {
        self.inner.webhooks.get()
    }

    /// The delivery queue behind the delivery log: the event webhooks'
    /// (shared with the alert pipeline), else the alert pipeline's.
    pub fn delivery_queue(&self) -> Option<&agentmon_notify::deliver::DeliveryQueue> {
        self.webhooks()
            .map(|w| w.queue())
            .or_else(|| self.alerting().map(|a| a.queue()))
    }

    /// Where alerts go in (the rule evaluator's one line of wiring);
    /// `None` without an `alertmanager:` section.
    pub fn alert_sink(&self) -> Option<AlertSink> {
        self.alerting().map(|a| a.sink())
    }

    /// Reads the config file again and applies what can change while
    /// running: the scrape jobs, the `alertmanager` section and the rule
    /// files. A file that does not load or validate changes nothing; a
    /// broken rule file keeps the last good rules (as Prometheus does) and
    /// fails the reload; the error says why.
    pub async fn reload(&self) -> Result<serde_json::Value, String> {
        let scraping = self
            .scraping()
            .ok_or_else(|| "scraping is not set up".to_owned())?;
        let Some(path) = &scraping.config_path else {
            return Err("no configuration file to reload: start with --config".to_owned());
        };
        let config = crate::config::Config::load(path).map_err(|e| e.to_string())?;
        let alertmanager = config.alertmanager_config()?;
        // Templates are read before anything changes: a broken one fails
        // the reload whole.
        let templates = match (self.alerting(), &alertmanager) {
            (Some(alerting), Some(am)) => Some(alerting.load_templates(am)?),
            _ => None,
        };
        let jobs = config.scrape_jobs()?;
        let count = jobs.len();
        scraping.apply(&config, jobs).await;
        let alerting = match (self.alerting(), alertmanager) {
            (Some(alerting), Some(am)) => {
                if let Some(templates) = templates {
                    alerting.apply(am, templates);
                }
                "reloaded"
            }
            (Some(_), None) => {
                tracing::warn!("the alertmanager section was removed: the pipeline keeps its configuration until a restart");
                "unchanged: section removed, restart to stop the pipeline"
            }
            (None, Some(_)) => "unchanged: section added, restart to start the pipeline",
            (None, None) => "not configured",
        };
        tracing::info!(path = %path.display(), jobs = count, alertmanager = alerting, "configuration reloaded");
        let mut report = serde_json::json!({ "scrapeJobs": count, "alertmanager": alerting });
        if let Some(rules) = self.rules() {
            report["ruleGroups"] = rules.reload(&config).await?.into();
        }
        Ok(report)
    }

    /// Sets the API-made alert rules behind `/api/v1/monitor/alerts*`;
    /// until then those endpoints answer 503. Later calls are ignored.
    pub fn set_alert_rules(&self, rules: Arc<AlertRules>) {
        let _ = self.inner.alert_rules.set(rules);
    }

    /// The API-made alert rules, once they run.
    pub fn alert_rules(&self) -> Option<&Arc<AlertRules>> {
        self.inner.alert_rules.get()
    }

    /// The health monitor, if it is set.
    pub fn health(&self) -> Option<&Arc<HealthMonitor>> {
        self.inner.health.get()
    }

    /// Sets the rules behind `/api/v1/rules` and `/api/v1/alerts`, which
    /// `POST /-/reload` reloads; later calls are ignored.
    pub fn set_rules(&self, rules: Arc<Rules>) {
        let _ = self.inner.rules.set(rules);
    }

    /// The rules, once the database is open and they were set up.
    pub fn rules(&self) -> Option<&Arc<Rules>> {
        self.inner.rules.get()
    }

    /// A handle on the PromQL engine with the configured query limits
    /// (for rule evaluation, which bypasses the API's admission control).
    pub fn promql_engine(&self) -> Engine {
        self.inner.query_engine.engine().clone()
    }

    /// The scraping, if it was set up.
    pub fn scraping(&self) -> Option<&Arc<Scraping>> {
        self.inner.scraping.get()
    }

    /// The database if it is set.
    pub fn ready_db(&self) -> Option<Arc<Db>> {
        self.inner.db.get().cloned()
    }

    /// Makes the session store available; until then the session
    /// endpoints answer 503 and accepted events are not kept per session.
    /// Fails (returning the argument) if one was already set.
    pub fn set_sessions(&self, store: Arc<SessionStore>) -> Result<(), Arc<SessionStore>> {
        self.inner.sessions.set(store)
    }

    /// The session store, if it is set.
    pub fn session_store(&self) -> Option<Arc<SessionStore>> {
        self.inner.sessions.get().cloned()
    }

    /// The configured API tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// The registry of metrics derived from agent events.
    pub fn agent_metrics(&self) -> &Arc<AgentMetrics> {
        &self.inner.agent_metrics
    }

    /// The live stream's hub, which accepted agent events are published to.
    pub fn live(&self) -> &LiveHub {
        &self.inner.live
    }

    /// Ingest limits (body sizes, series counts).
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The PromQL engine and its admission control.
    pub(crate) fn query_engine(&self) -> &QueryEngine {
        &self.inner.query_engine
    }

    /// The query limits in effect.
    pub fn query_settings(&self) -> &QuerySettings {
        &self.inner.query_settings
    }

    /// What the status endpoints report.
    pub fn server_info(&self) -> &ServerInfo {
        &self.inner.info
    }

    pub(crate) fn http_metrics(&self) -> &HttpMetrics {
        &self.inner.http_metrics
    }

    /// Counts of OTLP data points received and refused.
    pub(crate) fn otlp_metrics(&self) -> &OtlpMetrics {
        &self.inner.otlp_metrics
    }

    /// The session each recent trace's GenAI spans went to, so that a run
    /// exported over several requests stays one session.
    pub(crate) fn trace_sessions(&self) -> &TraceSessions {
        &self.inner.trace_sessions
    }

    /// When this state (and so the server) was created.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started_at
    }
}
