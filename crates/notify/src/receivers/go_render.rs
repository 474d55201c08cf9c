//! The Go-template [`Renderer`]: receivers' texts rendered with Go's
//! template language and Alertmanager's functions and data
//! (`agentmon_template`), against the `templates:` files of the
//! configuration, as Alertmanager renders them.

use std::path::Path;

use agentmon_template::alertmanager::{self, AlertData, NotificationData};
use agentmon_template::{FuncMap, Template};

use super::render::{RenderError, Renderer};
use super::template_data::TemplateData;

/// The stock templates (`stock.tmpl`): Alertmanager's template names with
/// agentmon's texts, read before the configuration's files, which may
/// redefine them.
const STOCK_TEMPLATES: &str = include_str!("stock.tmpl");
const STOCK_NAME: &str = "agentmon-stock.tmpl";

/// Renders with the stock templates and the template files' definitions
/// in scope.
#[derive(Debug, Clone)]
pub struct GoTemplateRenderer {
    templates: Template,
    funcs: FuncMap,
}

impl GoTemplateRenderer {
    /// Reads every file matching `patterns` (globs, relative to `base_dir`
    /// unless absolute), in name order per pattern, after the stock
    /// templates; a file that does not read or parse is an error naming it.
    pub fn load(patterns: &[String], base_dir: &Path) -> Result<GoTemplateRenderer, RenderError> {
        let funcs = alertmanager::funcs();
        let mut templates = Template::parse("", "", &funcs).map_err(|e| RenderError::Template {
            template: String::new(),
            reason: e.to_string(),
        })?;
        templates
            .add(STOCK_NAME, STOCK_TEMPLATES, &funcs)
            .map_err(|e| RenderError::Template {
                template: STOCK_NAME.to_owned(),
                reason: e.to_string(),
            })?;
        for pattern in patterns {
            let full = base_dir.join(pattern);
            let full = full.to_string_lossy();
            let files = glob::glob(&full).map_err(|e| RenderError::Template {
                template: pattern.clone(),
                reason: format!("bad templates glob: {e}"),
            })?;
            let mut paths: Vec<_> = files.filter_map(Result::ok).collect();
            paths.sort();
            for path in paths {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| RenderError::Template {
                    template: name.clone(),
                    reason: format!("cannot read the template file: {e}"),
                })?;
                templates
                    .add(&name, &text, &funcs)
                    .map_err(|e| RenderError::Template {
                        template: name.clone(),
                        reason: e.to_string(),
                    })?;
            }
        }
        Ok(GoTemplateRenderer { templates, funcs })
    }
}

impl Renderer for GoTemplateRenderer {
    fn render(&self, template: &str, data: &TemplateData) -> Result<String, RenderError> {
        let failed = |e: agentmon_template::TemplateError| RenderError::Template {
            template: template.to_owned(),
            reason: e.to_string(),
        };
        let mut set = self.templates.clone();
        set.add("", template, &self.funcs).map_err(failed)?;
        set.execute_named(
            "",
            &alertmanager::alertmanager_data(&notification_data(data)),
            &self.funcs,
        )
        .map_err(failed)
    }

    fn has_stock_templates(&self) -> bool {
        true
    }
}

/// The template engine's view of a notification.
fn notification_data(data: &TemplateData) -> NotificationData {
    let alerts = data
        .alerts
        .iter()
        .map(|a| AlertData {
            status: a.status.as_str().to_owned(),
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at_ms: a.starts_at_ms,
            ends_at_ms: a.ends_at_ms,
            generator_url: a.generator_url.clone(),
        })
        .collect();
    NotificationData::new(
        &data.receiver,
        data.group_labels.clone(),
        alerts,
        &data.external_url,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::receivers::template_data::{Status, TemplateAlert};

    fn alert(name: &str, status: Status) -> TemplateAlert {
        TemplateAlert {
            status,
            labels: BTreeMap::from([
                ("alertname".to_owned(), "HighLatency".to_owned()),
                ("instance".to_owned(), name.to_owned()),
            ]),
            annotations: BTreeMap::from([("summary".to_owned(), format!("{name} is slow"))]),
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: None,
            generator_url: String::new(),
            fingerprint: 0,
        }
    }

    #[test]
    fn texts_use_the_template_files_and_alertmanagers_data() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("agents.tmpl"),
            "{{ define \"agents.title\" }}[{{ .Status | toUpper }}:{{ .Alerts.Firing | len }}] \
             {{ .CommonLabels.alertname }}{{ end }}",
        )
        .unwrap();
        let renderer = GoTemplateRenderer::load(&["*.tmpl".to_owned()], dir.path()).unwrap();
        let data = TemplateData {
            receiver: "team".to_owned(),
            status: Status::Firing,
            alerts: vec![alert("a", Status::Firing), alert("b", Status::Resolved)],
            group_labels: BTreeMap::from([("alertname".to_owned(), "HighLatency".to_owned())]),
            common_labels: BTreeMap::new(),
            common_annotations: BTreeMap::new(),
            external_url: "http://am".to_owned(),
            group_key: "{}:{}".to_owned(),
        };
        let text = renderer
            .render(
                "{{ template \"agents.title\" . }}{{ range .Alerts }} / {{ .Annotations.summary }}{{ end }}",
                &data,
            )
            .unwrap();
        assert_eq!(text, "[FIRING:1] HighLatency / a is slow / b is slow");
        // A broken text is an error naming the problem, not a panic.
        let error = renderer.render("{{ .Status", &data).unwrap_err();
        assert!(error.to_string().contains("unclosed action"), "{error}");
        // So is a template file that does not parse.
        std::fs::write(dir.path().join("broken.tmpl"), "{{ end }}").unwrap();
        assert!(GoTemplateRenderer::load(&["*.tmpl".to_owned()], dir.path()).is_err());
    }

    fn data() -> TemplateData {
        let mut hostile = alert("<script>x</script>", Status::Firing);
        hostile.generator_url = "javascript:alert(1)".to_owned();
        let mut linked = alert("b", Status::Resolved);
        linked.generator_url = "http://prom/graph?g0.expr=a&b".to_owned();
        linked.ends_at_ms = Some(1_700_000_600_000);
        TemplateData {
            receiver: "team a".to_owned(),
            status: Status::Firing,
            alerts: vec![hostile, linked],
            group_labels: BTreeMap::from([("alertname".to_owned(), "HighLatency".to_owned())]),
            common_labels: BTreeMap::from([("alertname".to_owned(), "HighLatency".to_owned())]),
            common_annotations: BTreeMap::new(),
            external_url: "http://agentmon:9090".to_owned(),
            group_key: "{}:{}".to_owned(),
        }
    }

    #[test]
    fn stock_templates_are_defined_and_may_be_redefined() {
        let renderer = GoTemplateRenderer::load(&[], Path::new(".")).unwrap();
        assert!(renderer.has_stock_templates());
        let data = data();
        let subject = renderer
            .render("{{ template \"__subject\" . }}", &data)
            .unwrap();
        assert_eq!(subject, "[FIRING:1] HighLatency ");
        let link = renderer
            .render("{{ template \"slack.default.titlelink\" . }}", &data)
            .unwrap();
        assert_eq!(link, "http://agentmon:9090/#/alerts?receiver=team+a");
        let list = renderer
            .render(
                "{{ template \"__text_alert_list\" .Alerts.Resolved }}",
                &data,
            )
            .unwrap();
        assert_eq!(
            list,
            "Labels:\n - alertname = HighLatency\n - instance = b\nAnnotations:\n - summary = b is slow\n\
             Source: http://prom/graph?g0.expr=a&b\n"
        );
        // A template file read after the stock ones replaces a definition.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.tmpl"),
            "{{ define \"__alertmanager\" }}Fleet monitor{{ end }}",
        )
        .unwrap();
        let renderer = GoTemplateRenderer::load(&["*.tmpl".to_owned()], dir.path()).unwrap();
        let name = renderer
            .render("{{ template \"slack.default.username\" . }}", &data)
            .unwrap();
        assert_eq!(name, "Fleet monitor");
    }

    #[test]
    fn the_stock_email_escapes_every_value_and_links_only_http() {
        let renderer = GoTemplateRenderer::load(&[], Path::new(".")).unwrap();
        let html = renderer
            .render("{{ template \"email.default.html\" . }}", &data())
            .unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert!(html.contains("<td>javascript:alert(1)</td>"), "{html}");
        assert!(
            html.contains("<a href=\"http://prom/graph?g0.expr=a&amp;b\">"),
            "{html}"
        );
        assert!(html.contains("1 firing, 1 resolved"), "{html}");
        assert!(html.contains("until</td>"), "{html}");
        assert!(
            html.contains("href=\"http://agentmon:9090/#/alerts?receiver=team+a\""),
            "{html}"
        );
    }
}
