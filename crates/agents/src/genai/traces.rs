//! Which session each trace's spans went to, remembered across trace
//! requests, so that an agent run exported in pieces stays one session.
//!
//! SDKs export a span when it ends: the model and tool calls of a long run
//! usually reach agentmon requests before the `invoke_agent` span that
//! holds them. The first request that brings mapped spans of a trace
//! decides its session; later requests join it (see `docs/genai.md`,
//! "Sessions across requests").
//!
//! The memory is two generations of a map: a lookup finds an entry in
//! either and moves it into the current one; the current generation
//! becomes the previous one (and the previous one is dropped) when it
//! holds half the capacity or when it is as old as the time to keep. So
//! an entry lives at least that long after its last use while the traffic
//! stays under the capacity, and memory stays bounded whatever the
//! traffic.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use agentmon_model::FastHashMap;

/// The session one trace's spans go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TraceSession {
    pub session_id: String,
    /// The agent of spans that name none, in place of `service.name`.
    pub agent: String,
    /// Whether the session is a `gen_ai.conversation.id`; otherwise it is
    /// the trace id.
    pub from_conversation: bool,
}

/// The sessions of recent traces (see the module documentation).
#[derive(Debug)]
pub struct TraceSessions {
    capacity: usize,
    keep: Duration,
    generations: Mutex<Generations>,
}

#[derive(Debug)]
struct Generations {
    current: FastHashMap<Vec<u8>, TraceSession>,
    previous: FastHashMap<Vec<u8>, TraceSession>,
    started: Instant,
}

/// Traces remembered at most by [`TraceSessions::default`].
pub const DEFAULT_TRACE_CAPACITY: usize = 100_000;

impl Default for TraceSessions {
    /// Up to [`DEFAULT_TRACE_CAPACITY`] traces, each for 30 minutes (the
    /// default session timeout) after its last span.
    fn default() -> TraceSessions {
        TraceSessions::new(DEFAULT_TRACE_CAPACITY, Duration::from_secs(30 * 60))
    }
}

impl TraceSessions {
    /// A memory of up to `capacity` traces (at least 2), each kept at
    /// least `keep` after its last span while traffic allows.
    pub fn new(capacity: usize, keep: Duration) -> TraceSessions {
        TraceSessions {
            capacity: capacity.max(2),
            keep,
            generations: Mutex::new(Generations {
                current: FastHashMap::default(),
                previous: FastHashMap::default(),
                started: Instant::now(),
            }),
        }
    }

    /// How many traces are remembered.
    pub fn len(&self) -> usize {
        let generations = self.lock();
        generations.current.len() + generations.previous.len()
    }

    /// Whether no trace is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The remembered sessions of `traces` (each looked up once, and kept
    /// fresh by the lookup), in their order; `None` for a trace not known.
    pub(super) fn recall(&self, traces: &[&[u8]]) -> Vec<Option<TraceSession>> {
        let mut generations = self.lock();
        generations.rotate_if_due(self.capacity, self.keep);
        traces
            .iter()
            .map(|trace| generations.touch(trace))
            .collect()
    }

    /// Remembers the sessions decided for traces that were not known. A
    /// trace already remembered keeps its session: the first decision
    /// stands.
    pub(super) fn remember(&self, decided: Vec<(Vec<u8>, TraceSession)>) {
        let mut generations = self.lock();
        for (trace, session) in decided {
            generations.rotate_if_due(self.capacity, self.keep);
            if generations.touch(&trace).is_none() {
                generations.current.insert(trace, session);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps are never left half-changed by a panic (each change is
        // one insert or remove), so a poisoned lock still holds good data.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Generations {
    /// Starts a new generation when the current one is full or old.
    fn rotate_if_due(&mut self, capacity: usize, keep: Duration) {
        if self.current.len() >= capacity / 2 || self.started.elapsed() >= keep {
            self.previous = std::mem::take(&mut self.current);
            self.started = Instant::now();
        }
    }

    /// The trace's session, moved into the current generation.
    fn touch(&mut self, trace: &[u8]) -> Option<TraceSession> {
        if let Some(found) = self.current.get(trace) {
            return Some(found.clone());
        }
        let (trace, found) = self.previous.remove_entry(trace)?;
        self.current.insert(trace, found.clone());
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str) -> TraceSession {
        TraceSession {
            session_id: id.into(),
            agent: "a".into(),
            from_conversation: false,
        }
    }

    #[test]
    fn the_first_decision_for_a_trace_stands() {
        let memory = TraceSessions::default();
        memory.remember(vec![(b"t1".to_vec(), session("first"))]);
        memory.remember(vec![
            (b"t1".to_vec(), session("second")),
            (b"t2".to_vec(), session("other")),
        ]);
        assert_eq!(
            memory.recall(&[b"t1", b"t2", b"t3"]),
            vec![Some(session("first")), Some(session("other")), None]
        );
    }

    #[test]
    fn memory_is_bounded_and_keeps_traces_in_use() {
        let memory = TraceSessions::new(10, Duration::from_secs(3600));
        memory.remember(vec![(b"kept".to_vec(), session("kept"))]);
        for n in 0..100u32 {
            memory.remember(vec![(n.to_be_bytes().to_vec(), session("x"))]);
            assert!(memory.len() <= 10, "{} traces after {n}", memory.len());
            // A trace in use moves forward with each generation.
            assert!(memory.recall(&[b"kept"])[0].is_some(), "lost after {n}");
        }
        // An old trace not used since is gone.
        assert_eq!(memory.recall(&[&0u32.to_be_bytes()]), vec![None]);
    }

    #[test]
    fn traces_unused_for_twice_the_keep_time_are_forgotten() {
        let memory = TraceSessions::new(1000, Duration::from_millis(30));
        memory.remember(vec![(b"t".to_vec(), session("s"))]);
        std::thread::sleep(Duration::from_millis(35));
        // One rotation: still found (and moved forward).
        assert!(memory.recall(&[b"t"])[0].is_some());
        std::thread::sleep(Duration::from_millis(35));
        memory.recall(&[]);
        std::thread::sleep(Duration::from_millis(35));
        assert_eq!(memory.recall(&[b"t"]), vec![None]);
    }
}
