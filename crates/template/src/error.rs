//! The one error type of the crate, worded as Go's `text/template` words it.

use thiserror::Error;

use crate::printf::go_quote;

/// A template that could not be parsed or executed.
///
/// The `Display` text is the text Go prints for the same fault, so messages
/// read the same as in Prometheus and Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// The template text is not valid: `template: NAME:LINE: message`.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        name: String,
        line: usize,
        message: String,
    },
    /// Execution failed at a node:
    /// `template: NAME:LINE:COL: executing "TEMPLATE" at <NODE>: message`.
    #[error(
        "template: {location}: executing {} at <{context}>: {message}",
        go_quote(template)
    )]
    Exec {
        /// `NAME:LINE:COL` of the node, the column counted in bytes from 0.
        location: String,
        /// The template being executed.
        template: String,
        /// The node's text, cut to 20 bytes as Go does.
        context: String,
        message: String,
    },
    /// Execution used more work than one template may (a guard Go lacks,
    /// against templates that recurse or loop without end).
    #[error("template: {template}: execution stopped after {limit} steps; the template recurses or loops too much")]
    TooMuchWork { template: String, limit: u64 },
    /// Execution wrote, or a function returned, more text than allowed.
    #[error(
        "template: {template}: execution stopped: output or a string would exceed {limit} bytes"
    )]
    TooMuchOutput { template: String, limit: usize },
    /// `execute_named` or `{{template}}` named a template the set lacks.
    #[error(
        "template: no template {} associated with template {}",
        go_quote(name),
        go_quote(set)
    )]
    NoTemplate { name: String, set: String },
}
