//! The realistic agent-event stream of `agentmon bench events`.
//!
//! An [`EventMix`] keeps a pool of open sessions spread over many agents and
//! instances. Each call of [`EventMix::write_ndjson`] or
//! [`EventMix::write_vm_import`] picks an open session at random and writes
//! its next event: a session opens with `session_start`, then runs 3–12
//! model steps interleaved with tool calls, logs and the odd LLM error, and
//! closes with `session_end` (completed or failed), when a fresh session
//! takes its place in the pool. The mix is deterministic for a seed, so two
//! runs send the same events.
//!
//! The same events can be written two ways: as agentmon's NDJSON events
//! (`docs/events.schema.json`), or as VictoriaMetrics `/api/v1/import` JSON
//! lines, one row per event, for the peer run. The rows carry the event's
//! labels except the session id, which in a time-series database would make
//! every session a new series; their value is the event's main number
//! (prompt tokens of a step, milliseconds of a tool call, 1 otherwise).
//!
//! [`Totals`] counts what the written events must add to the derived
//! counters, so the benchmark can check that the server's counters are
//! exact.

use std::fmt::Write as _;

use super::rng::Rng;

/// Models of the steps, with providers; some are in the built-in price
/// table, the last is deliberately unknown to it.
const MODELS: &[(&str, &str)] = &[
    ("gpt-4o", "openai"),
    ("gpt-4o-mini", "openai"),
    ("claude-sonnet-4", "anthropic"),
    ("gemini-2.5-flash", "google"),
    ("in-house-llm-7b", "self-hosted"),
];
const STEP_TYPES: &[&str] = &["reasoning", "tool_selection", "planning", "reflection"];
const TOOLS: &[&str] = &[
    "web_search",
    "read_file",
    "write_file",
    "run_shell",
    "http_get",
    "sql_query",
    "vector_search",
];
const LLM_ERRORS: &[&str] = &[
    "429 Too Many Requests: rate limit exceeded",
    "context length exceeded: 131072 tokens",
    "request timed out after 60s",
    "upstream returned 500 internal server error",
];
const LOG_LEVELS: &[&str] = &["debug", "info", "info", "info", "warn", "error"];

/// What the events written so far add to the derived counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub events: u64,
    pub sessions_started: u64,
    pub sessions_ended: u64,
    pub steps: u64,
    pub tool_calls: u64,
    pub llm_errors: u64,
    pub logs: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Totals {
    /// Adds another sender's totals.
    pub fn add(&mut self, other: &Totals) {
        self.events += other.events;
        self.sessions_started += other.sessions_started;
        self.sessions_ended += other.sessions_ended;
        self.steps += other.steps;
        self.tool_calls += other.tool_calls;
        self.llm_errors += other.llm_errors;
        self.logs += other.logs;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Start,
    Working { steps_left: u32 },
    End,
}

#[derive(Debug, Clone)]
struct Session {
    number: u64,
    agent: u32,
    instance: u32,
    model: usize,
    phase: Phase,
}

/// One event about to be written, with borrowed text.
enum Event {
    Start,
    Step {
        step_type: &'static str,
        duration_ms: u64,
        prompt: u64,
        completion: u64,
        cost_micro_usd: Option<u64>,
    },
    Tool {
        tool: &'static str,
        status: &'static str,
        duration_ms: u64,
    },
    LlmError {
        error: &'static str,
    },
    Log {
        level: &'static str,
        detail: u64,
    },
    End {
        failed: bool,
    },
}

/// A deterministic stream of agent events over a pool of open sessions.
pub struct EventMix {
    rng: Rng,
    /// Prefix of every session id, unique per sender and run.
    prefix: String,
    agents: u32,
    instances_per_agent: u32,
    sessions: Vec<Session>,
    next_session: u64,
    totals: Totals,
}

impl EventMix {
    /// A stream of `open_sessions` concurrent sessions over `agents` agents
    /// with `instances_per_agent` instances each; session ids start with
    /// `prefix`.
    pub fn new(
        seed: u64,
        prefix: String,
        agents: u32,
        instances_per_agent: u32,
        open_sessions: usize,
    ) -> EventMix {
        let mut mix = EventMix {
            rng: Rng::new(seed),
            prefix,
            agents: agents.max(1),
            instances_per_agent: instances_per_agent.max(1),
            sessions: Vec::with_capacity(open_sessions.max(1)),
            next_session: 0,
            totals: Totals::default(),
        };
        for _ in 0..open_sessions.max(1) {
            let session = mix.new_session();
            mix.sessions.push(session);
        }
        mix
    }

    /// What the events written so far add up to.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    fn new_session(&mut self) -> Session {
        let number = self.next_session;
        self.next_session += 1;
        Session {
            number,
            agent: (self.rng.next_u64() % u64::from(self.agents)) as u32,
            instance: (self.rng.next_u64() % u64::from(self.instances_per_agent)) as u32,
            model: (self.rng.next_u64() % MODELS.len() as u64) as usize,
            phase: Phase::Start,
        }
    }

    /// Advances a random open session by one event; returns the session's
    /// index in the pool and the event.
    fn next_event(&mut self) -> (usize, Event) {
        let index = (self.rng.next_u64() % self.sessions.len() as u64) as usize;
        let phase = self.sessions[index].phase;
        let totals = &mut self.totals;
        totals.events += 1;
        let event = match phase {
            Phase::Start => {
                totals.sessions_started += 1;
                let steps = self.rng.range(3, 12) as u32;
                self.sessions[index].phase = Phase::Working { steps_left: steps };
                Event::Start
            }
            Phase::Working { steps_left } => {
                let roll = self.rng.next_f64();
                if roll < 0.40 {
                    let prompt = self.rng.range(200, 6000) as u64;
                    let completion = self.rng.range(10, 900) as u64;
                    totals.steps += 1;
                    totals.prompt_tokens += prompt;
                    totals.completion_tokens += completion;
                    self.sessions[index].phase = if steps_left <= 1 {
                        Phase::End
                    } else {
                        Phase::Working {
                            steps_left: steps_left - 1,
                        }
                    };
                    Event::Step {
                        step_type: STEP_TYPES[(self.rng.next_u64() % 4) as usize],
                        duration_ms: self.rng.range(150, 9000) as u64,
                        prompt,
                        completion,
                        // Half the clients report their own cost.
                        cost_micro_usd: (self.rng.next_f64() < 0.5)
                            .then(|| (prompt * 3 + completion * 12) / 1000 + 1),
                    }
                } else if roll < 0.75 {
                    totals.tool_calls += 1;
                    let status = match self.rng.next_u64() % 20 {
                        0 | 1 => "error",
                        2 => "timeout",
                        _ => "success",
                    };
                    Event::Tool {
                        tool: TOOLS[(self.rng.next_u64() % TOOLS.len() as u64) as usize],
                        status,
                        duration_ms: self.rng.range(5, 4000) as u64,
                    }
                } else if roll < 0.97 {
                    totals.logs += 1;
                    Event::Log {
                        level: LOG_LEVELS[(self.rng.next_u64() % LOG_LEVELS.len() as u64) as usize],
                        detail: self.rng.next_u64() % 100_000,
                    }
                } else {
                    totals.llm_errors += 1;
                    Event::LlmError {
                        error: LLM_ERRORS[(self.rng.next_u64() % LLM_ERRORS.len() as u64) as usize],
                    }
                }
            }
            Phase::End => {
                totals.sessions_ended += 1;
                Event::End {
                    failed: self.rng.range(0, 9) == 0,
                }
            }
        };
        (index, event)
    }

    /// After an `End` event the session leaves the pool for a fresh one.
    fn retire_if_ended(&mut self, index: usize, event: &Event) {
        if matches!(event, Event::End { .. }) {
            self.sessions[index] = self.new_session();
        }
    }

    /// Appends `count` events as NDJSON lines, each stamped `timestamp_ms`.
    pub fn write_ndjson(&mut self, out: &mut String, count: usize, timestamp_ms: i64) {
        for _ in 0..count {
            let (index, event) = self.next_event();
            let session = &self.sessions[index];
            let (model, provider) = MODELS[session.model];
            // Writing into a String cannot fail.
            let _ = write!(
                out,
                "{{\"session_id\":\"{}-{}\",\"agent\":\"agent-{}\",\"instance\":\"agent-{}-{}\",\"timestamp\":{timestamp_ms},",
                self.prefix, session.number, session.agent, session.agent, session.instance
            );
            let _ = match &event {
                Event::Start => write!(
                    out,
                    "\"type\":\"session_start\",\"attributes\":{{\"user\":\"u{}\",\"channel\":\"api\"}}}}",
                    session.number % 977
                ),
                Event::Step {
                    step_type,
                    duration_ms,
                    prompt,
                    completion,
                    cost_micro_usd,
                } => {
                    let _ = write!(
                        out,
                        "\"type\":\"step\",\"model\":\"{model}\",\"provider\":\"{provider}\",\"step_type\":\"{step_type}\",\"duration_seconds\":{}.{:03},\"prompt_tokens\":{prompt},\"completion_tokens\":{completion}",
                        duration_ms / 1000,
                        duration_ms % 1000
                    );
                    if let Some(micro) = cost_micro_usd {
                        let _ = write!(out, ",\"cost_usd\":{}.{:06}", micro / 1_000_000, micro % 1_000_000);
                    }
                    write!(out, "}}")
                }
                Event::Tool {
                    tool,
                    status,
                    duration_ms,
                } => {
                    let _ = write!(
                        out,
                        "\"type\":\"tool_call\",\"tool_name\":\"{tool}\",\"status\":\"{status}\",\"duration_seconds\":{}.{:03}",
                        duration_ms / 1000,
                        duration_ms % 1000
                    );
                    if *status != "success" {
                        let _ = write!(out, ",\"error\":\"{tool} {status}\"");
                    }
                    write!(out, "}}")
                }
                Event::LlmError { error } => write!(
                    out,
                    "\"type\":\"llm_error\",\"model\":\"{model}\",\"error\":\"{error}\"}}"
                ),
                Event::Log { level, detail } => write!(
                    out,
                    "\"type\":\"log\",\"level\":\"{level}\",\"message\":\"handled item {detail} of the plan\"}}"
                ),
                Event::End { failed } => write!(
                    out,
                    "\"type\":\"session_end\",\"status\":\"{}\",\"output\":\"{}\"}}",
                    if *failed { "failed" } else { "completed" },
                    if *failed { "gave up" } else { "done" }
                ),
            };
            out.push('\n');
            self.retire_if_ended(index, &event);
        }
    }

    /// Appends `count` events as VictoriaMetrics import lines, one row each.
    pub fn write_vm_import(&mut self, out: &mut String, count: usize, timestamp_ms: i64) {
        for _ in 0..count {
            let (index, event) = self.next_event();
            let session = &self.sessions[index];
            let (model, provider) = MODELS[session.model];
            let (name, value) = match &event {
                Event::Start => ("agent_session_start", 1),
                Event::Step { prompt, .. } => ("agent_step", *prompt),
                Event::Tool { duration_ms, .. } => ("agent_tool_call", *duration_ms),
                Event::LlmError { .. } => ("agent_llm_error", 1),
                Event::Log { .. } => ("agent_log", 1),
                Event::End { .. } => ("agent_session_end", 1),
            };
            let _ = write!(
                out,
                "{{\"metric\":{{\"__name__\":\"{name}\",\"agent\":\"agent-{}\",\"instance\":\"agent-{}-{}\"",
                session.agent, session.agent, session.instance
            );
            match &event {
                Event::Step { step_type, .. } => {
                    let _ = write!(
                        out,
                        ",\"model\":\"{model}\",\"provider\":\"{provider}\",\"step_type\":\"{step_type}\""
                    );
                }
                Event::Tool { tool, status, .. } => {
                    let _ = write!(out, ",\"tool_name\":\"{tool}\",\"status\":\"{status}\"");
                }
                Event::LlmError { .. } => {
                    let _ = write!(out, ",\"model\":\"{model}\"");
                }
                Event::Log { level, .. } => {
                    let _ = write!(out, ",\"level\":\"{level}\"");
                }
                Event::End { failed } => {
                    let _ = write!(
                        out,
                        ",\"status\":\"{}\"",
                        if *failed { "failed" } else { "completed" }
                    );
                }
                Event::Start => {}
            }
            let _ = writeln!(
                out,
                "}},\"values\":[{value}],\"timestamps\":[{timestamp_ms}]}}"
            );
            self.retire_if_ended(index, &event);
        }
    }
}
