//! Silences: matchers and a time range during which matching alerts are
//! not notified, with Alertmanager 0.25's rules (`silence/silence.go`).
//!
//! A silence is *pending* before `starts_at`, *active* until `ends_at`,
//! then *expired*. [`Silences::set`] creates a silence (a new UUID v4 id),
//! or updates one in place when the change is allowed: same matchers, and
//! for an active silence the same start and an end not in the past, for a
//! pending one a start not in the past. Any other change to an unexpired
//! silence expires it and creates a new one with a new id, as Alertmanager
//! does. [`Silences::expire`] ends an active silence now and moves a
//! pending one's start and end to now. Expired silences are kept for the
//! retention time (120h by default) and then dropped by
//! [`Silences::gc`]. Every change goes through a [`SilenceStore`]
//! (in memory, or SQLite) before it is applied.

mod store;

use std::collections::BTreeMap;

use agentmon_model::Labels;

pub use store::{MemorySilenceStore, SilenceStore, SqliteSilenceStore};

use crate::config::is_label_name;
use crate::matcher::{MatchType, Matcher, Matchers};
use crate::NotifyError;

/// How long expired silences are kept (Alertmanager's `--data.retention`).
pub const DEFAULT_RETENTION_MS: i64 = 120 * 3600 * 1000;

/// The state of a silence at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }
}

/// One silence. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// A UUID; empty when asking [`Silences::set`] for a new silence.
    pub id: String,
    pub matchers: Matchers,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub updated_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    /// The state at `now_ms`.
    pub fn state(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_at_ms {
            SilenceState::Pending
        } else if now_ms < self.ends_at_ms {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether the silence's matchers all select the label set.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers.matches(labels)
    }

    /// Alertmanager's `validateSilence`, apart from the id (set later).
    pub fn validate(&self) -> Result<(), NotifyError> {
        let fail = |m: String| Err(NotifyError::Silence(m));
        if self.matchers.is_empty() {
            return fail("at least one matcher required".to_owned());
        }
        for (i, m) in self.matchers.iter().enumerate() {
            if !is_label_name(&m.name) {
                return fail(format!(
                    "invalid label matcher {i}: invalid label name {:?}",
                    m.name
                ));
            }
        }
        if self.starts_at_ms == 0 {
            return fail("invalid zero start timestamp".to_owned());
        }
        if self.ends_at_ms == 0 {
            return fail("invalid zero end timestamp".to_owned());
        }
        if self.ends_at_ms < self.starts_at_ms {
            return fail("end time must not be before start time".to_owned());
        }
        Ok(())
    }
}

/// A new random (version 4) UUID in its text form.
pub fn new_uuid() -> Result<String, NotifyError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| NotifyError::Store(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// All silences, kept in memory and written through a store.
pub struct Silences {
    silences: BTreeMap<String, Silence>,
    store: Box<dyn SilenceStore>,
    retention_ms: i64,
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences")
            .field("silences", &self.silences)
            .field("retention_ms", &self.retention_ms)
            .finish()
    }
}

impl Silences {
    /// Loads every silence from the store.
    pub fn open(mut store: Box<dyn SilenceStore>) -> Result<Silences, NotifyError> {
        let silences = store
            .load_all()?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        Ok(Silences {
            silences,
            store,
            retention_ms: DEFAULT_RETENTION_MS,
        })
    }

    /// Changes how long expired silences are kept.
    pub fn set_retention_ms(&mut self, retention_ms: i64) {
        self.retention_ms = retention_ms;
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id)
    }

    /// Every silence, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values()
    }

    fn write(&mut self, silence: Silence) -> Result<(), NotifyError> {
        self.store.upsert(&silence)?;
        self.silences.insert(silence.id.clone(), silence);
        Ok(())
    }

    /// Creates or updates a silence; returns its id (a new one when the
    /// change could not be made in place).
    pub fn set(&mut self, mut silence: Silence, now_ms: i64) -> Result<String, NotifyError> {
        let prev = match silence.id.as_str() {
            "" => None,
            id => Some(
                self.silences
                    .get(id)
                    .cloned()
                    .ok_or(NotifyError::SilenceNotFound)?,
            ),
        };
        // Checked before anything changes, so a refused update does not
        // expire the silence it would have replaced.
        silence.validate().map_err(|e| match e {
            NotifyError::Silence(m) => NotifyError::Silence(format!("silence invalid: {m}")),
            other => other,
        })?;
        silence.updated_at_ms = now_ms;
        if let Some(prev) = prev {
            if can_update(&prev, &silence, now_ms) {
                let id = silence.id.clone();
                self.write(silence)?;
                return Ok(id);
            }
            if prev.state(now_ms) != SilenceState::Expired {
                self.expire(&prev.id, now_ms)?;
            }
        }
        silence.id = new_uuid()?;
        if silence.starts_at_ms < now_ms {
            silence.starts_at_ms = now_ms;
        }
        let id = silence.id.clone();
        self.write(silence)?;
        Ok(id)
    }

    /// Expires a silence now.
    pub fn expire(&mut self, id: &str, now_ms: i64) -> Result<(), NotifyError> {
        let Some(mut silence) = self.silences.get(id).cloned() else {
            return Err(NotifyError::SilenceNotFound);
        };
        match silence.state(now_ms) {
            SilenceState::Expired => {
                return Err(NotifyError::Silence(format!(
                    "silence {id} already expired"
                )))
            }
            SilenceState::Active => silence.ends_at_ms = now_ms,
            SilenceState::Pending => {
                silence.starts_at_ms = now_ms;
                silence.ends_at_ms = now_ms;
            }
        }
        silence.updated_at_ms = now_ms;
        self.write(silence)
    }

    /// The ids of the active silences that mute this label set, sorted.
    pub fn silenced_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
        self.silences
            .values()
            .filter(|s| s.state(now_ms) == SilenceState::Active && s.matches(labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Drops silences expired for longer than the retention time; returns
    /// how many.
    pub fn gc(&mut self, now_ms: i64) -> Result<usize, NotifyError> {
        let old: Vec<String> = self
            .silences
            .values()
            .filter(|s| s.ends_at_ms + self.retention_ms <= now_ms)
            .map(|s| s.id.clone())
            .collect();
        for id in &old {
            self.store.delete(id)?;
            self.silences.remove(id);
        }
        Ok(old.len())
    }
}

/// Whether `next` may replace `prev` in place (Alertmanager's `canUpdate`).
fn can_update(prev: &Silence, next: &Silence, now_ms: i64) -> bool {
    if prev.matchers != next.matchers {
        return false;
    }
    match prev.state(now_ms) {
        SilenceState::Active => next.starts_at_ms == prev.starts_at_ms && next.ends_at_ms >= now_ms,
        SilenceState::Pending => next.starts_at_ms >= now_ms,
        SilenceState::Expired => false,
    }
}

/// Builds a silence matcher from the API's fields.
pub fn silence_matcher(
    name: &str,
    value: &str,
    is_regex: bool,
    is_equal: bool,
) -> Result<Matcher, NotifyError> {
    let match_type = match (is_regex, is_equal) {
        (false, true) => MatchType::Equal,
        (false, false) => MatchType::NotEqual,
        (true, true) => MatchType::Regexp,
        (true, false) => MatchType::NotRegexp,
    };
    Matcher::new(match_type, name, value)
}

#[cfg(test)]
mod tests;
