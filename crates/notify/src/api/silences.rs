//! Silences in API v2: `postableSilence`, `gettableSilence` and their
//! matchers (`{name, value, isRegex, isEqual}`).

use std::cmp::Ordering;

use agentmon_model::{Label, Labels};
use serde::{Deserialize, Serialize};

use super::{format_time, parse_time};
use crate::matcher::{MatchType, Matcher, Matchers};
use crate::silence::{silence_matcher, Silence, SilenceState};
use crate::{NotifyError, State};

fn yes() -> bool {
    true
}

/// `matcher` of a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    #[serde(default = "yes")]
    pub is_equal: bool,
    pub is_regex: bool,
    pub name: String,
    pub value: String,
}

impl ApiMatcher {
    fn from_matcher(m: &Matcher) -> ApiMatcher {
        ApiMatcher {
            is_equal: matches!(m.match_type, MatchType::Equal | MatchType::Regexp),
            is_regex: matches!(m.match_type, MatchType::Regexp | MatchType::NotRegexp),
            name: m.name.clone(),
            value: m.value.clone(),
        }
    }
}

/// `silenceStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceStatus {
    /// `active`, `pending` or `expired`.
    pub state: String,
}

/// `gettableSilence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: String,
    pub comment: String,
    pub created_by: String,
    pub ends_at: String,
    pub matchers: Vec<ApiMatcher>,
    pub starts_at: String,
}

/// `postableSilence`: a new silence, or an update when `id` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default)]
    pub id: Option<String>,
    pub matchers: Vec<ApiMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

fn gettable(silence: &Silence, now_ms: i64) -> GettableSilence {
    GettableSilence {
        id: silence.id.clone(),
        status: SilenceStatus {
            state: silence.state(now_ms).as_str().to_owned(),
        },
        updated_at: format_time(silence.updated_at_ms),
        comment: silence.comment.clone(),
        created_by: silence.created_by.clone(),
        ends_at: format_time(silence.ends_at_ms),
        matchers: silence
            .matchers
            .iter()
            .map(ApiMatcher::from_matcher)
            .collect(),
        starts_at: format_time(silence.starts_at_ms),
    }
}

/// `GET /api/v2/silence/{id}`.
pub fn get_silence(state: &State, id: &str) -> Option<GettableSilence> {
    state.silences.get(id).map(|s| gettable(s, state.now_ms()))
}

/// `GET /api/v2/silences`: the silences whose equality matchers form a
/// label set that every `filter` matcher matches; active ones first (by
/// end), then pending (by start), then expired (latest end first).
pub fn list_silences(state: &State, filter: &[Matcher]) -> Vec<GettableSilence> {
    let now = state.now_ms();
    let mut selected: Vec<&Silence> = state
        .silences
        .iter()
        .filter(|s| {
            let mut pairs: Vec<Label> = s
                .matchers
                .iter()
                .filter(|m| m.match_type == MatchType::Equal && !m.value.is_empty())
                .map(|m| Label {
                    name: m.name.clone(),
                    value: m.value.clone(),
                })
                .collect();
            pairs.sort();
            pairs.dedup_by(|a, b| a.name == b.name);
            let labels = Labels::from_sorted_unchecked(pairs);
            filter.iter().all(|m| m.matches(&labels))
        })
        .collect();
    selected.sort_by(|a, b| {
        let (sa, sb) = (a.state(now), b.state(now));
        if sa != sb {
            return sa.cmp(&sb);
        }
        match sa {
            SilenceState::Active => a.ends_at_ms.cmp(&b.ends_at_ms),
            SilenceState::Pending => a.starts_at_ms.cmp(&b.starts_at_ms),
            SilenceState::Expired => b.ends_at_ms.cmp(&a.ends_at_ms),
        }
        .then(Ordering::Equal)
    });
    selected.into_iter().map(|s| gettable(s, now)).collect()
}

/// `POST /api/v2/silences`: creates or updates a silence and returns its
/// id (answered as `{"silenceID": id}`). A missing id is
/// [`NotifyError::SilenceNotFound`] (404); other errors are 400.
pub fn post_silence(state: &mut State, posted: PostableSilence) -> Result<String, NotifyError> {
    let now = state.now_ms();
    let time = |field: &str, text: &str| {
        parse_time(text).ok_or_else(|| {
            NotifyError::Silence(format!("{field} {text:?} is not an RFC 3339 time"))
        })
    };
    let starts = time("startsAt", &posted.starts_at)?;
    let ends = time("endsAt", &posted.ends_at)?;
    if starts >= ends {
        return Err(NotifyError::Silence(
            "Failed to create silence: start time must be before end time".to_owned(),
        ));
    }
    if ends < now {
        return Err(NotifyError::Silence(
            "Failed to create silence: end time can't be in the past".to_owned(),
        ));
    }
    let matchers = posted
        .matchers
        .iter()
        .map(|m| silence_matcher(&m.name, &m.value, m.is_regex, m.is_equal))
        .collect::<Result<Vec<_>, NotifyError>>()?;
    let silence = Silence {
        id: posted.id.unwrap_or_default(),
        matchers: Matchers(matchers),
        starts_at_ms: starts,
        ends_at_ms: ends,
        updated_at_ms: now,
        created_by: posted.created_by,
        comment: posted.comment,
    };
    state.silences.set(silence, now)
}
