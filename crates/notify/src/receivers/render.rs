//! Message texts: the [`Renderer`] seam through which a receiver's
//! configured texts (`title`, `text`, `subject`, ...) are rendered, and
//! agentmon's own default texts for fields left unset.
//!
//! [`super::GoTemplateRenderer`] is the Go-template [`Renderer`]. The built-in
//! [`PlainRenderer`] knows no templates: it takes text without `{{` as
//! written and fills the simplest field references (`{{ .Status }}`,
//! `{{ .Receiver }}`, `{{ .ExternalURL }}`, `{{ .GroupLabels.name }}`,
//! `{{ .CommonLabels.name }}`, `{{ .CommonAnnotations.name }}`); anything
//! else is refused and the caller falls back to the default text.

use std::fmt::Write as _;

use super::gotime::format_rfc3339_ms;
use super::template_data::{Status, TemplateData};

/// Why a text could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("template {template:?} uses {construct:?}, which the built-in renderer does not know")]
    Unsupported { template: String, construct: String },
    #[error("template {template:?} is malformed: {reason}")]
    Malformed { template: String, reason: String },
    #[error("template {template:?}: {reason}")]
    Template { template: String, reason: String },
}

/// Renders a configured text against a notification's data.
pub trait Renderer: Send + Sync {
    fn render(&self, template: &str, data: &TemplateData) -> Result<String, RenderError>;

    /// Whether the stock templates (`__subject`, `slack.default.title`,
    /// ...) are defined, so a field left at its default can be rendered
    /// as Alertmanager renders it.
    fn has_stock_templates(&self) -> bool {
        false
    }
}

/// The built-in renderer (see the module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainRenderer;

impl Renderer for PlainRenderer {
    fn render(&self, template: &str, data: &TemplateData) -> Result<String, RenderError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(RenderError::Malformed {
                    template: template.to_owned(),
                    reason: "\"{{\" without \"}}\"".to_owned(),
                });
            };
            let action = after[..end].trim();
            out.push_str(
                &field(action, data).ok_or_else(|| RenderError::Unsupported {
                    template: template.to_owned(),
                    construct: action.to_owned(),
                })?,
            );
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn field(action: &str, data: &TemplateData) -> Option<String> {
    let lookup = |map: &std::collections::BTreeMap<String, String>, name: &str| {
        Some(map.get(name).cloned().unwrap_or_default())
    };
    match action {
        ".Status" => Some(data.status.as_str().to_owned()),
        ".Receiver" => Some(data.receiver.clone()),
        ".ExternalURL" => Some(data.external_url.clone()),
        _ => {
            if let Some(name) = action.strip_prefix(".GroupLabels.") {
                lookup(&data.group_labels, name)
            } else if let Some(name) = action.strip_prefix(".CommonLabels.") {
                lookup(&data.common_labels, name)
            } else if let Some(name) = action.strip_prefix(".CommonAnnotations.") {
                lookup(&data.common_annotations, name)
            } else {
                None
            }
        }
    }
}

/// Renders `configured` if set, else `default`; a text the renderer
/// refuses falls back to `default` with a warning, so a template the
/// engine cannot handle never stops an alert from going out.
pub fn render_or_default(
    renderer: &dyn Renderer,
    configured: Option<&str>,
    data: &TemplateData,
    default: fn(&TemplateData) -> String,
) -> String {
    match configured {
        None => default(data),
        Some(template) => renderer.render(template, data).unwrap_or_else(|error| {
            tracing::warn!(%error, receiver = %data.receiver, "using the default text");
            default(data)
        }),
    }
}

/// The text to render for a field: `None` when it is empty, or still the
/// value the config fills in by default (a stock template) and the
/// renderer has no stock templates — agentmon's default text then stands
/// in for it.
pub fn configured<'a>(
    renderer: &dyn Renderer,
    configured: &'a str,
    default: &str,
) -> Option<&'a str> {
    let usable = configured != default || renderer.has_stock_templates();
    (!configured.is_empty() && usable).then_some(configured)
}

/// `[FIRING:2] HighLatency (job="agent")`: status, count, and the group
/// labels, which name what the notification is about.
pub fn default_title(data: &TemplateData) -> String {
    let mut out = match data.status {
        Status::Firing => format!("[FIRING:{}]", data.firing().count()),
        Status::Resolved => "[RESOLVED]".to_owned(),
    };
    let name = data
        .group_labels
        .get("alertname")
        .or_else(|| data.common_labels.get("alertname"));
    if let Some(name) = name {
        let _ = write!(out, " {name}");
    }
    let others: Vec<String> = data
        .group_labels
        .iter()
        .filter(|(name, _)| name.as_str() != "alertname")
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    if !others.is_empty() {
        let _ = write!(out, " ({})", others.join(", "));
    }
    out
}

/// One paragraph per alert: its summary or description, its labels, and
/// when it started (and ended).
pub fn default_text(data: &TemplateData) -> String {
    let mut out = String::new();
    for (heading, status) in [("Firing", Status::Firing), ("Resolved", Status::Resolved)] {
        let alerts: Vec<_> = data.alerts.iter().filter(|a| a.status == status).collect();
        if alerts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{heading} ({}):", alerts.len());
        for alert in alerts {
            let what = alert
                .annotations
                .get("summary")
                .or_else(|| alert.annotations.get("description"))
                .or_else(|| alert.labels.get("alertname"))
                .map_or("(unnamed alert)", String::as_str);
            let _ = writeln!(out, "- {what}");
            let labels: Vec<String> = alert
                .labels
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            let _ = writeln!(out, "  labels: {}", labels.join(" "));
            let _ = write!(out, "  since {}", format_rfc3339_ms(alert.starts_at_ms));
            if let Some(end) = alert.ends_at_ms {
                let _ = write!(out, ", until {}", format_rfc3339_ms(end));
            }
            out.push('\n');
            if !alert.generator_url.is_empty() {
                let _ = writeln!(out, "  source: {}", alert.generator_url);
            }
        }
    }
    out
}

/// The e-mail body in HTML: the default text, escaped, in a `<pre>`.
pub fn default_html(data: &TemplateData) -> String {
    format!(
        "<!DOCTYPE html>\n<html><body><h3>{}</h3><pre>{}</pre></body></html>\n",
        escape_html(&default_title(data)),
        escape_html(&default_text(data))
    )
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn data() -> TemplateData {
        TemplateData {
            receiver: "team".into(),
            status: Status::Firing,
            alerts: vec![],
            group_labels: BTreeMap::from([
                ("alertname".to_owned(), "HighLatency".to_owned()),
                ("job".to_owned(), "agent".to_owned()),
            ]),
            common_labels: BTreeMap::new(),
            common_annotations: BTreeMap::from([("summary".to_owned(), "slow".to_owned())]),
            external_url: "http://am".into(),
            group_key: "k".into(),
        }
    }

    #[test]
    fn plain_renderer_fills_simple_fields_and_refuses_the_rest() {
        let data = data();
        let out = PlainRenderer
            .render("{{ .Status }}: {{.GroupLabels.job}} {{ .CommonAnnotations.summary }} {{ .GroupLabels.none }}!", &data)
            .unwrap();
        assert_eq!(out, "firing: agent slow !");
        assert!(matches!(
            PlainRenderer.render("{{ range .Alerts }}x{{ end }}", &data),
            Err(RenderError::Unsupported { .. })
        ));
        assert!(matches!(
            PlainRenderer.render("oops {{ .Status", &data),
            Err(RenderError::Malformed { .. })
        ));
        let fallback = render_or_default(
            &PlainRenderer,
            Some("{{ template \"x\" . }}"),
            &data,
            default_title,
        );
        assert_eq!(fallback, "[FIRING:0] HighLatency (job=\"agent\")");
    }
}
