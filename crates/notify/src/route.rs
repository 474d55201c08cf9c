//! The routing tree: which routes, and so which receivers and grouping
//! options, an alert's label set goes to.
//!
//! Semantics of Alertmanager 0.25's `dispatch/route.go`: a node matches
//! when all its matchers match; its children are tried in order, and the
//! first child that matches stops the search unless it has `continue:
//! true`; a matching node none of whose children match is itself the
//! result. Options not set on a node are inherited from its parent, except
//! `mute_time_intervals` and `active_time_intervals`, which are not. An
//! explicit empty `group_by: []` also inherits, as in Alertmanager.

use std::collections::BTreeSet;
use std::time::Duration;

use agentmon_model::{Label, Labels};
use regex::Regex;

use crate::config::{is_label_name, RouteConfig};
use crate::matcher::{MatchType, Matcher, Matchers};

/// The options a route applies to the alerts it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    pub receiver: String,
    pub group_by: BTreeSet<String>,
    /// `group_by: ['...']`: every label is a group label.
    pub group_by_all: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    fn default() -> RouteOpts {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// One node of the compiled tree.
#[derive(Debug, Clone)]
pub struct Route {
    /// This node's own matchers, sorted as Alertmanager sorts them.
    pub matchers: Matchers,
    pub continue_matching: bool,
    /// Matches in addition to its siblings and parent (see
    /// [`RouteConfig::sidecar`]).
    pub sidecar: bool,
    pub opts: RouteOpts,
    pub routes: Vec<Route>,
    key: String,
    /// Position in [`Route::walk`] order (the root is 0).
    index: usize,
}

fn label_matchers(
    pairs: &std::collections::BTreeMap<String, String>,
    match_type: MatchType,
) -> Result<Vec<Matcher>, String> {
    pairs
        .iter()
        .map(|(name, value)| {
            if !is_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
            // Alertmanager keeps a `match_re` value anchored, and group
            // keys show it so: `owner=~"^(?:team-(B|C))$"`.
            let value = match match_type {
                MatchType::Regexp => format!("^(?:{value})$"),
                _ => value.clone(),
            };
            Regex::new(&value).map_err(|e| format!("invalid regular expression {value:?}: {e}"))?;
            Matcher::new(match_type, name.as_str(), value).map_err(|e| e.to_string())
        })
        .collect()
}

/// The matchers of a route or inhibit rule side from its three syntaxes:
/// `match`, `match_re`, then `matchers`.
pub(crate) fn combine_matchers(
    match_eq: &std::collections::BTreeMap<String, String>,
    match_re: &std::collections::BTreeMap<String, String>,
    matchers: &Matchers,
) -> Result<Matchers, String> {
    let mut all = label_matchers(match_eq, MatchType::Equal)?;
    all.extend(label_matchers(match_re, MatchType::Regexp)?);
    all.extend(matchers.iter().cloned());
    Ok(Matchers(all))
}

impl Route {
    /// Compiles a tree from its YAML form, checking `group_by` and the
    /// intervals as Alertmanager does.
    pub fn build(config: &RouteConfig) -> Result<Route, String> {
        Route::build_under(config, None, &mut 0)
    }

    fn build_under(
        config: &RouteConfig,
        parent: Option<(&RouteOpts, &str)>,
        next_index: &mut usize,
    ) -> Result<Route, String> {
        let index = *next_index;
        *next_index += 1;
        let mut opts = parent.map(|(o, _)| o.clone()).unwrap_or_default();
        if let Some(receiver) = config.receiver.as_deref().filter(|r| !r.is_empty()) {
            opts.receiver = receiver.to_owned();
        }
        if let Some(group_by) = &config.group_by {
            let mut by_all = false;
            let mut names = Vec::new();
            for name in group_by {
                if name == "..." {
                    by_all = true;
                } else if !is_label_name(name) {
                    return Err(format!("invalid label name {name:?} in group_by list"));
                } else {
                    names.push(name.clone());
                }
            }
            if by_all && !names.is_empty() {
                return Err(
                    "cannot have wildcard group_by (`...`) and other other labels at the same time"
                        .to_owned(),
                );
            }
            let mut set = BTreeSet::new();
            for name in &names {
                if !set.insert(name.clone()) {
                    return Err(format!("duplicated label {name:?} in group_by"));
                }
            }
            if !names.is_empty() {
                opts.group_by = set;
                opts.group_by_all = false;
            } else if by_all {
                opts.group_by_all = true;
            }
        }
        for (value, field, name) in [
            (&config.group_wait, &mut opts.group_wait, "group_wait"),
            (
                &config.group_interval,
                &mut opts.group_interval,
                "group_interval",
            ),
            (
                &config.repeat_interval,
                &mut opts.repeat_interval,
                "repeat_interval",
            ),
        ] {
            if let Some(d) = value {
                if d.0.is_zero() && name != "group_wait" {
                    return Err(format!("{name} cannot be zero"));
                }
                *field = d.0;
            }
        }
        opts.mute_time_intervals = config.mute_time_intervals.clone();
        opts.active_time_intervals = config.active_time_intervals.clone();
        let mut matchers =
            combine_matchers(&config.match_eq, &config.match_re, &config.matchers.0)?;
        matchers.sort();
        let key = match parent {
            Some((_, parent_key)) => format!("{parent_key}/{matchers}"),
            None => matchers.to_string(),
        };
        let routes = config
            .routes
            .iter()
            .map(|child| Route::build_under(child, Some((&opts, &key)), next_index))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Route {
            matchers,
            continue_matching: config.continue_matching,
            sidecar: config.sidecar,
            opts,
            routes,
            key,
            index,
        })
    }

    /// The route's position in [`Route::walk`] order.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The route's identity in group keys: the parent's key, `/`, and this
    /// node's matchers (`{}` for the root).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The routes an alert with these labels goes to, in tree order, then
    /// the matching sidecar routes.
    pub fn match_labels(&self, labels: &Labels) -> Vec<&Route> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in self.routes.iter().filter(|c| !c.sidecar) {
            let matched = child.match_labels(labels);
            let any = !matched.is_empty();
            all.extend(matched);
            if any && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        for sidecar in self.routes.iter().filter(|c| c.sidecar) {
            all.extend(sidecar.match_labels(labels));
        }
        all
    }

    /// The labels an alert is grouped by on this route.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        let kept: Vec<Label> = labels
            .iter()
            .filter(|l| self.opts.group_by_all || self.opts.group_by.contains(&l.name))
            .cloned()
            .collect();
        Labels::from_sorted_unchecked(kept)
    }

    /// Every node of the tree, depth first (the root first).
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}

/// A label set printed as Alertmanager prints `model.LabelSet`:
/// `{a="1", b="2"}` with Go-quoted values.
pub fn format_label_set(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&label.name);
        out.push('=');
        out.push_str(&go_quote(&label.value));
    }
    out.push('}');
    out
}

/// Go's `%q` for the strings label values are: escapes `"`, `\` and
/// control characters.
fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The aggregation group key: `<route key>:<group labels>`.
pub fn group_key(route: &Route, group_labels: &Labels) -> String {
    format!("{}:{}", route.key(), format_label_set(group_labels))
}

#[cfg(test)]
mod tests;
