//! The seam to the Go-template engine that expands alert labels and
//! annotations.
//!
//! Prometheus expands every label value and annotation of an alerting rule
//! with `text/template`, after prepending definitions of `$labels`,
//! `$externalLabels`, `$externalURL` and `$value`. This crate does not know
//! the template language: it calls an [`Expander`] with the text and the
//! [`TemplateData`] of one alert. [`PlainTextExpander`] handles text without
//! any `{{` (returned unchanged) and refuses the rest; the Go-template
//! engine is plugged in by `GoTemplateExpander` (`template_expander.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::query::QueryFunc;

/// What a template of an alerting rule can refer to.
#[derive(Clone, Default)]
pub struct TemplateData {
    /// `$labels`: the labels of the query result's sample (with
    /// `__name__` if the result kept it, as in Prometheus).
    pub labels: BTreeMap<String, String>,
    /// `$value`: the sample value that made the alert.
    pub value: f64,
    /// `$externalLabels`: the server's external labels.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL`: the URL the server is reached at.
    pub external_url: String,
    /// The evaluation time in milliseconds (for `query` and time functions).
    pub timestamp_ms: i64,
    /// What the template function `query` runs queries through, at
    /// `timestamp_ms`; `None` where no queries are possible (checking).
    pub query: Option<Arc<dyn QueryFunc>>,
}

impl fmt::Debug for TemplateData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateData")
            .field("labels", &self.labels)
            .field("value", &self.value)
            .field("external_labels", &self.external_labels)
            .field("external_url", &self.external_url)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("query", &self.query.is_some())
            .finish()
    }
}

/// Checks and expands templates. `name` names the template in messages
/// (Prometheus uses `__alert_<alertname>`).
///
/// A Go-template implementation should behave as Prometheus does: the data
/// is the dot (`.Labels`, `.Value`, `.ExternalLabels`, `.ExternalURL`) and
/// the text is run after `{{$labels := .Labels}}{{$externalLabels :=
/// .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}`,
/// so those variables exist both when checking and when expanding. The
/// `query` function runs through [`TemplateData::query`] at
/// [`TemplateData::timestamp_ms`]. A failed expansion is reported by the
/// caller as `<error expanding template: ...>` in place of the text.
pub trait Expander: Send + Sync {
    /// Whether `text` parses as a template.
    fn check(&self, name: &str, text: &str) -> Result<(), String>;
    /// `text` expanded with `data`.
    fn expand(&self, name: &str, text: &str, data: &TemplateData) -> Result<String, String>;
}

/// An [`Expander`] for plain text only: text without `{{` is returned as it
/// is, anything else is an error saying no template engine is wired.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTextExpander;

impl PlainTextExpander {
    fn refuse(name: &str, text: &str) -> Result<(), String> {
        if text.contains("{{") {
            Err(format!(
                "template: {name}: template engine not wired: cannot expand {{{{ ... }}}} in {text:?}"
            ))
        } else {
            Ok(())
        }
    }
}

impl Expander for PlainTextExpander {
    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        PlainTextExpander::refuse(name, text)
    }

    fn expand(&self, name: &str, text: &str, _data: &TemplateData) -> Result<String, String> {
        PlainTextExpander::refuse(name, text)?;
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_and_templates_are_refused() {
        let expander = PlainTextExpander;
        let data = TemplateData::default();
        assert_eq!(
            expander.expand("__alert_A", "disk full", &data).unwrap(),
            "disk full"
        );
        let err = expander
            .expand("__alert_A", "{{ $value }} left", &data)
            .unwrap_err();
        assert!(err.contains("template engine not wired"), "{err}");
        assert!(expander.check("__alert_A", "{{ $labels.x }}").is_err());
        assert!(expander.check("__alert_A", "a { b }").is_ok());
    }
}
