//! What changed when: a generation counter bumped after every append (and
//! every deletion by retention), with the oldest sample time each bump
//! touched. A reader notes the generation before it reads and can later ask
//! for the oldest time changed since, so results computed from data older
//! than that are still exact (the query engine's rollup cache relies on it).
//!
//! The log is bounded: past [`LOG_LIMIT`] entries, the oldest half is folded
//! into one entry carrying the newest generation and the oldest time of
//! those folded, which can only make an answer older (more conservative).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Entries kept before the oldest half is folded into one.
const LOG_LIMIT: usize = 4096;

/// Each store's generations start at their own multiple of 2^40, so a
/// generation taken from one store is never mistaken for another's.
static NEXT_BASE: AtomicU64 = AtomicU64::new(1 << 40);

#[derive(Debug)]
pub(crate) struct History {
    base: u64,
    generation: AtomicU64,
    /// (generation, oldest sample time changed), oldest first.
    log: Mutex<VecDeque<(u64, i64)>>,
}

impl Default for History {
    fn default() -> History {
        let base = NEXT_BASE.fetch_add(1 << 40, Ordering::Relaxed);
        History {
            base,
            generation: AtomicU64::new(base),
            log: Mutex::default(),
        }
    }
}

impl History {
    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Records a change reaching back to `oldest_time`; call it after the
    /// change is visible to readers.
    pub fn record(&self, oldest_time: i64) {
        let mut log = self.log.lock();
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        log.push_back((generation, oldest_time));
        if log.len() > LOG_LIMIT {
            let folded: Vec<(u64, i64)> = log.drain(..LOG_LIMIT / 2).collect();
            let newest = folded.iter().map(|e| e.0).max().unwrap_or(generation);
            let oldest = folded.iter().map(|e| e.1).min().unwrap_or(i64::MIN);
            log.push_front((newest, oldest));
        }
    }

    /// The oldest sample time changed after `generation`, or `None` if
    /// nothing changed since. A generation this store never gave out (one
    /// of another store) means everything may differ: `i64::MIN`.
    pub fn changed_since(&self, generation: u64) -> Option<i64> {
        let log = self.log.lock();
        if generation < self.base || generation > self.generation() {
            return Some(i64::MIN);
        }
        log.iter()
            .rev()
            .take_while(|e| e.0 > generation)
            .map(|e| e.1)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_after_a_generation_are_reported_by_their_oldest_time() {
        let h = History::default();
        let g0 = h.generation();
        assert_eq!(h.changed_since(g0), None);
        h.record(500);
        let g1 = h.generation();
        h.record(900);
        h.record(700);
        assert_eq!(h.changed_since(g0), Some(500));
        assert_eq!(h.changed_since(g1), Some(700));
        assert_eq!(h.changed_since(h.generation()), None);
    }

    #[test]
    fn another_stores_generation_means_everything_changed() {
        let (a, b) = (History::default(), History::default());
        a.record(1);
        assert_eq!(b.changed_since(a.generation()), Some(i64::MIN));
        assert_eq!(a.changed_since(b.generation()), Some(i64::MIN));
        assert_eq!(b.changed_since(b.generation()), None);
    }

    #[test]
    fn folding_the_log_only_makes_answers_older() {
        let h = History::default();
        let mid = {
            for t in 0..LOG_LIMIT as i64 {
                h.record(10_000 + t);
            }
            h.generation()
        };
        h.record(5);
        for t in 0..LOG_LIMIT as i64 {
            h.record(20_000 + t);
        }
        // The change at 5 came after `mid`; folding may not lose it.
        assert!(h.changed_since(mid).is_some_and(|t| t <= 5));
        assert!(h.log.lock().len() <= LOG_LIMIT);
    }
}
