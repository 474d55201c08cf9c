//! One target's scrape: fetch, parse, label, limit, and append in one
//! atomic write, as Prometheus's `scrape/scrape.go` does.
//!
//! Each scrape appends, at the scrape's start time: the samples (with the
//! target's labels; `honor_labels` decides conflicts, otherwise a clashing
//! label of the sample is kept as `exported_<name>`), then
//! `metric_relabel_configs`; a stale marker for every series of the previous
//! scrape that is gone (series with their own timestamps are not tracked, as
//! in Prometheus); and the report series `up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling` and
//! `scrape_series_added`. A failed scrape (HTTP error, timeout, parse error,
//! `sample_limit`, `label_limit`, `label_name_length_limit`,
//! `label_value_length_limit` or `body_size_limit` exceeded, unreadable
//! credentials file, `target_limit` of the job exceeded, refused append) stores none of
//! its samples: it writes `up 0`, its report, and stale markers for all
//! series of the previous scrape. When a loop stops (target gone, config
//! reloaded, shutdown), it writes stale markers for its series and report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agentmon_model::{LabelRef, Labels, MetricMetadata, Sample, SeriesBatch, STALE_NAN};

use super::config::ScrapeJob;
use super::relabel::relabel;
use super::target::Target;
use super::SampleAppender;
use crate::{text, Limits};

/// What Prometheus sends by default (and what the default
/// `scrape_protocols` build): OpenMetrics 1.0 first, then the 0.0.4 text format.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Health of a target as `/api/v1/targets` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The last scrape of a target.
#[derive(Debug, Clone)]
pub struct ScrapeStatus {
    pub health: Health,
    /// Empty after a successful scrape.
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration: Duration,
}

impl Default for ScrapeStatus {
    fn default() -> ScrapeStatus {
        ScrapeStatus {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration: Duration::ZERO,
        }
    }
}

/// The state one target carries from scrape to scrape.
pub struct ScrapeLoop {
    job: Arc<ScrapeJob>,
    target: Target,
    client: reqwest::Client,
    appender: Arc<dyn SampleAppender>,
    limits: Limits,
    status: Arc<Mutex<ScrapeStatus>>,
    /// Series of the last scrape without their own timestamps.
    previous: HashSet<Labels>,
    /// The final labels (target labels joined, metric relabeling applied;
    /// `None` if dropped) of each label set the last successful scrape
    /// read. A target exposes the same series scrape after scrape, so
    /// relabeling runs once per new series, not once per sample, as
    /// Prometheus's scrape cache does.
    label_cache: HashMap<Labels, Option<Labels>>,
    /// When set, every scrape fails with this error without fetching
    /// (`target_limit` exceeded, the job's HTTPS client not buildable).
    forced_error: Option<String>,
}

/// Prometheus's error for a body over `body_size_limit`.
pub const BODY_SIZE_LIMIT_ERROR: &str = "body size limit exceeded";

/// What a successful fetch and parse produced.
struct Scraped {
    series: Vec<(Labels, Sample)>,
    metadata: Vec<(String, MetricMetadata)>,
    samples_scraped: usize,
}

impl ScrapeLoop {
    pub fn new(
        job: Arc<ScrapeJob>,
        target: Target,
        client: reqwest::Client,
        appender: Arc<dyn SampleAppender>,
        limits: Limits,
    ) -> ScrapeLoop {
        ScrapeLoop {
            job,
            target,
            client,
            appender,
            limits,
            status: Arc::default(),
            previous: HashSet::new(),
            label_cache: HashMap::new(),
            forced_error: None,
        }
    }

    /// Makes every scrape fail with `error` (none: scrape normally).
    pub fn with_forced_error(mut self, error: Option<String>) -> ScrapeLoop {
        self.forced_error = error;
        self
    }

    /// The status handle, updated after each scrape.
    pub fn status(&self) -> Arc<Mutex<ScrapeStatus>> {
        self.status.clone()
    }

    /// Scrapes every `scrape_interval` until `stop` fires, then marks the
    /// target's series stale. The first scrape waits an offset derived from
    /// the URL, spreading targets over the interval as Prometheus does.
    pub async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let interval = self.job.scrape_interval;
        let offset = offset_within(&self.target.scrape_url, interval);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.scrape_once().await,
                _ = &mut stop => break,
            }
        }
        self.end_of_run().await;
    }

    /// One scrape and its append; the outcome is in [`ScrapeLoop::status`].
    pub async fn scrape_once(&mut self) {
        let started = SystemTime::now();
        let clock = Instant::now();
        let timestamp = millis(started);
        let mut cache = std::mem::take(&mut self.label_cache);
        let outcome = self.fetch_and_parse(timestamp, &mut cache).await;
        self.label_cache = cache;
        let elapsed = clock.elapsed();
        let result = match outcome {
            Ok(scraped) => {
                let post_relabel = scraped.series.len();
                let current: HashSet<Labels> = scraped
                    .series
                    .iter()
                    .filter(|(_, s)| s.t == timestamp)
                    .map(|(l, _)| l.clone())
                    .collect();
                // Prometheus counts series new to its cache of the last
                // scrapes; here: new since the previous scrape.
                let added = current.difference(&self.previous).count();
                let mut rows = scraped.series;
                rows.extend(self.stale_rows(Some(&current), timestamp));
                rows.extend(self.report_rows(
                    timestamp,
                    1.0,
                    elapsed,
                    scraped.samples_scraped as f64,
                    post_relabel as f64,
                    added as f64,
                ));
                match self.append(rows, scraped.metadata).await {
                    Ok(_) => {
                        self.previous = current;
                        Ok(())
                    }
                    Err(e) => Err(format!("appending the scrape failed: {e}")),
                }
            }
            Err(e) => Err(e),
        };
        if let Err(error) = &result {
            tracing::debug!(url = %self.target.scrape_url, %error, "scrape failed");
            let mut rows = self.stale_rows(None, timestamp);
            rows.extend(self.report_rows(timestamp, 0.0, elapsed, 0.0, 0.0, 0.0));
            if let Err(e) = self.append(rows, Vec::new()).await {
                tracing::warn!(url = %self.target.scrape_url, error = %e, "cannot write a failed scrape's report");
            }
            self.previous.clear();
        }
        let (previous, health, error) = {
            let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
            status.last_scrape = Some(started);
            status.last_scrape_duration = elapsed;
            let previous = status.health;
            match result {
                Ok(()) => {
                    status.health = Health::Up;
                    status.last_error.clear();
                }
                Err(e) => {
                    status.health = Health::Down;
                    status.last_error = e;
                }
            }
            (previous, status.health, status.last_error.clone())
        };
        if previous != Health::Unknown && previous != health {
            self.appender.target_health_changed(
                &self.target.labels,
                &self.target.scrape_url,
                health,
                &error,
            );
        }
    }

    /// Fetches and parses one scrape; `cache` (see `label_cache`) is
    /// replaced by this scrape's label sets when it succeeds.
    async fn fetch_and_parse(
        &self,
        timestamp: i64,
        cache: &mut HashMap<Labels, Option<Labels>>,
    ) -> Result<Scraped, String> {
        let job = &self.job;
        if let Some(error) = &self.forced_error {
            return Err(error.clone());
        }
        let mut request = self
            .client
            .get(&self.target.scrape_url)
            .header(reqwest::header::ACCEPT, &job.accept_header)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", job.scrape_timeout.as_secs_f64()),
            )
            .timeout(job.scrape_timeout);
        if job.enable_compression {
            request = request.header(reqwest::header::ACCEPT_ENCODING, "gzip");
        } else {
            request = request.header(reqwest::header::ACCEPT_ENCODING, "identity");
        }
        if let Some(auth) = job.authorization_header()? {
            request = request.header(reqwest::header::AUTHORIZATION, auth);
        }
        // As Prometheus: a body of `body_size_limit` bytes or more fails.
        let body_limit = usize::try_from(job.body_size_limit).ok().filter(|l| *l > 0);
        let fetch = async {
            let mut response = request.send().await.map_err(describe_reqwest)?;
            if !response.status().is_success() {
                return Err(format!("server returned HTTP status {}", response.status()));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let gzipped = response
                .headers()
                .get(reqwest::header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(describe_reqwest)? {
                if !gzipped && body_limit.is_some_and(|l| body.len() + chunk.len() >= l) {
                    return Err(BODY_SIZE_LIMIT_ERROR.to_owned());
                }
                if body.len() + chunk.len() > self.limits.max_body_bytes {
                    return Err(format!(
                        "response body exceeds the limit of {} bytes",
                        self.limits.max_body_bytes
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            if gzipped {
                body = gunzip(&body, body_limit, self.limits.max_decompressed_bytes)?;
            }
            Ok((content_type, body))
        };
        let (content_type, body) = tokio::time::timeout(job.scrape_timeout, fetch)
            .await
            .map_err(|_| {
                format!(
                    "scrape timed out after {}s",
                    job.scrape_timeout.as_secs_f64()
                )
            })??;
        let body = String::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
        let exposition = if content_type.starts_with("application/openmetrics-text") {
            text::parse_openmetrics(&body, timestamp, &self.limits)
        } else {
            text::parse(&body, timestamp, &self.limits)
        }
        .map_err(|e| format!("parsing the scrape: {e}"))?;
        let samples_scraped = exposition.samples.len();
        let mut series = Vec::with_capacity(samples_scraped);
        let mut seen = HashSet::with_capacity(samples_scraped);
        let mut next_cache = HashMap::with_capacity(samples_scraped);
        for (scraped, mut sample) in exposition.samples {
            let final_labels = match cache.remove(&scraped) {
                Some(known) => known,
                None => self.sample_labels(&scraped)?,
            };
            next_cache.insert(scraped, final_labels.clone());
            let Some(labels) = final_labels else {
                continue;
            };
            if job.label_limit > 0 && labels.len() > job.label_limit {
                return Err(format!(
                    "label_limit exceeded: a series has {} labels, the limit is {}",
                    labels.len(),
                    job.label_limit
                ));
            }
            if job.label_name_length_limit > 0 || job.label_value_length_limit > 0 {
                check_label_lengths(job, &labels)?;
            }
            if !job.honor_timestamps {
                sample.t = timestamp;
            }
            // A series repeated within one scrape keeps its first sample.
            if seen.insert(labels.clone()) {
                series.push((labels, sample));
            }
        }
        if job.sample_limit > 0 && series.len() > job.sample_limit {
            return Err(format!(
                "sample_limit exceeded: {} samples after metric relabeling, the limit is {}",
                series.len(),
                job.sample_limit
            ));
        }
        *cache = next_cache;
        Ok(Scraped {
            series,
            metadata: exposition.metadata,
            samples_scraped,
        })
    }

    /// Target labels joined with a scraped sample's, then metric relabeling;
    /// `None` when a rule drops the sample.
    fn sample_labels(&self, scraped: &Labels) -> Result<Option<Labels>, String> {
        let mut labels: BTreeMap<String, String> = scraped
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        for target_label in self.target.labels.iter() {
            let name = &target_label.name;
            match labels.get(name) {
                Some(_) if self.job.honor_labels => {}
                Some(existing) => {
                    let existing = existing.clone();
                    let mut exported = format!("exported_{name}");
                    while labels.contains_key(&exported) {
                        exported = format!("exported_{exported}");
                    }
                    labels.insert(exported, existing);
                    labels.insert(name.clone(), target_label.value.clone());
                }
                None => {
                    labels.insert(name.clone(), target_label.value.clone());
                }
            }
        }
        let Some(labels) = relabel(labels, &self.job.metric_relabel_rules) else {
            return Ok(None);
        };
        if !labels.contains_key("__name__") {
            return Ok(None);
        }
        Labels::new(labels)
            .map(Some)
            .map_err(|e| format!("metric relabeling produced invalid labels: {e}"))
    }

    /// Stale markers for the previous scrape's series not in `current`
    /// (all of them when `current` is `None`).
    fn stale_rows(
        &self,
        current: Option<&HashSet<Labels>>,
        timestamp: i64,
    ) -> Vec<(Labels, Sample)> {
        self.previous
            .iter()
            .filter(|l| !current.is_some_and(|c| c.contains(*l)))
            .map(|l| (l.clone(), Sample::new(timestamp, STALE_NAN)))
            .collect()
    }

    fn report_rows(
        &self,
        timestamp: i64,
        up: f64,
        duration: Duration,
        scraped: f64,
        post_relabel: f64,
        added: f64,
    ) -> Vec<(Labels, Sample)> {
        [
            ("up", up),
            ("scrape_duration_seconds", duration.as_secs_f64()),
            ("scrape_samples_scraped", scraped),
            ("scrape_samples_post_metric_relabeling", post_relabel),
            ("scrape_series_added", added),
        ]
        .into_iter()
        .map(|(name, value)| (self.report_labels(name), Sample::new(timestamp, value)))
        .collect()
    }

    fn report_labels(&self, name: &str) -> Labels {
        let pairs = self
            .target
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .chain([("__name__", name)]);
        // Target labels were validated and report names are fixed.
        Labels::new(pairs).unwrap_or_default()
    }

    /// Writes stale markers for every series of the target and its report,
    /// a millisecond after the last scrape at the earliest.
    async fn end_of_run(&mut self) {
        let last = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_scrape;
        let Some(last) = last else {
            return;
        };
        let timestamp = millis(SystemTime::now()).max(millis(last) + 1);
        let mut rows = self.stale_rows(None, timestamp);
        for name in [
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        ] {
            rows.push((self.report_labels(name), Sample::new(timestamp, STALE_NAN)));
        }
        if let Err(e) = self.append(rows, Vec::new()).await {
            tracing::warn!(url = %self.target.scrape_url, error = %e, "cannot write stale markers of a stopped target");
        }
        self.previous.clear();
    }

    /// One atomic append on the blocking pool.
    async fn append(
        &self,
        rows: Vec<(Labels, Sample)>,
        metadata: Vec<(String, MetricMetadata)>,
    ) -> Result<usize, String> {
        let appender = self.appender.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<Vec<LabelRef<'_>>> =
                rows.iter().map(|(labels, _)| labels.refs()).collect();
            let mut batch = SeriesBatch::with_capacity(rows.len(), 0, rows.len());
            for ((_, sample), labels) in rows.iter().zip(&refs) {
                batch.push_series(labels, &[*sample]);
            }
            let metadata: Vec<(&str, MetricMetadata)> = metadata
                .iter()
                .map(|(name, meta)| (name.as_str(), meta.clone()))
                .collect();
            appender.append(&batch, &metadata)
        })
        .await
        .map_err(|e| format!("append task failed: {e}"))?
    }
}

/// Prometheus's checks of `label_name_length_limit` and
/// `label_value_length_limit` (its messages; names and values cut to 50).
fn check_label_lengths(job: &ScrapeJob, labels: &Labels) -> Result<(), String> {
    let metric: String = labels
        .metric_name()
        .unwrap_or("")
        .chars()
        .take(50)
        .collect();
    for label in labels.iter() {
        let name: String = label.name.chars().take(50).collect();
        let name_len = label.name.len();
        if job.label_name_length_limit > 0 && name_len > job.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: {name_len}, limit: {})",
                job.label_name_length_limit
            ));
        }
        let value_len = label.value.len();
        if job.label_value_length_limit > 0 && value_len > job.label_value_length_limit {
            let value: String = label.value.chars().take(50).collect();
            return Err(format!(
                "label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {value:?}, length: {value_len}, limit: {})",
                job.label_value_length_limit
            ));
        }
    }
    Ok(())
}

/// Decodes a gzip body; `body_limit` (as for a plain body) and
/// `max_bytes` bound what it may grow to.
fn gunzip(body: &[u8], body_limit: Option<usize>, max_bytes: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cap = body_limit.map_or(max_bytes, |l| l.min(max_bytes));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(cap as u64)
        .read_to_end(&mut out)
        .map_err(|e| format!("decompressing the gzip body: {e}"))?;
    if body_limit.is_some_and(|l| out.len() >= l) {
        return Err(BODY_SIZE_LIMIT_ERROR.to_owned());
    }
    if out.len() >= max_bytes {
        return Err(format!(
            "decompressed body exceeds the limit of {max_bytes} bytes"
        ));
    }
    Ok(out)
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A stable offset in [0, interval) from the URL (FNV-1a).
fn offset_within(url: &str, interval: Duration) -> Duration {
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(hash % nanos)
}

fn describe_reqwest(e: reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
