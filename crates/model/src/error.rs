use thiserror::Error;

/// Everything that can be wrong with a piece of the data model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error("label name {name:?} is invalid: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName { name: String },
    #[error("metric name {name:?} is invalid: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName { name: String },
    #[error(
        "label {name:?} has an empty value: empty values mean \"no label\" and must be left out"
    )]
    EmptyLabelValue { name: String },
    #[error("label {name:?} has a value that is not valid UTF-8")]
    InvalidUtf8 { name: String },
    #[error("labels are not sorted by name: {previous:?} comes before {name:?}")]
    UnsortedLabels { previous: String, name: String },
    #[error("label {name:?} appears more than once")]
    DuplicateLabel { name: String },
    #[error("series has no labels")]
    NoLabels,
    #[error("series has no metric name (label __name__)")]
    MissingMetricName,
    #[error("invalid regular expression {regex:?} for label {name:?}: {reason}")]
    InvalidRegex {
        name: String,
        regex: String,
        reason: String,
    },
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration { input: String, reason: &'static str },
    #[error("invalid size {input:?}: {reason}")]
    InvalidSize { input: String, reason: &'static str },
}
