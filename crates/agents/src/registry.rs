//! The registry: series values per family and the open sessions.

use std::collections::{BTreeMap, HashMap};

use agentmon_model::{AgentEvent, EventKind, FastHashMap, SessionStatus};
use parking_lot::{Mutex, MutexGuard};

use crate::families::{self, Family, Kind};
use crate::genai::GenAiBatch;
use crate::pricing::PriceTable;
use crate::semconv::{self, Observation};

/// Settings of the registry (`agents:` in `agentmon.yml`).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentMetricsOptions {
    /// Prefix of every family name, without the `_`.
    pub namespace: String,
    /// A session with no event for this long (by event time) is closed
    /// without being counted as completed.
    pub session_timeout_ms: i64,
    /// Prices of steps that come without `cost_usd` (`pricing:`).
    pub prices: PriceTable,
}

impl Default for AgentMetricsOptions {
    fn default() -> AgentMetricsOptions {
        AgentMetricsOptions {
            namespace: "hermes".into(),
            session_timeout_ms: 30 * 60 * 1000,
            prices: PriceTable::builtin(),
        }
    }
}

/// One series' value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    /// Non-cumulative counts per bucket (the last is `+Inf`), sum, count.
    Histogram {
        buckets: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

pub(crate) use crate::series::Series;

#[derive(Debug)]
struct Session {
    started_ms: i64,
    last_seen_ms: i64,
    steps: u64,
    /// Cost of the session's steps so far (client's `cost_usd`, else
    /// priced), behind `<ns>_session_max_cost_usd`.
    cost_usd: f64,
    /// Calls per tool so far, behind `<ns>_session_max_tool_calls`; at
    /// most [`MAX_TOOLS_PER_SESSION`] tools are counted.
    tool_calls: HashMap<String, u64>,
}

/// Distinct tools counted per open session; calls of further tools still
/// count in the families, not in the per-session maximum.
const MAX_TOOLS_PER_SESSION: usize = 1024;

/// An open session with its agent and instance; sessions are kept by
/// `session_id`, several under one id when agents or instances differ.
#[derive(Debug)]
struct OpenSession {
    agent: String,
    instance: String,
    session: Session,
}

/// A session closed because no event came for the session timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredSession {
    pub agent: String,
    pub instance: String,
    pub session_id: String,
    pub started_ms: i64,
    pub last_seen_ms: i64,
    pub steps: u64,
}

/// A batch folded in provisionally (see [`AgentMetrics::apply_pending`]);
/// the registry is locked while this lives. Dropped without a verdict, the
/// batch is kept.
#[must_use = "keep the batch or take it back"]
pub struct Pending<'a> {
    metrics: &'a AgentMetrics,
    state: MutexGuard<'a, State>,
    journal: Journal,
    events: &'a [AgentEvent],
}

impl Pending<'_> {
    /// Keeps the batch; returns the sessions its newest event time closed
    /// for silence.
    pub fn keep(mut self) -> Vec<ExpiredSession> {
        self.journal.undo.clear();
        match self.events.iter().map(|e| e.timestamp_ms).max() {
            Some(newest) => self
                .state
                .expire(newest, self.metrics.options.session_timeout_ms),
            None => Vec::new(),
        }
    }

    /// Takes the batch back out: the registry is as it was before it.
    pub fn take_back(mut self) {
        let journal = std::mem::take(&mut self.journal);
        self.state.undo(journal, self.events);
    }
}

/// Which family array a journalled series is in.
#[derive(Debug, Clone, Copy)]
enum FamilyRef {
    /// Indexed like [`families::ALL`].
    Hermes(usize),
    /// Indexed like [`semconv::ALL`].
    Semconv(usize),
}

/// What one change of a provisional batch was, to take it back: old
/// values are kept whole, so taking back is exact.
#[derive(Debug)]
enum Undo {
    Scalar {
        family: FamilyRef,
        slot: usize,
        old: f64,
    },
    Observed {
        family: FamilyRef,
        slot: usize,
        bucket: usize,
        old_sum: f64,
    },
    /// The open session of event `event` was updated by it.
    SessionTouched {
        event: usize,
        last_seen_ms: i64,
        steps: u64,
        cost_usd: f64,
        tool: ToolChange,
    },
    /// Event `event` opened its session.
    SessionOpened { event: usize },
    /// Event `event` closed this session.
    SessionClosed { event: usize, session: Session },
    /// Event `event`'s model had this unpriced total before.
    Unpriced { event: usize, old: Option<u64> },
}

/// What a tool call did to its session's per-tool counts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ToolChange {
    None,
    Incremented,
    Inserted,
}

/// The changes of a provisional batch, in order, and how many series each
/// family had before it (the ones it created are removed on undo).
#[derive(Debug, Default)]
struct Journal {
    undo: Vec<Undo>,
    hermes_len: [usize; 10],
    semconv_len: [usize; 4],
}

impl Journal {
    fn start(state: &State, events: usize) -> Journal {
        Journal {
            // About what an event changes: a session and four series.
            undo: Vec::with_capacity(events.saturating_mul(5)),
            hermes_len: std::array::from_fn(|i| state.series[i].len()),
            semconv_len: std::array::from_fn(|i| state.semconv[i].len()),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Indexed like [`families::ALL`].
    pub(crate) series: [Series; 10],
    /// Indexed like [`semconv::ALL`].
    pub(crate) semconv: [Series; 4],
    /// Whether each semconv family has reached its series cap (warned once).
    semconv_full: [bool; 4],
    /// By `session_id`.
    sessions: FastHashMap<String, Vec<OpenSession>>,
    /// No open session was last seen before this (a walk that leaves none
    /// open sets `i64::MAX`): a batch whose cutoff is not past it closes
    /// nothing, so the sessions are only walked when one may have gone
    /// silent. Events only move a session's last sight later, so the bound
    /// stays true until an expiry walk raises it to the oldest left.
    oldest_seen_ms: i64,
    /// Tokens of steps whose model has no price and which came without
    /// `cost_usd`, per model, over all agents.
    unpriced: BTreeMap<String, u64>,
    /// The journal of a provisional batch being folded in.
    recording: Option<Journal>,
    /// The index in its batch of the event being folded in.
    event_index: usize,
}

/// The in-process registry of derived metrics. Cheap to share behind an
/// `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct AgentMetrics {
    options: AgentMetricsOptions,
    pub(crate) state: Mutex<State>,
}

impl AgentMetrics {
    pub fn new(options: AgentMetricsOptions) -> AgentMetrics {
        AgentMetrics {
            options,
            state: Mutex::new(State::default()),
        }
    }

    pub fn options(&self) -> &AgentMetricsOptions {
        &self.options
    }

    /// Folds a validated batch in, all under one lock, so readers see all
    /// of it or none. Sessions are opened by `session_start` only: events
    /// of a session never started (or already closed) update the families
    /// but not the session gauge or the per-session histograms.
    pub fn apply(&self, events: &[AgentEvent]) {
        let _ = self.apply_with_observations(events, &[]);
    }

    /// Records GenAI semconv observations (from
    /// [`crate::genai::map_spans`]) in their histograms, all under one
    /// lock. Observations whose value is negative or not finite are
    /// ignored.
    pub fn observe(&self, observations: &[Observation]) {
        let _ = self.apply_with_observations(&[], observations);
    }

    /// Folds a mapped span batch in whole: its events as [`Self::apply`]
    /// does, then its observations as [`Self::observe`], under one lock so
    /// readers see all of the batch or none of it.
    pub fn apply_genai(&self, batch: &GenAiBatch) {
        let _ = self.apply_with_observations(&batch.events, &batch.observations);
    }

    /// [`Self::apply`] and [`Self::observe`] under one lock, for a caller
    /// that holds a batch's events and observations apart. Returns the
    /// sessions the batch's newest event time closed for silence.
    pub fn apply_with_observations(
        &self,
        events: &[AgentEvent],
        observations: &[Observation],
    ) -> Vec<ExpiredSession> {
        let mut state = self.state.lock();
        for event in events {
            state.apply(event, &self.options.prices);
        }
        for observation in observations {
            state.observe_semconv(observation);
        }
        match events.iter().map(|e| e.timestamp_ms).max() {
            Some(newest) => state.expire(newest, self.options.session_timeout_ms),
            None => Vec::new(),
        }
    }

    /// Folds a batch in as [`Self::apply_with_observations`] does, but
    /// provisionally: the registry stays locked (readers wait) until the
    /// caller either keeps the batch ([`Pending::keep`], which also closes
    /// the sessions the batch's newest event time silenced) or takes it
    /// back out whole ([`Pending::take_back`]: every value, series and
    /// session as before, exactly). For a caller that stores the batch
    /// elsewhere at the same time and must not count a batch it failed to
    /// store.
    pub fn apply_pending<'a>(
        &'a self,
        events: &'a [AgentEvent],
        observations: &[Observation],
    ) -> Pending<'a> {
        let mut state = self.state.lock();
        state.recording = Some(Journal::start(&state, events.len()));
        for (index, event) in events.iter().enumerate() {
            state.event_index = index;
            state.apply(event, &self.options.prices);
        }
        for observation in observations {
            state.observe_semconv(observation);
        }
        let journal = state.recording.take().unwrap_or_default();
        Pending {
            metrics: self,
            state,
            journal,
            events,
        }
    }

    /// Closes sessions silent since before `now_ms - session_timeout`, and
    /// returns them.
    pub fn expire_sessions(&self, now_ms: i64) -> Vec<ExpiredSession> {
        self.state
            .lock()
            .expire(now_ms, self.options.session_timeout_ms)
    }

    /// The models seen without a price, with their unpriced tokens (prompt
    /// and completion together), by model name.
    pub fn unpriced_models(&self) -> Vec<(String, u64)> {
        let state = self.state.lock();
        state
            .unpriced
            .iter()
            .map(|(m, t)| (m.clone(), *t))
            .collect()
    }

    /// The cost of a step event: the client's `cost_usd` if it sent one,
    /// else its tokens at the model's price; `None` for other events and
    /// for steps of models with no price.
    pub fn step_cost(&self, kind: &EventKind) -> Option<f64> {
        step_cost(&self.options.prices, kind)
    }

    /// How many sessions are open.
    pub fn open_sessions(&self) -> usize {
        self.state.lock().sessions.values().map(Vec::len).sum()
    }
}

/// See [`AgentMetrics::step_cost`].
fn step_cost(prices: &PriceTable, kind: &EventKind) -> Option<f64> {
    let EventKind::Step {
        model,
        prompt_tokens,
        completion_tokens,
        cost_usd,
        ..
    } = kind
    else {
        return None;
    };
    cost_usd.or_else(|| {
        prices
            .lookup(model)
            .map(|price| price.cost(*prompt_tokens, *completion_tokens))
    })
}

/// The open session of this event's agent, instance and id.
fn session_of<'a>(
    sessions: &'a mut FastHashMap<String, Vec<OpenSession>>,
    event: &AgentEvent,
) -> Option<&'a mut Session> {
    sessions
        .get_mut(event.session_id.as_str())?
        .iter_mut()
        .find(|open| open.agent == event.agent && open.instance == event.instance)
        .map(|open| &mut open.session)
}

impl State {
    /// Opens `session` under this event's id, agent and instance.
    fn insert_session(&mut self, event: &AgentEvent, session: Session) {
        self.oldest_seen_ms = self.oldest_seen_ms.min(session.last_seen_ms);
        self.sessions
            .entry(event.session_id.clone())
            .or_default()
            .push(OpenSession {
                agent: event.agent.clone(),
                instance: event.instance.clone(),
                session,
            });
    }

    /// Closes the open session of this event's agent, instance and id.
    fn remove_session(&mut self, event: &AgentEvent) -> Option<Session> {
        let open = self.sessions.get_mut(event.session_id.as_str())?;
        let at = open
            .iter()
            .position(|open| open.agent == event.agent && open.instance == event.instance)?;
        let removed = open.swap_remove(at);
        if open.is_empty() {
            self.sessions.remove(event.session_id.as_str());
        }
        Some(removed.session)
    }

    fn apply(&mut self, event: &AgentEvent, prices: &PriceTable) {
        let cost = step_cost(prices, &event.kind);
        // The event's open session is looked up once; what the event does
        // to it is done here, what it does to the families below.
        let open = match session_of(&mut self.sessions, event) {
            Some(session) => {
                let before = self.recording.is_some().then_some((
                    session.last_seen_ms,
                    session.steps,
                    session.cost_usd,
                ));
                let mut tool = ToolChange::None;
                session.last_seen_ms = session.last_seen_ms.max(event.timestamp_ms);
                match &event.kind {
                    EventKind::Step { .. } => {
                        session.steps += 1;
                        if let Some(cost) = cost {
                            session.cost_usd += cost;
                        }
                    }
                    EventKind::ToolCall { tool_name, .. } => {
                        let known = session.tool_calls.len();
                        match session.tool_calls.get_mut(tool_name.as_str()) {
                            Some(calls) => {
                                *calls += 1;
                                tool = ToolChange::Incremented;
                            }
                            None if known < MAX_TOOLS_PER_SESSION => {
                                session.tool_calls.insert(tool_name.clone(), 1);
                                tool = ToolChange::Inserted;
                            }
                            None => {}
                        }
                    }
                    _ => {}
                }
                if let (Some(journal), Some((last_seen_ms, steps, cost_usd))) =
                    (self.recording.as_mut(), before)
                {
                    journal.undo.push(Undo::SessionTouched {
                        event: self.event_index,
                        last_seen_ms,
                        steps,
                        cost_usd,
                        tool,
                    });
                }
                true
            }
            None => false,
        };
        let common = [event.agent.as_str(), event.instance.as_str()];
        match &event.kind {
            EventKind::SessionStart { .. } => {
                if !open {
                    self.insert_session(
                        event,
                        Session {
                            started_ms: event.timestamp_ms,
                            last_seen_ms: event.timestamp_ms,
                            steps: 0,
                            cost_usd: 0.0,
                            tool_calls: HashMap::new(),
                        },
                    );
                    if let Some(journal) = self.recording.as_mut() {
                        journal.undo.push(Undo::SessionOpened {
                            event: self.event_index,
                        });
                    }
                    self.add(families::ACTIVE_SESSIONS, &common, &[], 1.0);
                }
            }
            EventKind::Step {
                model,
                provider,
                step_type,
                duration_seconds,
                prompt_tokens,
                completion_tokens,
                cost_usd,
            } => {
                self.observe(
                    families::STEP_DURATION,
                    &common,
                    &[model, step_type],
                    *duration_seconds,
                );
                self.add(
                    families::TOKENS,
                    &common,
                    &[model, "prompt"],
                    *prompt_tokens as f64,
                );
                self.add(
                    families::TOKENS,
                    &common,
                    &[model, "completion"],
                    *completion_tokens as f64,
                );
                if let Some(cost) = cost {
                    self.add(families::COST, &common, &[model, provider], cost);
                } else if cost_usd.is_none() {
                    let tokens = prompt_tokens.saturating_add(*completion_tokens);
                    self.add(families::UNPRICED_TOKENS, &common, &[model], tokens as f64);
                    if let Some(journal) = self.recording.as_mut() {
                        journal.undo.push(Undo::Unpriced {
                            event: self.event_index,
                            old: self.unpriced.get(model.as_str()).copied(),
                        });
                    }
                    match self.unpriced.get_mut(model.as_str()) {
                        Some(total) => *total = total.saturating_add(tokens),
                        None => {
                            tracing::warn!(
                                model = model.as_str(),
                                "no price known for this model: its steps are not costed and \
                                 their tokens are counted as unpriced; add it under `pricing:` \
                                 in agentmon.yml or send cost_usd"
                            );
                            self.unpriced.insert(model.clone(), tokens);
                        }
                    }
                }
            }
            EventKind::ToolCall {
                tool_name,
                status,
                duration_seconds,
                ..
            } => {
                self.add(
                    families::TOOL_CALLS,
                    &common,
                    &[tool_name, status.as_str()],
                    1.0,
                );
                self.observe(
                    families::TOOL_DURATION,
                    &common,
                    &[tool_name],
                    *duration_seconds,
                );
            }
            EventKind::LlmError {
                model, error_type, ..
            } => {
                self.add(
                    families::LLM_ERRORS,
                    &common,
                    &[model, error_type.as_str()],
                    1.0,
                );
            }
            EventKind::Log { .. } => {}
            EventKind::SessionEnd { status, .. } => {
                if let Some(session) = self.remove_session(event) {
                    self.add(families::ACTIVE_SESSIONS, &common, &[], -1.0);
                    self.observe(families::SESSION_STEPS, &common, &[], session.steps as f64);
                    let status = match status {
                        SessionStatus::Completed => "success",
                        SessionStatus::Failed => "error",
                    };
                    let seconds = (event.timestamp_ms - session.started_ms).max(0) as f64 / 1000.0;
                    self.observe(
                        families::REQUEST_DURATION,
                        &common,
                        &[families::SESSION_METHOD, families::SESSION_ENDPOINT, status],
                        seconds,
                    );
                    if let Some(journal) = self.recording.as_mut() {
                        journal.undo.push(Undo::SessionClosed {
                            event: self.event_index,
                            session,
                        });
                    }
                }
            }
        }
    }

    /// The per-session families, computed over the open sessions: the most
    /// calls of each tool in one session, and the highest cost of one
    /// session, per agent and instance. Indexed like
    /// [`families::PER_SESSION`].
    pub(crate) fn per_session(&self) -> [Series; 2] {
        let mut tool_calls = Series::default();
        let mut cost = Series::default();
        for open in self.sessions.values().flatten() {
            let common = [open.agent.as_str(), open.instance.as_str()];
            for (tool, calls) in &open.session.tool_calls {
                let calls = *calls as f64;
                if let Value::Scalar(max) =
                    tool_calls.value_mut(&common, &[tool.as_str()], || Value::Scalar(0.0))
                {
                    *max = max.max(calls);
                }
            }
            if let Value::Scalar(max) = cost.value_mut(&common, &[], || Value::Scalar(0.0)) {
                *max = max.max(open.session.cost_usd);
            }
        }
        [tool_calls, cost]
    }

    fn expire(&mut self, now_ms: i64, timeout_ms: i64) -> Vec<ExpiredSession> {
        let cutoff = now_ms.saturating_sub(timeout_ms);
        if cutoff <= self.oldest_seen_ms {
            return Vec::new();
        }
        let mut expired: Vec<(String, OpenSession)> = Vec::new();
        let mut oldest_left = i64::MAX;
        self.sessions.retain(|session_id, open| {
            let mut at = 0;
            while at < open.len() {
                let last_seen_ms = open[at].session.last_seen_ms;
                if last_seen_ms < cutoff {
                    expired.push((session_id.clone(), open.swap_remove(at)));
                } else {
                    oldest_left = oldest_left.min(last_seen_ms);
                    at += 1;
                }
            }
            !open.is_empty()
        });
        self.oldest_seen_ms = oldest_left;
        let mut closed = Vec::with_capacity(expired.len());
        for (session_id, gone) in expired {
            self.add(
                families::ACTIVE_SESSIONS,
                &[&gone.agent, &gone.instance],
                &[],
                -1.0,
            );
            closed.push(ExpiredSession {
                agent: gone.agent,
                instance: gone.instance,
                session_id,
                started_ms: gone.session.started_ms,
                last_seen_ms: gone.session.last_seen_ms,
                steps: gone.session.steps,
            });
        }
        closed
    }

    /// The family's index and the series' slot in it.
    fn slot_of(&mut self, family: Family, common: &[&str], labels: &[&str]) -> (usize, usize) {
        // Suffixes are unique; comparing them alone spares the help texts.
        let index = families::ALL
            .iter()
            .position(|f| f.suffix == family.suffix)
            .unwrap_or_default();
        let slot = self.series[index].slot(common, labels, || match family.kind {
            Kind::Histogram(bounds) => empty_histogram(bounds),
            Kind::Counter | Kind::Gauge => Value::Scalar(0.0),
        });
        (index, slot)
    }

    fn add(&mut self, family: Family, common: &[&str], labels: &[&str], delta: f64) {
        let (index, slot) = self.slot_of(family, common, labels);
        if let Some(Value::Scalar(value)) = self.series[index].at_mut(slot) {
            if let Some(journal) = self.recording.as_mut() {
                journal.undo.push(Undo::Scalar {
                    family: FamilyRef::Hermes(index),
                    slot,
                    old: *value,
                });
            }
            *value += delta;
        }
    }

    fn observe(&mut self, family: Family, common: &[&str], labels: &[&str], observed: f64) {
        let Kind::Histogram(bounds) = family.kind else {
            return;
        };
        let (index, slot) = self.slot_of(family, common, labels);
        record_in(
            &mut self.series[index],
            slot,
            bounds,
            observed,
            (FamilyRef::Hermes(index), self.recording.as_mut()),
        );
    }

    /// Takes a provisional batch back out: its changes undone newest
    /// first, then the series it created removed.
    fn undo(&mut self, journal: Journal, events: &[AgentEvent]) {
        for change in journal.undo.into_iter().rev() {
            match change {
                Undo::Scalar { family, slot, old } => {
                    if let Some(Value::Scalar(value)) = self.family_mut(family).at_mut(slot) {
                        *value = old;
                    }
                }
                Undo::Observed {
                    family,
                    slot,
                    bucket,
                    old_sum,
                } => {
                    if let Some(Value::Histogram {
                        buckets,
                        sum,
                        count,
                    }) = self.family_mut(family).at_mut(slot)
                    {
                        if let Some(in_bucket) = buckets.get_mut(bucket) {
                            *in_bucket -= 1;
                        }
                        *sum = old_sum;
                        *count -= 1;
                    }
                }
                Undo::SessionTouched {
                    event,
                    last_seen_ms,
                    steps,
                    cost_usd,
                    tool,
                } => {
                    let Some(event) = events.get(event) else {
                        continue;
                    };
                    let Some(session) = session_of(&mut self.sessions, event) else {
                        continue;
                    };
                    session.last_seen_ms = last_seen_ms;
                    session.steps = steps;
                    session.cost_usd = cost_usd;
                    if let EventKind::ToolCall { tool_name, .. } = &event.kind {
                        match tool {
                            ToolChange::Incremented => {
                                if let Some(calls) = session.tool_calls.get_mut(tool_name.as_str())
                                {
                                    *calls -= 1;
                                }
                            }
                            ToolChange::Inserted => {
                                session.tool_calls.remove(tool_name.as_str());
                            }
                            ToolChange::None => {}
                        }
                    }
                }
                Undo::SessionOpened { event } => {
                    if let Some(event) = events.get(event) {
                        self.remove_session(event);
                    }
                }
                Undo::SessionClosed { event, session } => {
                    if let Some(event) = events.get(event) {
                        self.insert_session(event, session);
                    }
                }
                Undo::Unpriced { event, old } => {
                    let Some(EventKind::Step { model, .. }) = events.get(event).map(|e| &e.kind)
                    else {
                        continue;
                    };
                    match old {
                        Some(total) => {
                            self.unpriced.insert(model.clone(), total);
                        }
                        None => {
                            self.unpriced.remove(model.as_str());
                        }
                    }
                }
            }
        }
        for (series, len) in self.series.iter_mut().zip(journal.hermes_len) {
            series.truncate(len);
        }
        for (series, len) in self.semconv.iter_mut().zip(journal.semconv_len) {
            series.truncate(len);
        }
    }

    fn family_mut(&mut self, family: FamilyRef) -> &mut Series {
        match family {
            FamilyRef::Hermes(index) => &mut self.series[index],
            FamilyRef::Semconv(index) => &mut self.semconv[index],
        }
    }

    /// One semconv observation; a new label set beyond the family's cap
    /// goes to the overflow series.
    fn observe_semconv(&mut self, observation: &Observation) {
        if !observation.value.is_finite() || observation.value < 0.0 {
            return;
        }
        let family = observation.instrument.family();
        let Kind::Histogram(bounds) = family.kind else {
            return;
        };
        let index = semconv::ALL
            .iter()
            .position(|f| *f == family)
            .unwrap_or_default();
        let mut key: Vec<&str> = [observation.agent.as_str(), observation.instance.as_str()]
            .into_iter()
            .chain(observation.instrument.label_values())
            .collect();
        let series = &mut self.semconv[index];
        if series.len() >= semconv::MAX_SERIES_PER_FAMILY && !series.contains(&key) {
            if !self.semconv_full[index] {
                self.semconv_full[index] = true;
                tracing::warn!(
                    family = family.suffix,
                    limit = semconv::MAX_SERIES_PER_FAMILY,
                    "GenAI metric family is at its series limit: new label sets are counted in \
                     its overflow series (every label \"_OTHER\")"
                );
            }
            key = vec![semconv::OVERFLOW_VALUE; key.len()];
        }
        let slot = series.slot(&key, &[], || empty_histogram(bounds));
        record_in(
            series,
            slot,
            bounds,
            observation.value,
            (FamilyRef::Semconv(index), self.recording.as_mut()),
        );
    }
}

/// Adds one observation to the histogram in `slot` of `series`, and to the
/// journal of a provisional batch if one is being recorded.
fn record_in(
    series: &mut Series,
    slot: usize,
    bounds: &[f64],
    observed: f64,
    (family, journal): (FamilyRef, Option<&mut Journal>),
) {
    let Some(value) = series.at_mut(slot) else {
        return;
    };
    let recorded = record(value, bounds, observed);
    if let (Some(journal), Some((bucket, old_sum))) = (journal, recorded) {
        journal.undo.push(Undo::Observed {
            family,
            slot,
            bucket,
            old_sum,
        });
    }
}

fn empty_histogram(bounds: &[f64]) -> Value {
    Value::Histogram {
        buckets: vec![0; bounds.len() + 1],
        sum: 0.0,
        count: 0,
    }
}

/// Adds one observation to a histogram value; gives the bucket it went
/// in and the sum before it.
fn record(value: &mut Value, bounds: &[f64], observed: f64) -> Option<(usize, f64)> {
    if let Value::Histogram {
        buckets,
        sum,
        count,
    } = value
    {
        let old_sum = *sum;
        // Prometheus buckets are upper-inclusive: `le="1"` counts 1.
        let bucket = bounds
            .iter()
            .position(|bound| observed <= *bound)
            .unwrap_or(bounds.len());
        if let Some(in_bucket) = buckets.get_mut(bucket) {
            *in_bucket += 1;
        }
        *sum += observed;
        *count += 1;
        return Some((bucket, old_sum));
    }
    None
}
