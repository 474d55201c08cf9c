//! Relabeling as in prometheus.yml's `relabel_configs` and
//! `metric_relabel_configs`
//! (<https://prometheus.io/docs/prometheus/latest/configuration/configuration/#relabel_config>).
//!
//! A [`RelabelConfig`] is the YAML form; [`RelabelRule::compile`] validates
//! it with Prometheus's rules (which fields each action needs or forbids)
//! and anchors the regex (`^(?:regex)$`). [`relabel`] applies a list of
//! rules to a label set and returns `None` when a rule drops it. Defaults
//! are Prometheus's: separator `;`, regex `(.*)`, replacement `$1`, action
//! `replace`. `$1`, `${1}` and `${name}` expand as Go's `Regexp.Expand`
//! does (the longest name after `$` is taken: `$1x` is group `1x`).

use std::collections::BTreeMap;

use agentmon_model::validate_label_name;
use regex::Regex;
use serde::Deserialize;

use super::md5::md5;

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// One relabel rule as written in YAML.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default)]
    pub source_labels: Vec<String>,
    pub separator: Option<String>,
    pub regex: Option<String>,
    pub modulus: Option<u64>,
    pub target_label: Option<String>,
    pub replacement: Option<String>,
    pub action: Option<String>,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelabelAction {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl RelabelAction {
    /// Parses an action name; Prometheus accepts any letter case.
    pub fn parse(name: &str) -> Option<RelabelAction> {
        Some(match name.to_ascii_lowercase().as_str() {
            "replace" => RelabelAction::Replace,
            "keep" => RelabelAction::Keep,
            "drop" => RelabelAction::Drop,
            "keepequal" => RelabelAction::KeepEqual,
            "dropequal" => RelabelAction::DropEqual,
            "hashmod" => RelabelAction::HashMod,
            "labelmap" => RelabelAction::LabelMap,
            "labeldrop" => RelabelAction::LabelDrop,
            "labelkeep" => RelabelAction::LabelKeep,
            "lowercase" => RelabelAction::Lowercase,
            "uppercase" => RelabelAction::Uppercase,
            _ => return None,
        })
    }
}

/// A validated rule, ready to apply.
#[derive(Debug, Clone)]
pub struct RelabelRule {
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    modulus: u64,
    target_label: String,
    replacement: String,
    action: RelabelAction,
}

impl RelabelRule {
    /// Validates `config` as Prometheus does; the error says which field is
    /// wrong for which action.
    pub fn compile(config: &RelabelConfig) -> Result<RelabelRule, String> {
        let action_name = config.action.as_deref().unwrap_or("replace");
        let action = RelabelAction::parse(action_name).ok_or_else(|| {
            format!(
                "unknown relabel action {action_name:?}: use replace, keep, drop, keepequal, \
                 dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase or uppercase"
            )
        })?;
        let regex_text = config.regex.as_deref().unwrap_or(DEFAULT_REGEX);
        let regex = Regex::new(&format!("^(?:{regex_text})$"))
            .map_err(|e| format!("invalid regex {regex_text:?}: {e}"))?;
        for name in &config.source_labels {
            validate_label_name(name).map_err(|e| format!("source_labels: {e}"))?;
        }
        let target = config.target_label.clone().unwrap_or_default();
        let replacement = config
            .replacement
            .clone()
            .unwrap_or_else(|| DEFAULT_REPLACEMENT.to_owned());
        use RelabelAction::*;
        let needs_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(format!(
                "relabel action {action_name} requires a target_label"
            ));
        }
        if action == HashMod && config.modulus.unwrap_or(0) == 0 {
            return Err("relabel action hashmod requires a modulus above 0".to_owned());
        }
        match action {
            // A replace target may hold `$1`-style references.
            Replace if !target.contains('$') => {
                validate_label_name(&target).map_err(|e| format!("target_label: {e}"))?
            }
            HashMod | Lowercase | Uppercase | KeepEqual | DropEqual => {
                validate_label_name(&target).map_err(|e| format!("target_label: {e}"))?
            }
            _ => {}
        }
        if matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual)
            && replacement != DEFAULT_REPLACEMENT
        {
            return Err(format!(
                "relabel action {action_name} does not take a replacement"
            ));
        }
        if matches!(action, KeepEqual | DropEqual) && regex_text != DEFAULT_REGEX {
            return Err(format!(
                "relabel action {action_name} does not take a regex"
            ));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (!config.source_labels.is_empty()
                || !target.is_empty()
                || config.modulus.is_some()
                || config.separator.is_some()
                || config.replacement.is_some())
        {
            return Err(format!(
                "relabel action {action_name} takes only a regex, no other field"
            ));
        }
        Ok(RelabelRule {
            source_labels: config.source_labels.clone(),
            separator: config
                .separator
                .clone()
                .unwrap_or_else(|| DEFAULT_SEPARATOR.to_owned()),
            regex,
            modulus: config.modulus.unwrap_or(0),
            target_label: target,
            replacement,
            action,
        })
    }

    /// Applies this rule; `false` means the label set is dropped.
    fn apply(&self, labels: &mut BTreeMap<String, String>) -> bool {
        let values: Vec<&str> = self
            .source_labels
            .iter()
            .map(|n| labels.get(n).map_or("", String::as_str))
            .collect();
        let value = values.join(&self.separator);
        match self.action {
            RelabelAction::Drop => return !self.regex.is_match(&value),
            RelabelAction::Keep => return self.regex.is_match(&value),
            RelabelAction::DropEqual => {
                return labels.get(&self.target_label).map_or("", String::as_str) != value
            }
            RelabelAction::KeepEqual => {
                return labels.get(&self.target_label).map_or("", String::as_str) == value
            }
            RelabelAction::Replace => {
                let Some(captures) = self.regex.captures(&value) else {
                    return true;
                };
                let mut target = String::new();
                captures.expand(&self.target_label, &mut target);
                if validate_label_name(&target).is_err() {
                    return true;
                }
                let mut result = String::new();
                captures.expand(&self.replacement, &mut result);
                if result.is_empty() {
                    labels.remove(&target);
                } else {
                    labels.insert(target, result);
                }
            }
            RelabelAction::Lowercase => {
                labels.insert(self.target_label.clone(), value.to_lowercase());
            }
            RelabelAction::Uppercase => {
                labels.insert(self.target_label.clone(), value.to_uppercase());
            }
            RelabelAction::HashMod => {
                let digest = md5(value.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..]);
                let bucket = u64::from_be_bytes(tail) % self.modulus;
                labels.insert(self.target_label.clone(), bucket.to_string());
            }
            RelabelAction::LabelMap => {
                let mapped: Vec<(String, String)> = labels
                    .iter()
                    .filter_map(|(name, value)| {
                        let captures = self.regex.captures(name)?;
                        let mut new_name = String::new();
                        captures.expand(&self.replacement, &mut new_name);
                        Some((new_name, value.clone()))
                    })
                    .collect();
                labels.extend(mapped);
            }
            RelabelAction::LabelDrop => labels.retain(|name, _| !self.regex.is_match(name)),
            RelabelAction::LabelKeep => labels.retain(|name, _| self.regex.is_match(name)),
        }
        true
    }
}

/// Compiles a list of rules; the error names the rule's index.
pub fn compile_rules(
    configs: &[RelabelConfig],
    section: &str,
) -> Result<Vec<RelabelRule>, (String, String)> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| RelabelRule::compile(c).map_err(|e| (format!("{section}[{i}]"), e)))
        .collect()
}

/// Applies `rules` in order; `None` when one drops the set. As in
/// Prometheus, labels whose value became empty are removed.
pub fn relabel(
    mut labels: BTreeMap<String, String>,
    rules: &[RelabelRule],
) -> Option<BTreeMap<String, String>> {
    for rule in rules {
        if !rule.apply(&mut labels) {
            return None;
        }
    }
    labels.retain(|_, v| !v.is_empty());
    Some(labels)
}

#[cfg(test)]
#[path = "relabel_tests.rs"]
mod tests;
