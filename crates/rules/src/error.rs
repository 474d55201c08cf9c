//! Everything loading, checking or running rules can fail with.

use thiserror::Error;

/// Why rule files could not be loaded or a rule could not be evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RulesError {
    /// A rule file could not be read.
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    /// A rule file is not valid YAML of the rule-file schema (unknown keys
    /// included).
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    /// A rule file parsed but breaks the rules of the format; one message
    /// per problem, each already prefixed with the file name as promtool
    /// prints them.
    #[error("{}", .errors.join("\n"))]
    Invalid { file: String, errors: Vec<String> },
    /// A `rule_files` pattern is not a valid glob.
    #[error("invalid rule_files pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    /// The same group name appears twice in one file (reported while
    /// loading, when files are combined).
    #[error("{file}: group {group:?} is defined more than once")]
    DuplicateGroup { file: String, group: String },
    /// A unit-test file is wrong.
    #[error("{file}: {message}")]
    UnitTest { file: String, message: String },
}

impl RulesError {
    /// Every problem as its own line, as `promtool check rules` lists them.
    pub fn lines(&self) -> Vec<String> {
        match self {
            RulesError::Invalid { errors, .. } => errors.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// Why one rule's evaluation failed; kept as the rule's `lastError`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// The query failed (parse, execution, timeout, storage).
    #[error("{0}")]
    Query(String),
    /// The query returned something other than an instant vector or scalar.
    #[error("rule result is not a vector or scalar")]
    NotVector,
    /// Two output series ended up with the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRecordingOutput,
    /// Two alerts ended up with the same labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlert,
    /// The rule produced more series than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} series")]
    SeriesLimit { limit: usize, count: usize },
    /// The rule has more pending and firing alerts than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} alerts")]
    AlertLimit { limit: usize, count: usize },
    /// Writing the rule's output failed.
    #[error("writing rule output: {0}")]
    Append(String),
}
