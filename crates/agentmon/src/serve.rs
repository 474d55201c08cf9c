//! `agentmon serve`: loads the configuration, binds the listener, opens the
//! database in the background and serves until SIGINT or SIGTERM.
//!
//! The listener is bound before the WAL replay starts, so `/health/live`
//! answers at once and `/health/ready` reports "WAL replay in progress"
//! until the database is set in the shared state. On a signal the server
//! stops accepting connections, lets in-flight requests finish, then closes
//! the database (final WAL fsync) and exits 0. A background task writes the
//! metrics derived from agent events into the database every
//! `agents.metrics_interval`. The session store (`agentmon.sqlite` in the
//! data directory) opens after the database; a task deletes sessions older
//! than the storage retention time every ten minutes. Health checks (the
//! config file's `health_checks` and the targets stored in
//! `health_targets.sqlite`) start once the database is open; their probe
//! tasks stop before it closes. Rules (`rule_files`) start once the
//! database is open, evaluate every `global.evaluation_interval`, reload
//! with the scrape configuration (SIGHUP, `POST /-/reload`) and stop before
//! the database closes; their alerts go to the notification pipeline, if
//! there is one. With an `alertmanager:` section the notification pipeline ([`Alerting`]: silences, notification log and
//! delivery queue in the data directory) opens before the listener
//! serves; on shutdown its flush task stops and the deliveries under way
//! finish after the last request and before the databases close. The
//! delivery queue (`notifications.sqlite`) and the event webhooks
//! (`webhooks.sqlite`) open before the listener serves, whether or not
//! there is an `alertmanager:` section; the queue and its one dispatcher
//! are shared by both, and on shutdown the webhook task queues the events
//! already reported (scrape loops and probes stop first) before the
//! dispatcher stops. SIGHUP
//! and `POST /-/reload` reload the scrape jobs, the `alertmanager:`
//! section and the rule files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use agentmon_agents::AgentMetricsOptions;
use agentmon_ingest::scrape::ScrapeManager;
use agentmon_model::Alert;
use agentmon_notify::deliver::{DeliveryQueue, QueueOptions};
use agentmon_probes::{HealthMonitor, HealthTarget, TargetStore};
use agentmon_rules::AlertSender;
use agentmon_server::auth::Tokens;
use agentmon_server::config::{default_external_url, Config, Settings};
use agentmon_server::{
    router, run_agent_metrics_writer, run_session_retention, AlertRules, Alerting, AppState, Db,
    DbAppender, DbProbeWriter, EventWebhooks, HealthChangesToWebhooks, Limits, RuleSettings, Rules,
    Scraping, ServerInfo,
};
use agentmon_sessions::SessionStore;
use anyhow::{bail, Context, Result};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::cli::ServeArgs;

/// The configuration file read when `--config` is not given, if it exists.
const DEFAULT_CONFIG_FILE: &str = "agentmon.yml";

/// Runs the server to completion on a multi-threaded runtime.
pub fn run(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("agentmon-worker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = load_config(args.config.as_deref())?;
    for section in config.unsupported_sections() {
        tracing::warn!(section, "config section not supported yet, ignored");
    }
    let settings = config.resolve(&args.overrides());

    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    if settings.tokens.is_empty() && !address.ip().is_loopback() && !args.insecure {
        bail!(
            "refusing to listen on {address} without authentication: anyone who can reach it could read and \
             write all data. Configure auth.tokens in the config file, listen on a loopback address \
             (e.g. --listen 127.0.0.1:8080), or pass --insecure to accept the risk"
        );
    }
    if settings.tokens.is_empty() {
        tracing::warn!(%address, "no auth tokens configured: the API is open to every local user");
    }

    let state = AppState::with_agents(
        Tokens::new(settings.tokens.clone()),
        Limits::default(),
        settings.query,
        ServerInfo {
            config_yaml: settings.to_yaml(),
            flags: args.flag_values(&settings),
            storage_retention: settings.retention_description(),
        },
        AgentMetricsOptions {
            namespace: settings.agents.namespace.clone(),
            session_timeout_ms: i64::try_from(settings.agents.session_timeout.as_millis())
                .unwrap_or(i64::MAX),
            prices: settings.prices.clone(),
        },
    );
    let scrape_manager = Arc::new(ScrapeManager::new(
        Arc::new(DbAppender::new(state.clone())),
        Limits::default(),
    ));
    let scraping = Arc::new(Scraping::new(
        scrape_manager.clone(),
        config_path(args.config.as_deref()),
    ));
    state.set_scraping(scraping.clone());
    let external_url = settings
        .external_url
        .clone()
        .unwrap_or_else(|| default_external_url(address));
    // One delivery queue (notifications.sqlite) for the alert pipeline and
    // the event webhooks, with one dispatcher.
    let (queue, webhooks) = {
        let data_dir = settings.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            let queue = DeliveryQueue::open_in(&data_dir, QueueOptions::default())
                .context("cannot open the delivery queue")?;
            let webhooks = EventWebhooks::open(&data_dir, queue.clone())
                .map_err(anyhow::Error::msg)
                .context("cannot open the event webhooks")?;
            Ok::<_, anyhow::Error>((queue, Arc::new(webhooks)))
        })
        .await
        .context("delivery queue open task failed")??
    };
    let deliveries = queue.start();
    state.set_webhooks(webhooks.clone());
    let (stop_webhooks, webhooks_stopped) = watch::channel(false);
    let webhook_task = tokio::spawn(webhooks.clone().run(state.clone(), webhooks_stopped));
    let alerting_tasks = match config.alertmanager_config().map_err(anyhow::Error::msg)? {
        Some(alertmanager) => {
            let data_dir = settings.data_dir.clone();
            // Relative `templates:` globs are read from the config file's
            // directory, as Alertmanager does.
            let config_dir = config_path(args.config.as_deref())
                .and_then(|path| path.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            let external_url = external_url.clone();
            let shared_queue = queue.clone();
            let alerting = tokio::task::spawn_blocking(move || {
                Alerting::open_with_queue(
                    &data_dir,
                    &config_dir,
                    alertmanager,
                    &external_url,
                    shared_queue,
                )
            })
            .await
            .context("notification pipeline open task failed")?
            .context("cannot open the notification pipeline")?;
            let alerting = Arc::new(alerting);
            // Each notification is also an `alert` event for the webhooks.
            let alert_events = webhooks.clone();
            alerting.on_notification(Arc::new(move |notification| {
                alert_events.emit_alert(notification)
            }));
            state.set_alerting(alerting.clone());
            tracing::info!("notification pipeline started");
            Some(alerting.start())
        }
        None => None,
    };
    #[cfg(unix)]
    let reloader = tokio::spawn(reload_on_sighup(state.clone()));
    scraping
        .apply(&config, config.scrape_jobs().map_err(anyhow::Error::msg)?)
        .await;
    let (failed_tx, failed_rx) = oneshot::channel::<()>();
    let health_targets = config.health_targets().map_err(anyhow::Error::msg)?;
    let rules = RulesSetup {
        settings: RuleSettings::from_config(
            &config,
            config_path(args.config.as_deref()).as_deref(),
        )
        .map_err(anyhow::Error::msg)?,
        config_path: config_path(args.config.as_deref()),
        external_url: external_url.clone(),
        // Alerts leaving the rules go to the notification pipeline.
        alert_sink: match state.alert_sink() {
            Some(sink) => Arc::new(move |alerts: &[Alert]| sink.send(alerts)),
            None => Arc::new(log_alerts),
        },
    };
    let opener = tokio::spawn(open_database(
        state.clone(),
        settings.clone(),
        health_targets,
        rules,
        failed_tx,
    ));
    let (stop_writer, writer_stopped) = oneshot::channel::<()>();
    let agent_writer = tokio::spawn(run_agent_metrics_writer(
        state.clone(),
        settings.agents.metrics_interval,
        writer_stopped,
    ));
    let (stop_retention, retention_stopped) = oneshot::channel::<()>();
    let session_retention = tokio::spawn(run_session_retention(
        state.clone(),
        settings.tsdb.retention_time,
        retention_stopped,
    ));
    tracing::info!(%address, data_dir = %settings.data_dir.display(), "listening");

    let live = state.live().clone();
    let stop = async move {
        tokio::select! {
            signal = shutdown_signal() => tracing::info!(signal, "shutting down: finishing in-flight requests"),
            Ok(()) = failed_rx => {}
        }
        // Live-stream clients never leave on their own: end their streams.
        live.close();
    };
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(stop)
        .await;

    // No new notifications; deliveries under way finish.
    if let Some(tasks) = alerting_tasks {
        tasks.shutdown().await;
    }
    // The agent-metrics writer finishes any write under way before the
    // database closes.
    let _ = stop_writer.send(());
    let _ = stop_retention.send(());
    session_retention
        .await
        .context("session retention task failed")?;
    agent_writer
        .await
        .context("agent metrics writer task failed")?;
    // Scrape loops write their stale markers before the database closes.
    #[cfg(unix)]
    reloader.abort();
    scrape_manager.stop().await;
    // The WAL replay may still be running after an early signal; wait for it
    // so the database is closed cleanly rather than abandoned mid-replay.
    let opened = opener.await.context("database open task failed")?;
    if let Some(health) = state.health() {
        health.stop();
    }
    // Rule groups finish their evaluation (and its writes) first.
    if let Some(rules) = state.rules() {
        rules.manager.stop().await;
    }
    // Events already reported are queued, then the deliveries under way
    // finish.
    let _ = stop_webhooks.send(true);
    let _ = webhook_task.await;
    deliveries.shutdown().await;
    served.context("HTTP server failed")?;
    // The session rows that lag their chunks are written now, so the next
    // start has nothing to replay.
    if let Some(store) = state.session_store() {
        tokio::task::spawn_blocking(move || store.flush())
            .await
            .context("session store flush task failed")?
            .context("cannot write the session summaries")?;
    }
    let db = opened?;
    tokio::task::spawn_blocking(move || db.close())
        .await
        .context("database close task failed")?
        .context("cannot close the database cleanly")?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the session store and makes it available.
async fn open_session_store(state: &AppState, settings: &Settings) -> Result<()> {
    let store_path = settings.data_dir.join(agentmon_sessions::FILE_NAME);
    let timeout_ms = i64::try_from(settings.agents.session_timeout.as_millis()).unwrap_or(i64::MAX);
    let store = tokio::task::spawn_blocking(move || SessionStore::open(&store_path, timeout_ms))
        .await
        .context("session store open task failed")?
        .context("cannot open the session store")?;
    let _ = state.set_sessions(Arc::new(store));
    Ok(())
}

/// Opens the health target store and starts probing the config file's
/// targets and the stored ones. A stored target whose name the config file
/// now uses is not probed (the file wins) and is logged.
async fn start_health_checks(
    state: &AppState,
    settings: &Settings,
    config_targets: Vec<HealthTarget>,
) -> Result<()> {
    let store_path = settings.data_dir.join(agentmon_probes::FILE_NAME);
    let (store, stored) = tokio::task::spawn_blocking(move || {
        let store = TargetStore::open(&store_path)?;
        let stored = store.load()?;
        Ok::<_, agentmon_probes::ProbeError>((store, stored))
    })
    .await
    .context("health target store open task failed")?
    .context("cannot open the health target store")?;
    let mut monitor = HealthMonitor::new(
        Arc::new(DbProbeWriter::new(state.clone())),
        Some(Arc::new(store)),
    );
    if let Some(webhooks) = state.webhooks() {
        monitor = monitor.with_listener(Arc::new(HealthChangesToWebhooks(webhooks.clone())));
    }
    let mut targets = config_targets;
    targets.extend(stored);
    let count = targets.len();
    for shadowed in monitor.start(targets) {
        tracing::warn!(
            service = %shadowed.service_name,
            "stored health check target not probed: the configuration file has a target of the same name"
        );
    }
    tracing::info!(targets = count, "health checks started");
    state.set_health(Arc::new(monitor));
    Ok(())
}

/// The file `load_config` reads, if any.
fn config_path(path: Option<&Path>) -> Option<PathBuf> {
    match path {
        Some(path) => Some(path.to_owned()),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => Some(PathBuf::from(DEFAULT_CONFIG_FILE)),
        None => None,
    }
}

/// What the rules need besides the database.
struct RulesSetup {
    settings: RuleSettings,
    config_path: Option<PathBuf>,
    external_url: String,
    alert_sink: Arc<dyn AlertSender>,
}

/// The alert sink without an `alertmanager:` section: logs the alerts the
/// rules send at debug level.
fn log_alerts(alerts: &[Alert]) {
    for alert in alerts {
        tracing::debug!(labels = ?alert.labels, ends_at_ms = ?alert.ends_at_ms, "alert sent by rules");
    }
}

/// Starts the rule manager over the open database and loads the rule
/// files. A broken rule file at start-up is an error, as in Prometheus.
async fn start_rules(
    state: &AppState,
    db: Arc<Db>,
    setup: RulesSetup,
    settings: &Settings,
) -> Result<()> {
    let rules = Rules::new(
        db,
        state.promql_engine(),
        &setup.settings,
        setup.external_url,
        setup.alert_sink,
        setup.config_path,
    );
    let groups = rules
        .load(&setup.settings)
        .await
        .map_err(anyhow::Error::msg)
        .context("cannot load the rule files")?;
    if groups > 0 {
        tracing::info!(groups, "rule groups started");
    }
    // The rules made through the API (`alert_rules.sqlite`) join as the
    // `agentmon-api` group.
    let alert_rules = AlertRules::open(
        &settings.data_dir,
        &settings.agents.namespace,
        rules.manager.clone(),
        state.alerting().cloned(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("cannot load the alert rules made through the API")?;
    state.set_rules(Arc::new(rules));
    state.set_alert_rules(Arc::new(alert_rules));
    Ok(())
}

/// Reloads the scrape jobs, the `alertmanager` section and the rule files
/// on every SIGHUP, as Prometheus and Alertmanager do.
#[cfg(unix)]
async fn reload_on_sighup(state: AppState) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("cannot listen for SIGHUP: reload with POST /-/reload");
        return;
    };
    while hangups.recv().await.is_some() {
        if let Err(error) = state.reload().await {
            tracing::error!(%error, "SIGHUP: configuration not reloaded (a broken rule file keeps the last good rules)");
        }
    }
}

/// Reads `--config`, or `./agentmon.yml` if present, or nothing.
fn load_config(path: Option<&Path>) -> Result<Config> {
    let path: PathBuf = match path {
        Some(path) => path.to_owned(),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => return Ok(Config::default()),
    };
    let config = Config::load(&path)?;
    tracing::info!(path = %path.display(), "configuration loaded");
    Ok(config)
}

/// Opens the database on the blocking pool and hands it to the router.
/// On failure, tells the server to stop through `failed`.
async fn open_database(
    state: AppState,
    settings: Settings,
    health_targets: Vec<HealthTarget>,
    rules: RulesSetup,
    failed: oneshot::Sender<()>,
) -> Result<Arc<Db>> {
    let started = Instant::now();
    tracing::info!(data_dir = %settings.data_dir.display(), "opening database, replaying WAL");
    let data_dir = settings.data_dir.clone();
    let options = settings.tsdb.clone();
    let opened = tokio::task::spawn_blocking(move || Db::open(&data_dir, options)).await;
    let db = match opened {
        Ok(Ok(db)) => Arc::new(db),
        Ok(Err(error)) => {
            let _ = failed.send(());
            return Err(error).with_context(|| {
                format!(
                    "cannot open the database in {}",
                    settings.data_dir.display()
                )
            });
        }
        Err(join_error) => {
            let _ = failed.send(());
            return Err(join_error).context("database open task failed");
        }
    };
    // The session and health target stores live in the same directory,
    // which Db::open made.
    let mut stores = open_session_store(&state, &settings).await;
    if stores.is_ok() {
        stores = start_health_checks(&state, &settings, health_targets).await;
    }
    if stores.is_ok() {
        stores = start_rules(&state, db.clone(), rules, &settings).await;
    }
    if let Err(error) = stores {
        // Stop the server, and close the database cleanly first.
        let _ = failed.send(());
        let closing = db.clone();
        if let Ok(Err(close_error)) = tokio::task::spawn_blocking(move || closing.close()).await {
            tracing::error!(%close_error, "closing the database after a store failed to open");
        }
        return Err(error);
    }
    // Ready before it is said to be: tests and operators wait for the line.
    if state.set_db(db.clone()).is_err() {
        bail!("database was set twice");
    }
    let report = db.open_report();
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        blocks = report.blocks_loaded,
        wal_segments = report.wal_segments,
        wal_series = report.wal_series,
        wal_samples = report.wal_samples,
        wal_samples_skipped = report.wal_samples_skipped,
        wal_replay_seconds = report.wal_replay_seconds,
        "database ready: WAL replayed"
    );
    for block in &report.blocks_corrupt {
        tracing::error!(block = %block, "block failed its checks; renamed to .corrupt and not served");
    }
    if let Some(corruption) = &report.wal_corruption {
        tracing::warn!(
            truncated_bytes = report.wal_truncated_bytes,
            "damaged WAL tail cut off during replay: {corruption}"
        );
    }
    Ok(db)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, naming the signal.
async fn shutdown_signal() -> &'static str {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    }
}
