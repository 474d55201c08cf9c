use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// The label that carries a series' metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// One owned label pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// One borrowed label pair, as decoded from a request buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelRef<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

impl<'a> LabelRef<'a> {
    pub fn new(name: &'a str, value: &'a str) -> LabelRef<'a> {
        LabelRef { name, value }
    }
}

/// A label set sorted by name, with unique names and non-empty values.
/// Immutable and shared: cloning one is a reference-count increment, which
/// matters where the query engine carries a series' labels through every
/// step of a range query.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// Builds a label set from pairs in any order, sorting them and dropping
    /// empty values (which mean "label absent" in Prometheus). Names are
    /// validated and must be unique.
    pub fn new<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Labels, ModelError> {
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .filter(|l| !l.value.is_empty())
            .collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in labels.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(ModelError::DuplicateLabel {
                    name: pair[0].name.clone(),
                });
            }
        }
        for label in &labels {
            if label.name == METRIC_NAME_LABEL {
                validate_metric_name(&label.value)?;
            } else {
                validate_label_name(&label.name)?;
            }
        }
        Ok(Labels(labels.into()))
    }

    /// Wraps labels that the caller has already validated and sorted.
    pub fn from_sorted_unchecked(labels: Vec<Label>) -> Labels {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Labels(labels.into())
    }

    /// Builds an owned label set from already validated borrowed pairs.
    pub fn from_refs(refs: &[LabelRef<'_>]) -> Labels {
        Labels(
            refs.iter()
                .map(|l| Label {
                    name: l.name.to_owned(),
                    value: l.value.to_owned(),
                })
                .collect::<Vec<Label>>()
                .into(),
        )
    }

    /// Whether both are the same shared set (not just equal sets): a cheap
    /// check for "certainly equal".
    pub fn same_as(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name, if the set has one.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME_LABEL)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs borrowed, as a [`crate::SeriesBatch`] takes them.
    pub fn refs(&self) -> Vec<LabelRef<'_>> {
        self.0
            .iter()
            .map(|l| LabelRef::new(&l.name, &l.value))
            .collect()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// The pairs as an owned vector (a copy when the set is shared).
    pub fn into_vec(self) -> Vec<Label> {
        self.0.to_vec()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Prints the PromQL form: `name{a="b", c="d"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for label in self.0.iter().filter(|l| l.name != METRIC_NAME_LABEL) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

/// Checks a label name against `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn validate_label_name(name: &str) -> Result<(), ModelError> {
    let bytes = name.as_bytes();
    let valid = match bytes.split_first() {
        None => false,
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
    };
    if valid {
        Ok(())
    } else {
        Err(ModelError::InvalidLabelName {
            name: name.to_owned(),
        })
    }
}

/// Checks a metric name against `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn validate_metric_name(name: &str) -> Result<(), ModelError> {
    let bytes = name.as_bytes();
    let valid = match bytes.split_first() {
        None => false,
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_' || *first == b':')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b':')
        }
    };
    if valid {
        Ok(())
    } else {
        Err(ModelError::InvalidMetricName {
            name: name.to_owned(),
        })
    }
}

/// Label values must be non-empty when present (UTF-8 is guaranteed by `&str`).
pub fn validate_label_value(name: &str, value: &str) -> Result<(), ModelError> {
    if value.is_empty() {
        Err(ModelError::EmptyLabelValue {
            name: name.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Validates a label set as it arrives on the wire: sorted by name, names
/// unique and valid, values non-empty, a valid metric name present.
pub fn validate_wire_labels(labels: &[LabelRef<'_>]) -> Result<(), ModelError> {
    if labels.is_empty() {
        return Err(ModelError::NoLabels);
    }
    let mut has_name = false;
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            let previous = labels[i - 1].name;
            if previous == label.name {
                return Err(ModelError::DuplicateLabel {
                    name: label.name.to_owned(),
                });
            }
            if previous > label.name {
                return Err(ModelError::UnsortedLabels {
                    previous: previous.to_owned(),
                    name: label.name.to_owned(),
                });
            }
        }
        if label.name == METRIC_NAME_LABEL {
            validate_metric_name(label.value)?;
            has_name = true;
        } else {
            validate_label_name(label.name)?;
            validate_label_value(label.name, label.value)?;
        }
    }
    if has_name {
        Ok(())
    } else {
        Err(ModelError::MissingMetricName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_follow_the_prometheus_grammar() {
        assert!(validate_label_name("job").is_ok());
        assert!(validate_label_name("_a1").is_ok());
        assert!(validate_label_name("2xx").is_err());
        assert!(validate_label_name("a-b").is_err());
        assert!(validate_label_name("").is_err());
        assert!(validate_metric_name("a:b_c").is_ok());
        assert!(validate_metric_name("a.b").is_err());
    }

    #[test]
    fn wire_labels_must_be_sorted_unique_and_named() {
        let ok = [LabelRef::new("__name__", "up"), LabelRef::new("job", "x")];
        assert!(validate_wire_labels(&ok).is_ok());
        let unsorted = [LabelRef::new("job", "x"), LabelRef::new("__name__", "up")];
        assert!(matches!(
            validate_wire_labels(&unsorted),
            Err(ModelError::UnsortedLabels { .. })
        ));
        let dup = [
            LabelRef::new("__name__", "up"),
            LabelRef::new("__name__", "up"),
        ];
        assert!(matches!(
            validate_wire_labels(&dup),
            Err(ModelError::DuplicateLabel { .. })
        ));
        let empty = [LabelRef::new("__name__", "up"), LabelRef::new("job", "")];
        assert!(matches!(
            validate_wire_labels(&empty),
            Err(ModelError::EmptyLabelValue { .. })
        ));
        let nameless = [LabelRef::new("job", "x")];
        assert!(matches!(
            validate_wire_labels(&nameless),
            Err(ModelError::MissingMetricName)
        ));
    }

    #[test]
    fn labels_new_sorts_and_drops_empty_values() {
        let l = Labels::new([("job", "a"), ("__name__", "up"), ("x", "")]).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.metric_name(), Some("up"));
        assert_eq!(l.to_string(), "up{job=\"a\"}");
    }
}
