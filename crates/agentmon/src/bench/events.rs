//! `agentmon bench events`: sends the realistic agent-event stream of
//! [`super::event_mix`] to `POST /api/v1/events` as NDJSON batches (or, for
//! the peer run, to VictoriaMetrics' `/api/v1/import` as JSON lines, one row
//! per event) and measures the sustained rate.
//!
//! `--concurrency` threads each own a keep-alive connection and an event
//! stream of their own (distinct session ids); each posts batches of
//! `--batch-size` events, one after another, until `--duration` has
//! passed. A sender's next batches are built on a thread of its own while
//! the current one is in flight (as events already waiting in a real
//! client), so the rate is the server's, not the generator's; the load
//! generator's own CPU time is in the report. Only acknowledged (2xx) batches count. A refused batch is
//! not retried: agentmon applies nothing of a refused request, so the
//! counts of acknowledged events stay exact.
//!
//! With `--verify-metrics URL` (agentmon's `/metrics/agents`), the derived
//! counters are read before and after the run and their increase is
//! compared with what the acknowledged events must add: prompt and
//! completion tokens, tool calls and LLM errors. Any difference is a
//! failure of the run.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;

use super::event_mix::{EventMix, Totals};
use super::remote_write::process_cpu_seconds;

/// What the requests carry.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventsFormat {
    /// agentmon events as NDJSON to `/api/v1/events`.
    Agentmon,
    /// VictoriaMetrics JSON lines to `/api/v1/import`, one row per event.
    VmImport,
}

/// Options of `agentmon bench events`.
#[derive(clap::Args, Debug, Clone)]
pub struct EventsArgs {
    /// Endpoint, e.g. http://127.0.0.1:8080/api/v1/events or
    /// http://127.0.0.1:8428/api/v1/import.
    #[arg(long)]
    pub url: String,
    /// Body format.
    #[arg(long, value_enum, default_value_t = EventsFormat::Agentmon)]
    pub format: EventsFormat,
    /// Parallel sender threads, each with its own keep-alive connection.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Events (or import lines) per request.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// How long to send, e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Distinct agents.
    #[arg(long, default_value_t = 20)]
    pub agents: u32,
    /// Instances per agent.
    #[arg(long, default_value_t = 10)]
    pub instances_per_agent: u32,
    /// Sessions open at once per sender.
    #[arg(long, default_value_t = 500)]
    pub open_sessions: usize,
    /// Seed of the event stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bearer token sent in the Authorization header.
    #[arg(long)]
    pub token: Option<String>,
    /// agentmon's /metrics/agents: check the derived counters exactly.
    #[arg(long)]
    pub verify_metrics: Option<String>,
    /// Metric namespace of the derived counters (agents.namespace).
    #[arg(long, default_value = "hermes")]
    pub namespace: String,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    agentmon_model::duration::parse(text).map_err(|e| e.to_string())
}

/// One derived counter checked against the events sent.
#[derive(Debug, Clone, Serialize)]
pub struct CounterCheck {
    pub metric: String,
    pub expected_increase: f64,
    pub observed_increase: f64,
}

impl CounterCheck {
    fn exact(&self) -> bool {
        self.expected_increase == self.observed_increase
    }
}

/// Outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct EventsReport {
    pub url: String,
    pub format: EventsFormat,
    pub concurrency: usize,
    pub batch_size: usize,
    /// Events (or rows) in acknowledged requests.
    pub events_sent: u64,
    pub requests: u64,
    pub failed_requests: u64,
    /// Body bytes of acknowledged requests.
    pub bytes_sent: u64,
    /// From the first request to the last answer.
    pub wall_seconds: f64,
    pub events_per_second: f64,
    /// Median and slowest request round trip, milliseconds.
    pub request_p50_ms: f64,
    pub request_max_ms: f64,
    /// CPU seconds the load generator used, building bodies included.
    pub client_cpu_seconds: f64,
    /// What the acknowledged events add up to.
    pub totals: Totals,
    /// Derived counters compared, when `--verify-metrics` was given.
    pub counter_checks: Vec<CounterCheck>,
    /// The first few failure messages.
    pub errors: Vec<String>,
}

impl EventsReport {
    /// True when every request was acknowledged and every counter exact.
    pub fn is_success(&self) -> bool {
        self.failed_requests == 0 && self.counter_checks.iter().all(CounterCheck::exact)
    }
}

impl fmt::Display for EventsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "events to {} ({:?})", self.url, self.format)?;
        writeln!(
            f,
            "  sent         {} events in {} requests of {} ({:.1} MB) over {} connections",
            self.events_sent,
            self.requests,
            self.batch_size,
            self.bytes_sent as f64 / 1e6,
            self.concurrency
        )?;
        writeln!(f, "  failures     {} requests", self.failed_requests)?;
        for error in &self.errors {
            writeln!(f, "    {error}")?;
        }
        writeln!(
            f,
            "  requests     p50 {:.2} ms, max {:.2} ms",
            self.request_p50_ms, self.request_max_ms
        )?;
        writeln!(
            f,
            "  wall         {:.2} s (load generator CPU {:.2} s)",
            self.wall_seconds, self.client_cpu_seconds
        )?;
        for check in &self.counter_checks {
            writeln!(
                f,
                "  counter      {}: +{} expected, +{} observed{}",
                check.metric,
                check.expected_increase,
                check.observed_increase,
                if check.exact() { "" } else { "  MISMATCH" }
            )?;
        }
        write!(f, "  throughput   {:.0} events/s", self.events_per_second)
    }
}

/// What one sender thread did.
#[derive(Default)]
struct SenderOutcome {
    totals: Totals,
    requests: u64,
    failed: u64,
    bytes: u64,
    round_trips_us: Vec<u64>,
}

const KEPT_ERRORS: usize = 8;

/// Sends for `--duration` and reports. Request failures are in the report;
/// an `Err` means the run could not start or the counters not be read.
pub fn run_events_bench(args: &EventsArgs) -> anyhow::Result<EventsReport> {
    if args.concurrency == 0 || args.batch_size == 0 || args.duration.is_zero() {
        bail!("--concurrency, --batch-size and --duration must be positive");
    }
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("building HTTP client")?;
    let before = match &args.verify_metrics {
        Some(url) => Some(read_counters(&http, url, &args.namespace)?),
        None => None,
    };
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let errors = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let cpu_before = process_cpu_seconds();
    let clock = Instant::now();
    let outcomes: Vec<SenderOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.concurrency)
            .map(|sender| {
                let (errors, stop) = (&errors, &stop);
                scope.spawn(move || send_loop(args, sender, run_id, clock, stop, errors))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall_seconds = clock.elapsed().as_secs_f64();
    let client_cpu_seconds = process_cpu_seconds() - cpu_before;

    let mut totals = Totals::default();
    let (mut requests, mut failed, mut bytes) = (0, 0, 0);
    let mut round_trips: Vec<u64> = Vec::new();
    for outcome in &outcomes {
        totals.add(&outcome.totals);
        requests += outcome.requests;
        failed += outcome.failed;
        bytes += outcome.bytes;
        round_trips.extend(&outcome.round_trips_us);
    }
    round_trips.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    let counter_checks = match (&args.verify_metrics, before) {
        (Some(url), Some(before)) => {
            let after = read_counters(&http, url, &args.namespace)?;
            compare_counters(&args.namespace, &before, &after, &totals)
        }
        _ => Vec::new(),
    };
    let report = EventsReport {
        url: args.url.clone(),
        format: args.format,
        concurrency: args.concurrency,
        batch_size: args.batch_size,
        events_sent: totals.events,
        requests,
        failed_requests: failed,
        bytes_sent: bytes,
        wall_seconds,
        events_per_second: totals.events as f64 / wall_seconds.max(1e-9),
        request_p50_ms: round_trips
            .get(round_trips.len() / 2)
            .copied()
            .map_or(0.0, ms),
        request_max_ms: round_trips.last().copied().map_or(0.0, ms),
        client_cpu_seconds,
        totals,
        counter_checks,
        errors: errors.into_inner().unwrap_or_else(|e| e.into_inner()),
    };
    if let Some(path) = &args.json_out {
        let json = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// One sender: posts batches until the duration has passed. Its batches
/// are built on a thread of their own, at most [`BATCHES_AHEAD`] ahead of
/// the one in flight, as a client whose events are already waiting would
/// have them: the time between two requests is then the server's round
/// trip, not the generator's formatting.
fn send_loop(
    args: &EventsArgs,
    sender: usize,
    run_id: u64,
    clock: Instant,
    stop: &AtomicBool,
    errors: &Mutex<Vec<String>>,
) -> SenderOutcome {
    let mut outcome = SenderOutcome::default();
    let client = match reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            note_error(
                errors,
                format!("sender {sender}: building HTTP client: {e}"),
            );
            outcome.failed += 1;
            return outcome;
        }
    };
    let content_type = match args.format {
        EventsFormat::Agentmon => "application/x-ndjson",
        EventsFormat::VmImport => "application/json",
    };
    let (batches, ready) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
    std::thread::scope(|scope| {
        scope.spawn(move || generate_batches(args, sender, run_id, &batches));
        while clock.elapsed() < args.duration && !stop.load(Ordering::Relaxed) {
            // The generator only stops when this loop has dropped `ready`.
            let Ok(batch) = ready.recv() else { break };
            let bytes = batch.body.len() as u64;
            let mut request = client
                .post(&args.url)
                .header("Content-Type", content_type)
                .header("User-Agent", "agentmon-bench")
                .body(batch.body);
            if let Some(token) = &args.token {
                request = request.bearer_auth(token);
            }
            let sent_at = Instant::now();
            outcome.requests += 1;
            let failure = match request.send() {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().unwrap_or_default();
                    if status.is_success() {
                        None
                    } else {
                        let text: String = text.trim().chars().take(200).collect();
                        Some(format!("HTTP {status}: {text}"))
                    }
                }
                Err(e) => Some(format!("transport: {e}")),
            };
            outcome
                .round_trips_us
                .push(sent_at.elapsed().as_micros() as u64);
            match failure {
                None => {
                    outcome.totals.add(&batch.totals);
                    outcome.bytes += bytes;
                }
                Some(message) => {
                    outcome.failed += 1;
                    note_error(errors, format!("sender {sender}: {message}"));
                    if outcome.failed >= 20 {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        // Unblocks the generator, whose next send now fails.
        drop(ready);
    });
    outcome
}

/// Batches built ahead of the one a sender has in flight.
const BATCHES_AHEAD: usize = 2;

/// One request's body and what its events add to the counters.
struct Batch {
    body: Vec<u8>,
    totals: Totals,
}

/// Builds a sender's batches (its own event stream, distinct session ids)
/// until the sender stops taking them.
fn generate_batches(
    args: &EventsArgs,
    sender: usize,
    run_id: u64,
    out: &std::sync::mpsc::SyncSender<Batch>,
) {
    let mut mix = EventMix::new(
        args.seed.wrapping_add(sender as u64 * 0x1000_0001),
        format!("bench-{run_id:x}-{sender}"),
        args.agents,
        args.instances_per_agent,
        args.open_sessions,
    );
    loop {
        let before = mix.totals();
        let mut body = String::with_capacity(args.batch_size * 400);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        match args.format {
            EventsFormat::Agentmon => mix.write_ndjson(&mut body, args.batch_size, now_ms),
            EventsFormat::VmImport => mix.write_vm_import(&mut body, args.batch_size, now_ms),
        }
        let batch = Batch {
            body: body.into_bytes(),
            totals: difference(&mix.totals(), &before),
        };
        if out.send(batch).is_err() {
            return;
        }
    }
}

fn note_error(errors: &Mutex<Vec<String>>, message: String) {
    let mut errors = errors.lock().unwrap_or_else(|e| e.into_inner());
    if errors.len() < KEPT_ERRORS {
        errors.push(message);
    }
}

/// `after − before`, field by field.
fn difference(after: &Totals, before: &Totals) -> Totals {
    Totals {
        events: after.events - before.events,
        sessions_started: after.sessions_started - before.sessions_started,
        sessions_ended: after.sessions_ended - before.sessions_ended,
        steps: after.steps - before.steps,
        tool_calls: after.tool_calls - before.tool_calls,
        llm_errors: after.llm_errors - before.llm_errors,
        logs: after.logs - before.logs,
        prompt_tokens: after.prompt_tokens - before.prompt_tokens,
        completion_tokens: after.completion_tokens - before.completion_tokens,
    }
}

/// Sums of the checked derived counters on a `/metrics/agents` page.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CounterSums {
    pub prompt_tokens: f64,
    pub completion_tokens: f64,
    pub tool_calls: f64,
    pub llm_errors: f64,
}

fn read_counters(
    http: &reqwest::blocking::Client,
    url: &str,
    namespace: &str,
) -> anyhow::Result<CounterSums> {
    let response = http.get(url).send().with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let page = response.text().with_context(|| format!("reading {url}"))?;
    if !status.is_success() {
        bail!("GET {url} answered {status}");
    }
    Ok(sum_counters(&page, namespace))
}

/// Reads the counters from a text-format page: every sample line of the
/// family, summed over label sets (`token_type` split for tokens).
pub fn sum_counters(page: &str, namespace: &str) -> CounterSums {
    let tokens = format!("{namespace}_tokens_total{{");
    let tools = format!("{namespace}_tool_call_total{{");
    let errors = format!("{namespace}_llm_errors_total{{");
    let mut sums = CounterSums::default();
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if series.starts_with(&tokens) {
            if series.contains("token_type=\"prompt\"") {
                sums.prompt_tokens += value;
            } else if series.contains("token_type=\"completion\"") {
                sums.completion_tokens += value;
            }
        } else if series.starts_with(&tools) {
            sums.tool_calls += value;
        } else if series.starts_with(&errors) {
            sums.llm_errors += value;
        }
    }
    sums
}

fn compare_counters(
    namespace: &str,
    before: &CounterSums,
    after: &CounterSums,
    sent: &Totals,
) -> Vec<CounterCheck> {
    let check = |name: String, expected: u64, before: f64, after: f64| CounterCheck {
        metric: name,
        expected_increase: expected as f64,
        observed_increase: after - before,
    };
    vec![
        check(
            format!("{namespace}_tokens_total{{token_type=\"prompt\"}}"),
            sent.prompt_tokens,
            before.prompt_tokens,
            after.prompt_tokens,
        ),
        check(
            format!("{namespace}_tokens_total{{token_type=\"completion\"}}"),
            sent.completion_tokens,
            before.completion_tokens,
            after.completion_tokens,
        ),
        check(
            format!("{namespace}_tool_call_total"),
            sent.tool_calls,
            before.tool_calls,
            after.tool_calls,
        ),
        check(
            format!("{namespace}_llm_errors_total"),
            sent.llm_errors,
            before.llm_errors,
            after.llm_errors,
        ),
    ]
}
