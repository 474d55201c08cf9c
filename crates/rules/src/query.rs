//! The narrow seams rules talk to the rest of the system through, as
//! Prometheus's rule manager does: a query function, an appender for the
//! series rules write, and a function that sends alerts on.

use std::collections::HashSet;
use std::sync::Arc;

use agentmon_model::{Alert, Labels, Sample};
use agentmon_promql::{Engine, InstantSample, Query, ReadPlan, SharedReads, Storage, Value};

/// Runs an instant query and returns its result as a vector (Prometheus's
/// `QueryFunc`): a scalar becomes one sample without labels, any other
/// result type is an error.
pub trait QueryFunc: Send + Sync {
    /// The instant vector `text` evaluates to at `timestamp_ms`.
    fn query(&self, text: &str, timestamp_ms: i64) -> Result<Vec<InstantSample>, String>;

    /// A query function for one evaluation of a group, which may read each
    /// selector once for all the group's queries (see
    /// [`agentmon_promql::SharedReads`]); selections of the metrics in
    /// `written`, which the group writes between its queries, are never
    /// shared. `plan` is the group's, kept from one evaluation to the
    /// next. `None` (the default): use this one.
    fn for_evaluation(
        &self,
        written: HashSet<String>,
        plan: Arc<ReadPlan>,
    ) -> Option<Arc<dyn QueryFunc>> {
        let _ = (written, plan);
        None
    }
}

impl<F> QueryFunc for F
where
    F: Fn(&str, i64) -> Result<Vec<InstantSample>, String> + Send + Sync,
{
    fn query(&self, text: &str, timestamp_ms: i64) -> Result<Vec<InstantSample>, String> {
        self(text, timestamp_ms)
    }
}

/// The message a query giving neither vector nor scalar fails with.
pub const NOT_VECTOR: &str = "rule result is not a vector or scalar";

/// A [`QueryFunc`] over agentmon's PromQL [`Engine`] and a [`Storage`].
pub struct EngineQueryFunc<S> {
    engine: Engine,
    storage: Arc<S>,
}

impl<S> EngineQueryFunc<S> {
    /// Queries `storage` with `engine`.
    pub fn new(engine: Engine, storage: Arc<S>) -> EngineQueryFunc<S> {
        EngineQueryFunc { engine, storage }
    }
}

impl<S> QueryFunc for EngineQueryFunc<S>
where
    S: Storage + Send + Sync + 'static,
{
    fn query(&self, text: &str, timestamp_ms: i64) -> Result<Vec<InstantSample>, String> {
        instant_vector(&self.engine, &*self.storage, text, timestamp_ms)
    }

    fn for_evaluation(
        &self,
        written: HashSet<String>,
        plan: Arc<ReadPlan>,
    ) -> Option<Arc<dyn QueryFunc>> {
        Some(Arc::new(SharedQueryFunc {
            engine: self.engine.clone(),
            storage: SharedReads::new(self.storage.clone(), written, plan),
        }))
    }
}

/// An [`EngineQueryFunc`] for one group evaluation, its queries reading
/// through one [`SharedReads`].
struct SharedQueryFunc<S> {
    engine: Engine,
    storage: SharedReads<S>,
}

impl<S> QueryFunc for SharedQueryFunc<S>
where
    S: Storage + Send + Sync,
{
    fn query(&self, text: &str, timestamp_ms: i64) -> Result<Vec<InstantSample>, String> {
        instant_vector(&self.engine, &self.storage, text, timestamp_ms)
    }
}

/// Runs an instant query as [`QueryFunc::query`] answers it.
fn instant_vector(
    engine: &Engine,
    storage: &dyn Storage,
    text: &str,
    timestamp_ms: i64,
) -> Result<Vec<InstantSample>, String> {
    let output = engine
        .query(storage, &Query::instant(text, timestamp_ms))
        .map_err(|e| e.to_string())?;
    match output.value {
        Value::Vector(samples) => Ok(samples),
        Value::Scalar { t, v } => Ok(vec![InstantSample {
            labels: Labels::default(),
            t,
            v,
        }]),
        _ => Err(NOT_VECTOR.to_owned()),
    }
}

/// One sample a rule writes: a recording rule's output, an `ALERTS` or
/// `ALERTS_FOR_STATE` sample, or a stale marker.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSample {
    /// The series, with `__name__`.
    pub labels: Labels,
    /// Time and value ([`agentmon_model::STALE_NAN`] for a stale marker).
    pub sample: Sample,
}

/// Where rule output is written. One call per rule and evaluation, so a
/// store that commits atomically commits each rule's output at once.
/// Samples must be visible to queries as soon as the call returns: a later
/// rule of the same group reads them in the same evaluation.
pub trait Appender: Send + Sync {
    /// Writes `samples`.
    fn append(&self, samples: &[RuleSample]) -> Result<(), String>;
}

impl<F> Appender for F
where
    F: Fn(&[RuleSample]) -> Result<(), String> + Send + Sync,
{
    fn append(&self, samples: &[RuleSample]) -> Result<(), String> {
        self(samples)
    }
}

/// Where alerts go (Prometheus's `NotifyFunc`): firing alerts with an
/// `ends_at` in the future, resolved ones with the time they resolved.
pub trait AlertSender: Send + Sync {
    /// Hands `alerts` on; never blocks for long (queue, don't deliver).
    fn send(&self, alerts: &[Alert]);
}

impl<F> AlertSender for F
where
    F: Fn(&[Alert]) + Send + Sync,
{
    fn send(&self, alerts: &[Alert]) {
        self(alerts)
    }
}
