//! The scrape manager: one [`ScrapeLoop`] task per active target, started
//! and stopped as the configuration changes, and the snapshot of targets
//! that `/api/v1/targets` shows.
//!
//! [`ScrapeManager::apply`] takes the new jobs; a target whose job settings,
//! labels and URL are unchanged keeps its loop (and so its staleness state);
//! every other loop is stopped (writing its stale markers) and new ones
//! start. [`ScrapeManager::stop`] stops them all and waits, so the caller
//! can close the database afterwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::config::ScrapeJob;
use super::scrape_loop::{ScrapeLoop, ScrapeStatus};
use super::target::{build_targets, DroppedTarget, Target};
use super::SampleAppender;
use crate::Limits;

/// One active target as reported by the API.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub scrape_pool: String,
    pub target: Target,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub status: ScrapeStatus,
}

/// A snapshot of every target.
#[derive(Debug, Clone, Default)]
pub struct TargetsSnapshot {
    pub active: Vec<ActiveTarget>,
    /// Dropped targets with their scrape pool.
    pub dropped: Vec<(String, DroppedTarget)>,
}

struct RunningLoop {
    job: Arc<ScrapeJob>,
    target: Target,
    status: Arc<Mutex<ScrapeStatus>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Running {
    /// Keyed by job settings, target labels and URL, in start order.
    loops: BTreeMap<(usize, String), RunningLoop>,
    dropped: Vec<(String, DroppedTarget)>,
    next_order: usize,
}

/// What the targets snapshot reads of a running loop.
type LoopView = (Arc<ScrapeJob>, Target, Arc<Mutex<ScrapeStatus>>);

/// Runs the scrape loops of the configured jobs.
pub struct ScrapeManager {
    appender: Arc<dyn SampleAppender>,
    client: reqwest::Client,
    limits: Limits,
    running: tokio::sync::Mutex<Running>,
    snapshot: Mutex<Vec<LoopView>>,
    dropped_snapshot: Mutex<Vec<(String, DroppedTarget)>>,
}

impl ScrapeManager {
    /// A manager with no jobs; scrapes go to `appender`.
    pub fn new(appender: Arc<dyn SampleAppender>, limits: Limits) -> ScrapeManager {
        let client = reqwest::Client::builder()
            .user_agent(concat!("agentmon/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(10))
            // As Prometheus (proxy_from_environment: false): no proxy from
            // HTTP_PROXY and friends.
            .no_proxy()
            .build()
            .unwrap_or_default();
        ScrapeManager {
            appender,
            client,
            limits,
            running: tokio::sync::Mutex::default(),
            snapshot: Mutex::default(),
            dropped_snapshot: Mutex::default(),
        }
    }

    /// Runs exactly the targets of `jobs`: unchanged targets keep scraping,
    /// removed ones stop (with stale markers) before this returns.
    pub async fn apply(&self, jobs: Vec<ScrapeJob>) {
        let mut running = self.running.lock().await;
        let mut wanted: HashMap<String, (Arc<ScrapeJob>, Target)> = HashMap::new();
        let mut order = Vec::new();
        let mut dropped = Vec::new();
        for job in jobs {
            let job = Arc::new(job);
            let (active, dropped_targets) = build_targets(&job);
            dropped.extend(
                dropped_targets
                    .into_iter()
                    .map(|d| (job.job_name.clone(), d)),
            );
            for target in active {
                let key = loop_key(&job, &target);
                if let std::collections::hash_map::Entry::Vacant(slot) = wanted.entry(key) {
                    order.push(slot.key().clone());
                    slot.insert((job.clone(), target));
                }
            }
        }
        let old: Vec<(usize, String)> = running.loops.keys().cloned().collect();
        let mut stopping = Vec::new();
        for key in old {
            if !wanted.contains_key(&key.1) {
                if let Some(running_loop) = running.loops.remove(&key) {
                    let _ = running_loop.stop.send(());
                    stopping.push(running_loop.task);
                }
            }
        }
        for task in stopping {
            let _ = task.await;
        }
        for key in order {
            if running.loops.keys().any(|(_, k)| *k == key) {
                continue;
            }
            let Some((job, target)) = wanted.remove(&key) else {
                continue;
            };
            let scrape_loop = ScrapeLoop::new(
                job.clone(),
                target.clone(),
                self.client.clone(),
                self.appender.clone(),
                self.limits,
            );
            let status = scrape_loop.status();
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(scrape_loop.run(stopped));
            let order = running.next_order;
            running.next_order += 1;
            running.loops.insert(
                (order, key),
                RunningLoop {
                    job,
                    target,
                    status,
                    stop,
                    task,
                },
            );
        }
        running.dropped = dropped;
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = running
            .loops
            .values()
            .map(|l| (l.job.clone(), l.target.clone(), l.status.clone()))
            .collect();
        *self
            .dropped_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = running.dropped.clone();
    }

    /// Stops every loop and waits for their last writes.
    pub async fn stop(&self) {
        self.apply(Vec::new()).await;
    }

    /// The targets and the state of their last scrape.
    pub fn targets(&self) -> TargetsSnapshot {
        let active = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(job, target, status)| ActiveTarget {
                scrape_pool: job.job_name.clone(),
                target: target.clone(),
                scrape_interval: job.scrape_interval,
                scrape_timeout: job.scrape_timeout,
                status: status.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            })
            .collect();
        TargetsSnapshot {
            active,
            dropped: self
                .dropped_snapshot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// Equal keys mean the loop can keep running across a reload.
fn loop_key(job: &ScrapeJob, target: &Target) -> String {
    format!("{job:?}\u{0}{:?}\u{0}{}", target.labels, target.scrape_url)
}
