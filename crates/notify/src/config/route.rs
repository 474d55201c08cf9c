//! The `route` tree as written. [`crate::route::Route`] is the validated
//! tree with inherited options; this is the YAML form.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::common::YamlDuration;
use crate::matcher::{parse_matchers, Matcher, Matchers};

/// `matchers:` — a list of strings, each one or more matchers in
/// Alertmanager's syntax, sorted as Alertmanager sorts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatcherList(pub Matchers);

impl<'de> Deserialize<'de> for MatcherList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MatcherList, D::Error> {
        let lines = Vec::<String>::deserialize(d)?;
        let mut all: Vec<Matcher> = Vec::new();
        for line in &lines {
            all.extend(parse_matchers(line).map_err(serde::de::Error::custom)?);
        }
        let mut matchers = Matchers(all);
        matchers.sort();
        Ok(MatcherList(matchers))
    }
}

/// One node of the `route` tree as written; unset options inherit from
/// the parent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub receiver: Option<String>,
    /// Label names; `'...'` alone groups by all labels.
    pub group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Deprecated equality matchers.
    #[serde(default, rename = "match")]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated regex matchers (anchored).
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    #[serde(default)]
    pub matchers: MatcherList,
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    pub group_wait: Option<YamlDuration>,
    pub group_interval: Option<YamlDuration>,
    pub repeat_interval: Option<YamlDuration>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Added by agentmon, never read from YAML: a route whose match neither
    /// stops the search nor keeps the parent from matching, so it delivers
    /// in addition to the configured tree (the routes of API-made alerts,
    /// see [`crate::AlertmanagerConfig::with_sidecar_routes`]).
    #[serde(skip)]
    pub sidecar: bool,
}

impl RouteConfig {
    /// Whether the node has any matcher in any of the three syntaxes.
    pub fn has_matchers(&self) -> bool {
        !self.match_eq.is_empty() || !self.match_re.is_empty() || !self.matchers.0.is_empty()
    }
}

/// One `inhibit_rules` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    #[serde(default)]
    pub source_match: BTreeMap<String, String>,
    #[serde(default)]
    pub source_match_re: BTreeMap<String, String>,
    #[serde(default)]
    pub source_matchers: MatcherList,
    #[serde(default)]
    pub target_match: BTreeMap<String, String>,
    #[serde(default)]
    pub target_match_re: BTreeMap<String, String>,
    #[serde(default)]
    pub target_matchers: MatcherList,
    /// Labels that must have equal values in source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}
