//! `agentmon bench remote-write`: drives the agent-fleet workload into any
//! Prometheus remote-write 1.0 receiver and measures ingest throughput.
//!
//! Every request body is generated, encoded and snappy-compressed before the
//! clock starts, so the figure measures the receiver, not the generator. A
//! request holds whole instances (`--batch-instances`, 11 by default, about
//! 2,000 series) with one sample per series. All requests of step `s` are
//! acknowledged before any request of step `s + 1` is sent, so every series'
//! timestamps arrive in increasing order; within a step, `--senders` threads
//! send in parallel, each over its own keep-alive connection. Metadata for the
//! eight families rides in the very first request.
//!
//! 5xx and 429 answers and transport errors are retried with exponential
//! backoff up to `--max-attempts`; other answers fail at once. Failures are
//! counted and reported, never dropped silently; after `--max-failures`
//! failed requests the rest of the run is skipped and the report says so.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agentmon_ingest::remote_write::encode::{compress, WriteRequestEncoder};
use agentmon_model::{LabelRef, Sample};
use anyhow::{bail, Context};
use serde::Serialize;

use super::workload::{Families, InstanceState, SERIES_PER_INSTANCE, STEP_MS};

/// Options of `agentmon bench remote-write`.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteWriteArgs {
    /// Remote-write endpoint, e.g. http://127.0.0.1:9090/api/v1/write.
    #[arg(long)]
    pub url: String,
    /// Agent instances, 180 series each.
    #[arg(long, default_value_t = 200)]
    pub instances: usize,
    /// Scrape steps of 15 s; one sample per series per step.
    #[arg(long, default_value_t = 240)]
    pub steps: usize,
    /// Parallel sender threads, each with its own keep-alive connection.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Whole instances per request (11 ≈ 2,000 series).
    #[arg(long, default_value_t = 11)]
    pub batch_instances: usize,
    /// Time of step 0 in ms since the epoch; default: now − steps × 15 s,
    /// aligned to 15 s, so the data ends in the recent past.
    #[arg(long)]
    pub start_ms: Option<i64>,
    /// Bearer token sent in the Authorization header.
    #[arg(long)]
    pub token: Option<String>,
    /// Seed of the workload's random values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Attempts per request for retryable failures (5xx, 429, transport).
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// Failed requests after which the rest of the run is skipped.
    #[arg(long, default_value_t = 20)]
    pub max_failures: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// Outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteWriteReport {
    pub url: String,
    pub instances: usize,
    pub steps: usize,
    pub series: usize,
    pub batch_instances: usize,
    /// Sender threads, each holding one keep-alive connection.
    pub connections: usize,
    /// Samples in acknowledged (2xx) requests.
    pub samples_sent: u64,
    /// Samples in requests that finally failed or were skipped.
    pub samples_failed: u64,
    pub requests: u64,
    pub failed_requests: u64,
    pub retries: u64,
    /// Compressed body bytes of acknowledged requests.
    pub bytes_sent: u64,
    /// Time spent generating, encoding and compressing (not measured).
    pub prepare_seconds: f64,
    /// Sending time, from the first request to the last acknowledgement.
    pub wall_seconds: f64,
    pub samples_per_second: f64,
    /// CPU seconds the load generator itself used while sending; it shares
    /// the machine with the server under test.
    pub client_cpu_seconds: f64,
    /// True when the run stopped early after too many failures.
    pub aborted: bool,
    /// The first few failure messages.
    pub errors: Vec<String>,
}

impl RemoteWriteReport {
    /// True when every request was acknowledged.
    pub fn is_success(&self) -> bool {
        self.failed_requests == 0 && !self.aborted
    }

    /// The report as a pretty-printed JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }
}

impl fmt::Display for RemoteWriteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "remote write to {}", self.url)?;
        writeln!(
            f,
            "  workload     {} instances × {} series × {} steps, {} instances per request",
            self.instances, SERIES_PER_INSTANCE, self.steps, self.batch_instances
        )?;
        writeln!(
            f,
            "  sent         {} samples in {} requests ({:.1} MB snappy) over {} connections",
            self.samples_sent,
            self.requests,
            self.bytes_sent as f64 / 1e6,
            self.connections
        )?;
        writeln!(
            f,
            "  failures     {} requests ({} samples), {} retries{}",
            self.failed_requests,
            self.samples_failed,
            self.retries,
            if self.aborted { ", run ABORTED" } else { "" }
        )?;
        for error in &self.errors {
            writeln!(f, "    {error}")?;
        }
        writeln!(
            f,
            "  prepare      {:.2} s (not timed)",
            self.prepare_seconds
        )?;
        writeln!(
            f,
            "  wall         {:.2} s (load generator CPU {:.2} s)",
            self.wall_seconds, self.client_cpu_seconds
        )?;
        write!(f, "  throughput   {:.0} samples/s", self.samples_per_second)
    }
}

/// One ready-to-send request body.
struct Body {
    snappy: Vec<u8>,
    samples: u64,
}

/// Generates the workload, sends it, and reports. Request failures are in the
/// report; an `Err` means the run could not start (bad arguments, client).
pub fn run_remote_write(args: &RemoteWriteArgs) -> anyhow::Result<RemoteWriteReport> {
    if args.instances == 0 || args.steps == 0 || args.senders == 0 || args.batch_instances == 0 {
        bail!("--instances, --steps, --senders and --batch-instances must be positive");
    }
    let start_ms = match args.start_ms {
        Some(t) => t,
        None => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
            let t = now - args.steps as i64 * STEP_MS;
            t - t.rem_euclid(STEP_MS)
        }
    };
    let prepare = Instant::now();
    let batches = args.instances.div_ceil(args.batch_instances);
    let bodies = prepare_bodies(args, start_ms, batches);
    let prepare_seconds = prepare.elapsed().as_secs_f64();

    let clients = (0..args.senders)
        .map(|_| {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(1)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .context("building HTTP client")?;
    let shared = Shared {
        args,
        bodies: &bodies,
        batches,
        next: (0..args.steps).map(|_| AtomicUsize::new(0)).collect(),
        barrier: Barrier::new(args.senders),
        abort: AtomicBool::new(false),
        stats: Stats::default(),
        errors: Mutex::new(Vec::new()),
    };
    let cpu_before = process_cpu_seconds();
    let clock = Instant::now();
    std::thread::scope(|scope| {
        for client in &clients {
            let shared = &shared;
            scope.spawn(move || shared.sender(client));
        }
    });
    let wall_seconds = clock.elapsed().as_secs_f64();
    let client_cpu_seconds = process_cpu_seconds() - cpu_before;

    let stats = &shared.stats;
    let samples_sent = stats.samples_sent.load(Ordering::Relaxed);
    let report = RemoteWriteReport {
        url: args.url.clone(),
        instances: args.instances,
        steps: args.steps,
        series: args.instances * SERIES_PER_INSTANCE,
        batch_instances: args.batch_instances,
        connections: args.senders,
        samples_sent,
        samples_failed: stats.samples_failed.load(Ordering::Relaxed),
        requests: stats.requests.load(Ordering::Relaxed),
        failed_requests: stats.failed.load(Ordering::Relaxed),
        retries: stats.retries.load(Ordering::Relaxed),
        bytes_sent: stats.bytes.load(Ordering::Relaxed),
        prepare_seconds,
        wall_seconds,
        samples_per_second: samples_sent as f64 / wall_seconds.max(1e-9),
        client_cpu_seconds,
        aborted: shared.abort.load(Ordering::Relaxed),
        errors: shared
            .errors
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
    };
    if let Some(path) = &args.json_out {
        std::fs::write(path, report.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// User plus system CPU seconds used so far by this process, all threads.
pub(crate) fn process_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and nothing else; the
    // struct is only read after a successful call.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Builds every body, indexed `step × batches + batch`. Batches are spread
/// over the machine's cores; each instance's data is independent of which
/// thread makes it, so the result is the same on any machine.
fn prepare_bodies(args: &RemoteWriteArgs, start_ms: i64, batches: usize) -> Vec<Body> {
    let families = Families::new();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(batches);
    let mut slots: Vec<Option<Body>> = (0..args.steps * batches).map(|_| None).collect();
    let made: Vec<Vec<(usize, Body)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|worker| {
                let families = &families;
                scope.spawn(move || {
                    let mine: Vec<usize> = (worker..batches).step_by(threads).collect();
                    prepare_worker(args, families, start_ms, batches, &mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread panicked"))
            .collect()
    });
    for (index, body) in made.into_iter().flatten() {
        slots[index] = Some(body);
    }
    slots
        .into_iter()
        .map(|b| b.expect("every body generated"))
        .collect()
}

/// Generates the given batches for every step.
fn prepare_worker(
    args: &RemoteWriteArgs,
    families: &Families,
    start_ms: i64,
    batches: usize,
    mine: &[usize],
) -> Vec<(usize, Body)> {
    let instances_of = |batch: usize| {
        let first = batch * args.batch_instances;
        first..(first + args.batch_instances).min(args.instances)
    };
    let mut states: Vec<Vec<InstanceState>> = mine
        .iter()
        .map(|&b| {
            instances_of(b)
                .map(|i| InstanceState::new(families, args.seed, i))
                .collect()
        })
        .collect();
    let mut encoder = WriteRequestEncoder::with_capacity(args.batch_instances * 180 * 200);
    let mut out = Vec::with_capacity(mine.len() * args.steps);
    for step in 0..args.steps {
        for (&batch, states) in mine.iter().zip(states.iter_mut()) {
            encoder.clear();
            if step == 0 && batch == 0 {
                for (family, meta) in &families.metadata {
                    encoder.add_metadata(family, meta);
                }
            }
            for state in states.iter_mut() {
                let t = state.advance(families, start_ms);
                let mut refs: Vec<LabelRef<'_>> = Vec::with_capacity(8);
                for (template, &v) in families.series.iter().zip(&state.values) {
                    refs.clear();
                    refs.extend(template.labels.iter().map(|(name, value)| {
                        let value = if *name == "instance" {
                            &state.instance
                        } else {
                            value
                        };
                        LabelRef::new(name, value)
                    }));
                    encoder.add_series(&refs, &[Sample::new(t, v)]);
                }
            }
            let body = Body {
                snappy: compress(encoder.finish()),
                samples: encoder.samples() as u64,
            };
            out.push((step * batches + batch, body));
        }
    }
    out
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    samples_sent: AtomicU64,
    samples_failed: AtomicU64,
    bytes: AtomicU64,
}

/// State shared by the sender threads.
struct Shared<'a> {
    args: &'a RemoteWriteArgs,
    bodies: &'a [Body],
    batches: usize,
    /// Next unclaimed batch of each step.
    next: Vec<AtomicUsize>,
    /// Holds every sender at the end of a step until all have finished it.
    barrier: Barrier,
    abort: AtomicBool,
    stats: Stats,
    errors: Mutex<Vec<String>>,
}

/// Failure messages kept for the report.
const KEPT_ERRORS: usize = 8;

impl Shared<'_> {
    /// Claims and sends bodies step by step. Every sender passes every
    /// step's barrier, even after an abort, so none can wait forever.
    fn sender(&self, client: &reqwest::blocking::Client) {
        for step in 0..self.args.steps {
            loop {
                let batch = self.next[step].fetch_add(1, Ordering::Relaxed);
                if batch >= self.batches {
                    break;
                }
                let body = &self.bodies[step * self.batches + batch];
                if self.abort.load(Ordering::Relaxed) {
                    self.stats
                        .samples_failed
                        .fetch_add(body.samples, Ordering::Relaxed);
                    continue;
                }
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                match self.send(client, body) {
                    Ok(()) => {
                        self.stats
                            .samples_sent
                            .fetch_add(body.samples, Ordering::Relaxed);
                        self.stats
                            .bytes
                            .fetch_add(body.snappy.len() as u64, Ordering::Relaxed);
                    }
                    Err(message) => self.fail(step, batch, body, message),
                }
            }
            self.barrier.wait();
        }
    }

    fn fail(&self, step: usize, batch: usize, body: &Body, message: String) {
        self.stats
            .samples_failed
            .fetch_add(body.samples, Ordering::Relaxed);
        let failed = self.stats.failed.fetch_add(1, Ordering::Relaxed) + 1;
        if failed >= self.args.max_failures {
            self.abort.store(true, Ordering::Relaxed);
        }
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < KEPT_ERRORS {
            errors.push(format!("step {step} batch {batch}: {message}"));
        }
    }

    /// Sends one body, retrying retryable failures with backoff from 25 ms.
    fn send(&self, client: &reqwest::blocking::Client, body: &Body) -> Result<(), String> {
        let mut backoff = Duration::from_millis(25);
        let mut attempt = 1;
        loop {
            let mut request = client
                .post(&self.args.url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("User-Agent", "agentmon-bench")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body.snappy.clone());
            if let Some(token) = &self.args.token {
                request = request.bearer_auth(token);
            }
            let (retryable, message) = match request.send() {
                Ok(response) => {
                    let status = response.status();
                    // Reading the answer to its end lets the connection be reused.
                    let text = response.text().unwrap_or_default();
                    if status.is_success() {
                        return Ok(());
                    }
                    let retryable = status.is_server_error() || status.as_u16() == 429;
                    let text: String = text.trim().chars().take(200).collect();
                    (retryable, format!("HTTP {status}: {text}"))
                }
                Err(e) => (true, format!("transport: {e}")),
            };
            if !retryable || attempt >= self.args.max_attempts {
                return Err(format!("{message} (attempt {attempt})"));
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(backoff);
            backoff *= 2;
            attempt += 1;
        }
    }
}
