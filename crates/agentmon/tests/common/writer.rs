//! A background remote-write client for crash tests: it sends small
//! batches with increasing timestamps until told to stop, the server goes
//! away, or its count/time bound is reached, and keeps a ledger of exactly
//! which samples were acknowledged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{client, export, remote_write_body, try_post, TestSeries, REMOTE_WRITE_HEADERS};
use super::server::{poll_until, Server};

/// Series written per request, told apart by the `series` label.
pub const SERIES: usize = 5;
/// Samples per series per request.
const SAMPLES_PER_SERIES: i64 = 2;
/// Milliseconds between consecutive requests' first timestamps.
const STEP_MS: i64 = 200;
/// Bounds of one writer run.
const MAX_REQUESTS: usize = 3000;
const MAX_RUN_TIME: Duration = Duration::from_secs(20);

/// `(series label value, timestamp)` → value.
pub type SampleMap = BTreeMap<(String, i64), f64>;

/// What one or more writer runs sent.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Samples of requests answered 2xx: they must survive any crash.
    pub acked: SampleMap,
    /// Samples of requests that got no answer: they may or may not be stored.
    pub unconfirmed: SampleMap,
    /// Non-2xx answers, which a healthy server should never give here.
    pub refused: Vec<String>,
    /// Acknowledged requests.
    pub acked_requests: usize,
    /// The first timestamp a following run may use.
    pub next_t: i64,
}

impl Ledger {
    /// Adds a later run's outcome.
    pub fn absorb(&mut self, later: Ledger) {
        self.acked.extend(later.acked);
        self.unconfirmed.extend(later.unconfirmed);
        self.refused.extend(later.refused);
        self.acked_requests += later.acked_requests;
        self.next_t = self.next_t.max(later.next_t);
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A deterministic value with a full mantissa, so that any rounding or bit
/// damage in storage shows.
pub fn sample_value(series: usize, t: i64) -> f64 {
    (t % 1_000_003) as f64 * std::f64::consts::FRAC_1_SQRT_2 + series as f64 / 7.0
}

/// A writer thread and the counters it shares.
pub struct LoadWriter {
    handle: Option<JoinHandle<Ledger>>,
    acked_requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl LoadWriter {
    /// Starts writing metric `metric` to `server`, first timestamp `first_t`.
    pub fn start(server: &Server, metric: &str, first_t: i64) -> LoadWriter {
        let url = server.url("/api/v1/write");
        let metric = metric.to_owned();
        let acked_requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (acked, stopping) = (acked_requests.clone(), stop.clone());
        let handle = std::thread::spawn(move || run(&url, &metric, first_t, &acked, &stopping));
        LoadWriter {
            handle: Some(handle),
            acked_requests,
            stop,
        }
    }

    pub fn acked_requests(&self) -> usize {
        self.acked_requests.load(Ordering::SeqCst)
    }

    /// Waits until `count` requests were acknowledged; false if the writer
    /// stopped or `deadline` passed first.
    pub fn wait_for_acks(&self, count: usize, deadline: Duration) -> bool {
        poll_until(deadline, || {
            let done = self.handle.as_ref().is_some_and(|h| h.is_finished());
            if self.acked_requests() >= count {
                Some(true)
            } else if done {
                Some(false)
            } else {
                None
            }
        })
        .unwrap_or(false)
    }

    /// Stops the writer (if the server has not already stopped it) and
    /// returns its ledger.
    pub fn finish(mut self) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .expect("joined once")
            .join()
            .expect("writer thread panicked")
    }
}

impl Drop for LoadWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn run(
    url: &str,
    metric: &str,
    first_t: i64,
    acked_count: &AtomicUsize,
    stop: &AtomicBool,
) -> Ledger {
    let http = client();
    let started = Instant::now();
    let mut ledger = Ledger {
        next_t: first_t,
        ..Ledger::default()
    };
    for request in 0..MAX_REQUESTS {
        if stop.load(Ordering::SeqCst) || started.elapsed() > MAX_RUN_TIME {
            break;
        }
        let t0 = first_t + request as i64 * STEP_MS;
        let mut sent = SampleMap::new();
        let batch: Vec<TestSeries> = (0..SERIES)
            .map(|s| {
                let name = format!("s{s}");
                let samples: Vec<(i64, f64)> = (0..SAMPLES_PER_SERIES)
                    .map(|i| {
                        let t = t0 + i * (STEP_MS / SAMPLES_PER_SERIES);
                        (t, sample_value(s, t))
                    })
                    .collect();
                for &(t, v) in &samples {
                    sent.insert((name.clone(), t), v);
                }
                TestSeries::new(&[("__name__", metric), ("series", &name)], &samples)
            })
            .collect();
        ledger.next_t = t0 + STEP_MS;
        match try_post(&http, url, &REMOTE_WRITE_HEADERS, remote_write_body(&batch)) {
            Ok(reply) if reply.is_success() => {
                ledger.acked.extend(sent);
                ledger.acked_requests += 1;
                acked_count.fetch_add(1, Ordering::SeqCst);
            }
            Ok(reply) => {
                // A 4xx/5xx means "not written"; note it and carry on so
                // the test can report it.
                ledger.refused.push(format!(
                    "request {request}: {} {}",
                    reply.status, reply.text
                ));
                if ledger.refused.len() >= 10 {
                    break;
                }
            }
            Err(_) => {
                // The server went away mid-request: this batch may or may
                // not have been stored.
                ledger.unconfirmed.extend(sent);
                break;
            }
        }
    }
    ledger
}

/// Checks the server against a ledger: every acknowledged sample is read
/// back with its exact bits, and nothing is stored that was never sent.
pub fn verify(server: &Server, metric: &str, ledger: &Ledger) {
    let http = client();
    let mut stored = SampleMap::new();
    let mut problems = Vec::new();
    for line in export(&http, server, &format!("{{__name__=\"{metric}\"}}")) {
        let series = line.labels.get("series").cloned().unwrap_or_default();
        // Samples of one series come once each, oldest first (a block and
        // a replayed WAL holding the same sample must not show it twice).
        if let Some(pair) = line.samples.windows(2).find(|w| w[0].0 >= w[1].0) {
            problems.push(format!("{series}: timestamps not increasing: {pair:?}"));
        }
        for (t, v) in line.samples {
            stored.insert((series.clone(), t), v);
        }
    }
    for ((series, t), v) in &ledger.acked {
        match stored.get(&(series.clone(), *t)) {
            None => problems.push(format!("acknowledged {series}@{t}={v} is missing")),
            Some(got) if got.to_bits() != v.to_bits() => {
                problems.push(format!("acknowledged {series}@{t}: sent {v}, read {got}"))
            }
            Some(_) => {}
        }
    }
    for ((series, t), got) in &stored {
        let key = (series.clone(), *t);
        let sent = ledger
            .acked
            .get(&key)
            .or_else(|| ledger.unconfirmed.get(&key));
        match sent {
            None => problems.push(format!("stored {series}@{t}={got} was never sent")),
            Some(v) if v.to_bits() != got.to_bits() => {
                problems.push(format!("stored {series}@{t}={got} but {v} was sent"))
            }
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems over {} acknowledged samples ({} stored), first ones:\n{}",
        problems.len(),
        ledger.acked.len(),
        stored.len(),
        problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
