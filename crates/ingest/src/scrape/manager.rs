//! The scrape manager: one [`ScrapeLoop`] task per active target, started
//! and stopped as the configuration or the discovered targets change, and
//! the snapshot of targets that `/api/v1/targets` shows.
//!
//! [`ScrapeManager::apply`] takes the new jobs: it builds each job's HTTP
//! client (its `tls_config`), reads the `file_sd_configs` files once and
//! starts one discovery task per entry, which looks at its files every
//! [`FILE_SD_POLL`] (re-reading changed ones) and re-reads all of them
//! every `refresh_interval`; a change re-syncs the loops without a reload.
//! On every sync a target whose job settings, labels and URL are unchanged
//! keeps its loop (and so its staleness state); every other loop is stopped
//! (writing its stale markers) and new ones start. A job with more active
//! targets than its `target_limit` keeps them, but each scrape fails with
//! Prometheus's `target_limit exceeded` error. [`ScrapeManager::stop`]
//! stops them all and waits, so the caller can close the database
//! afterwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::config::{ScrapeJob, TlsSettings};
use super::file_sd::{FileDiscovery, TargetGroup};
use super::scrape_loop::{ScrapeLoop, ScrapeStatus};
use super::target::{build_targets, static_groups, DroppedTarget, Target};
use super::{tls, SampleAppender};
use crate::Limits;

/// How often file discovery looks at its files' modification times.
pub const FILE_SD_POLL: Duration = Duration::from_secs(1);

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
    /// Dropped targets with their scrape pool (at most
    /// `keep_dropped_targets` per pool when that is set).
    pub dropped: Vec<(String, DroppedTarget)>,
    /// How many targets each pool dropped, kept in `dropped` or not.
    pub dropped_counts: BTreeMap<String, usize>,
}

struct RunningLoop {
    job: Arc<ScrapeJob>,
    target: Target,
    status: Arc<Mutex<ScrapeStatus>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

struct JobState {
    job: Arc<ScrapeJob>,
    /// The job's client, or why it could not be built.
    client: Result<reqwest::Client, String>,
    /// Groups of each `file_sd_configs` entry, in order.
    discovered: Vec<Vec<TargetGroup>>,
}

#[derive(Default)]
struct Running {
    jobs: Vec<JobState>,
    /// Bumped by each apply; a discovery task of an older one stops.
    generation: u64,
    discovery_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Keyed by job settings, target labels and URL, in start order.
    loops: BTreeMap<(usize, String), RunningLoop>,
    next_order: usize,
}

/// What the targets snapshot reads of a running loop.
type LoopView = (Arc<ScrapeJob>, Target, Arc<Mutex<ScrapeStatus>>);

/// The dropped targets (as kept) and every pool's dropped count.
type DroppedView = (Vec<(String, DroppedTarget)>, BTreeMap<String, usize>);

struct Inner {
    appender: Arc<dyn SampleAppender>,
    client: reqwest::Client,
    limits: Limits,
    running: tokio::sync::Mutex<Running>,
    snapshot: Mutex<Vec<LoopView>>,
    dropped_snapshot: Mutex<DroppedView>,
    sd_file_read_errors: Arc<AtomicU64>,
    poll: Duration,
}

/// Runs the scrape loops of the configured jobs.
pub struct ScrapeManager {
    inner: Arc<Inner>,
}

impl ScrapeManager {
    /// A manager with no jobs; scrapes go to `appender`.
    pub fn new(appender: Arc<dyn SampleAppender>, limits: Limits) -> ScrapeManager {
        ScrapeManager::with_file_sd_poll(appender, limits, FILE_SD_POLL)
    }

    /// As [`ScrapeManager::new`], file discovery looking every `poll`.
    pub fn with_file_sd_poll(
        appender: Arc<dyn SampleAppender>,
        limits: Limits,
        poll: Duration,
    ) -> ScrapeManager {
        let client = tls::base_builder().build().unwrap_or_default();
        ScrapeManager {
            inner: Arc::new(Inner {
                appender,
                client,
                limits,
                running: tokio::sync::Mutex::default(),
                snapshot: Mutex::default(),
                dropped_snapshot: Mutex::default(),
                sd_file_read_errors: Arc::default(),
                poll: poll.max(Duration::from_millis(10)),
            }),
        }
    }

    /// Runs exactly the targets of `jobs` (and of their files): unchanged
    /// targets keep scraping, removed ones stop (with stale markers) before
    /// this returns.
    pub async fn apply(&self, jobs: Vec<ScrapeJob>) {
        let inner = &self.inner;
        let mut running = inner.running.lock().await;
        for task in running.discovery_tasks.drain(..) {
            task.abort();
        }
        running.generation += 1;
        let generation = running.generation;
        let mut states = Vec::with_capacity(jobs.len());
        let mut discoveries = Vec::new();
        for (j, job) in jobs.into_iter().enumerate() {
            let client = if job.tls == TlsSettings::default() {
                Ok(inner.client.clone())
            } else {
                tls::build_client(&job.tls).map_err(|e| {
                    tracing::error!(job = %job.job_name, error = %e, "cannot build the scrape client: every scrape of the job fails");
                    e
                })
            };
            let mut discovered = Vec::with_capacity(job.file_sd.len());
            for (d, sd) in job.file_sd.iter().enumerate() {
                let mut discovery =
                    FileDiscovery::new(sd.files.clone(), inner.sd_file_read_errors.clone());
                discovery.refresh(true);
                discovered.push(discovery.groups());
                discoveries.push((j, d, sd.refresh_interval, discovery));
            }
            states.push(JobState {
                job: Arc::new(job),
                client,
                discovered,
            });
        }
        running.jobs = states;
        for (j, d, refresh, discovery) in discoveries {
            let task = tokio::spawn(discover(
                Arc::downgrade(inner),
                generation,
                (j, d),
                refresh,
                discovery,
            ));
            running.discovery_tasks.push(task);
        }
        inner.sync(&mut running).await;
    }

    /// Stops every loop and discovery task, and waits for the loops' last
    /// writes.
    pub async fn stop(&self) {
        self.apply(Vec::new()).await;
    }

    /// How many times a `file_sd_configs` file could not be read or parsed.
    pub fn sd_file_read_errors(&self) -> u64 {
        self.inner.sd_file_read_errors.load(Ordering::Relaxed)
    }

    /// The targets and the state of their last scrape.
    pub fn targets(&self) -> TargetsSnapshot {
        let inner = &self.inner;
        let active = inner
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
        let (dropped, dropped_counts) = inner
            .dropped_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        TargetsSnapshot {
            active,
            dropped,
            dropped_counts,
        }
    }
}

impl Inner {
    /// Starts and stops loops so that exactly the targets of the current
    /// jobs and groups run.
    async fn sync(&self, running: &mut Running) {
        let mut wanted: HashMap<String, (usize, Target, Option<String>)> = HashMap::new();
        let mut order = Vec::new();
        let mut dropped = Vec::new();
        let mut dropped_counts = BTreeMap::new();
        for (j, state) in running.jobs.iter().enumerate() {
            let job = &state.job;
            let mut groups = static_groups(job);
            groups.extend(state.discovered.iter().flatten().cloned());
            let (active, dropped_targets) = build_targets(job, &groups);
            if !dropped_targets.is_empty() {
                dropped_counts.insert(job.job_name.clone(), dropped_targets.len());
            }
            let keep = match job.keep_dropped_targets {
                0 => usize::MAX,
                n => n,
            };
            dropped.extend(
                dropped_targets
                    .into_iter()
                    .take(keep)
                    .map(|d| (job.job_name.clone(), d)),
            );
            let mut forced = state.client.as_ref().err().cloned();
            if job.target_limit > 0 && active.len() > job.target_limit {
                tracing::warn!(job = %job.job_name, targets = active.len(), limit = job.target_limit, "target_limit exceeded");
                forced = Some(format!(
                    "target_limit exceeded (number of targets: {}, limit: {})",
                    active.len(),
                    job.target_limit
                ));
            }
            for target in active {
                let key = loop_key(job, &target, forced.as_deref());
                if let std::collections::hash_map::Entry::Vacant(slot) = wanted.entry(key) {
                    order.push(slot.key().clone());
                    slot.insert((j, target, forced.clone()));
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
            let Some((j, target, forced)) = wanted.remove(&key) else {
                continue;
            };
            let state = &running.jobs[j];
            let job = state.job.clone();
            let client = state.client.clone().unwrap_or_else(|_| self.client.clone());
            let scrape_loop = ScrapeLoop::new(
                job.clone(),
                target.clone(),
                client,
                self.appender.clone(),
                self.limits,
            )
            .with_forced_error(forced);
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
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = running
            .loops
            .values()
            .map(|l| (l.job.clone(), l.target.clone(), l.status.clone()))
            .collect();
        *self
            .dropped_snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = (dropped, dropped_counts);
    }
}

/// One `file_sd_configs` entry's task: looks every poll, re-reads all
/// every `refresh`, and re-syncs the manager when the groups change.
async fn discover(
    inner: std::sync::Weak<Inner>,
    generation: u64,
    (job, entry): (usize, usize),
    refresh: Duration,
    mut discovery: FileDiscovery,
) {
    let Some(poll) = inner.upgrade().map(|i| i.poll) else {
        return;
    };
    let mut last_full = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(poll).await;
        let force = !refresh.is_zero() && last_full.elapsed() >= refresh;
        if force {
            last_full = tokio::time::Instant::now();
        }
        let (changed, discovery_back) = match tokio::task::spawn_blocking(move || {
            let changed = discovery.refresh(force);
            (changed, discovery)
        })
        .await
        {
            Ok(result) => result,
            Err(_) => return,
        };
        discovery = discovery_back;
        if !changed {
            continue;
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut running = inner.running.lock().await;
        if running.generation != generation {
            return;
        }
        let Some(slot) = running
            .jobs
            .get_mut(job)
            .and_then(|s| s.discovered.get_mut(entry))
        else {
            return;
        };
        *slot = discovery.groups();
        tracing::debug!(job, entry, "file_sd targets changed");
        inner.sync(&mut running).await;
    }
}

/// Equal keys mean the loop can keep running across a reload or a
/// discovery change.
fn loop_key(job: &ScrapeJob, target: &Target, forced: Option<&str>) -> String {
    format!(
        "{job:?}\u{0}{:?}\u{0}{}\u{0}{forced:?}",
        target.labels, target.scrape_url
    )
}
