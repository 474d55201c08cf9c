//! The Go-template [`Expander`] of alert labels and annotations, backed by
//! `agentmon-template` with Prometheus's function set.
//!
//! [`GoTemplateExpander::check`] parses the text with the variable
//! definitions Prometheus puts in front (`$labels`, `$externalLabels`,
//! `$externalURL`, `$value`) and returns the parse error as Go words it
//! (`template: __alert_X:1: ...`), which `promtool check rules` prints after
//! the label or annotation name. [`GoTemplateExpander::expand`] runs the
//! template with the alert's data; the `query` function runs through
//! [`TemplateData::query`] at the evaluation time. Its error reads as the
//! one Prometheus's `Expand` returns (`error executing template
//! __alert_X: template: ...`), which the alerting rule wraps in
//! `<error expanding template: ...>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use agentmon_template::prometheus::{
    expansion_error_text, funcs, rule_template_data, QueryFn, QuerySample, RULE_TEMPLATE_PREFIX,
};
use agentmon_template::{Template, TemplateError};

use crate::template::{Expander, TemplateData};

/// Expands Go templates as Prometheus does for alerting rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoTemplateExpander;

/// Parsed templates by name and text, so a rule's templates are parsed
/// once, not once per alert and evaluation. Parsing looks only at the
/// function names, which are the same whatever the query function and
/// external URL, so a template parsed for one expansion serves any other.
/// Past [`MAX_PARSED`] entries (rule files changed many times) it starts
/// afresh.
static PARSED: Mutex<Option<HashMap<(String, String), Template>>> = Mutex::new(None);

/// Most parsed templates kept in [`PARSED`].
const MAX_PARSED: usize = 10_000;

impl GoTemplateExpander {
    fn parse(
        name: &str,
        text: &str,
        external_url: &str,
        query: QueryFn,
    ) -> Result<(Template, agentmon_template::FuncMap), TemplateError> {
        let functions = funcs(query, external_url);
        let key = (name.to_owned(), text.to_owned());
        let cached = PARSED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(|parsed| parsed.get(&key).cloned());
        if let Some(template) = cached {
            return Ok((template, functions));
        }
        let template = Template::parse(name, &format!("{RULE_TEMPLATE_PREFIX}{text}"), &functions)?;
        let mut parsed = PARSED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let parsed = parsed.get_or_insert_with(HashMap::new);
        if parsed.len() >= MAX_PARSED {
            parsed.clear();
        }
        parsed.insert(key, template.clone());
        Ok((template, functions))
    }
}

/// The message of a failed expansion without the `<error expanding
/// template: ...>` wrapper the alerting rule adds.
fn expansion_message(error: &TemplateError) -> String {
    let text = expansion_error_text(error);
    text.strip_prefix("<error expanding template: ")
        .and_then(|rest| rest.strip_suffix('>'))
        .map_or_else(|| error.to_string(), str::to_owned)
}

/// A query function that answers nothing (checking runs no queries).
fn no_queries() -> QueryFn {
    Arc::new(|_| Ok(Vec::new()))
}

impl Expander for GoTemplateExpander {
    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        if !text.contains("{{") {
            return Ok(());
        }
        GoTemplateExpander::parse(name, text, "", no_queries())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn expand(&self, name: &str, text: &str, data: &TemplateData) -> Result<String, String> {
        if !text.contains("{{") {
            return Ok(text.to_owned());
        }
        let query: QueryFn = match &data.query {
            Some(query_func) => {
                let query_func = query_func.clone();
                let timestamp_ms = data.timestamp_ms;
                Arc::new(move |expr: &str| {
                    let samples = query_func.query(expr, timestamp_ms)?;
                    Ok(samples
                        .into_iter()
                        .map(|s| QuerySample {
                            labels: s
                                .labels
                                .iter()
                                .map(|l| (l.name.clone(), l.value.clone()))
                                .collect(),
                            value: s.v,
                        })
                        .collect())
                })
            }
            None => no_queries(),
        };
        let (template, functions) =
            GoTemplateExpander::parse(name, text, &data.external_url, query)
                .map_err(|e| expansion_message(&e))?;
        let value = rule_template_data(
            &data.labels,
            &data.external_labels,
            &data.external_url,
            data.value,
        );
        template
            .execute(&value, &functions)
            .map_err(|e| expansion_message(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use agentmon_model::Labels;
    use agentmon_promql::InstantSample;

    use crate::query::QueryFunc;

    fn data(value: f64) -> TemplateData {
        TemplateData {
            labels: [("instance".to_owned(), "host:9100".to_owned())].into(),
            value,
            external_labels: [("cluster".to_owned(), "eu".to_owned())].into(),
            external_url: "http://mon.example/prom".to_owned(),
            timestamp_ms: 42_000,
            query: None,
        }
    }

    #[test]
    fn expands_variables_and_functions() {
        let out = GoTemplateExpander
            .expand(
                "__alert_A",
                "{{ $labels.instance }} at {{ $value | humanize }} in {{ $externalLabels.cluster }} ({{ $externalURL }})",
                &data(1234567.0),
            )
            .unwrap();
        assert_eq!(out, "host:9100 at 1.235M in eu (http://mon.example/prom)");
    }

    #[test]
    fn a_template_parsed_once_expands_each_alerts_data() {
        let text = "{{ $labels.instance }} at {{ $value }}";
        for value in [1.0, 2.5, 1.0] {
            let out = GoTemplateExpander
                .expand("__alert_Cached", text, &data(value))
                .unwrap();
            assert_eq!(out, format!("host:9100 at {value}"));
        }
        // The same text under another name is that name's template.
        let err = GoTemplateExpander
            .expand(
                "__alert_Other",
                "{{ $labels.instance | nosuchfunc }}",
                &data(1.0),
            )
            .unwrap_err();
        assert!(err.contains("__alert_Other"), "{err}");
    }

    #[test]
    fn plain_text_is_returned_unchanged() {
        assert_eq!(
            GoTemplateExpander
                .expand("__alert_A", "disk { full }", &data(1.0))
                .unwrap(),
            "disk { full }"
        );
    }

    #[test]
    fn check_reports_go_parse_errors_with_the_template_name() {
        let err = GoTemplateExpander
            .check("__alert_A", "{{ $labels.x ")
            .unwrap_err();
        assert!(err.starts_with("template: __alert_A:1:"), "{err}");
        let err = GoTemplateExpander
            .check("__alert_A", "{{ nosuchfunc 1 }}")
            .unwrap_err();
        assert!(err.contains("\"nosuchfunc\" not defined"), "{err}");
        assert!(GoTemplateExpander
            .check("__alert_A", "{{ $value | humanize }}")
            .is_ok());
    }

    #[test]
    fn execution_errors_read_as_prometheus_expand_errors() {
        let err = GoTemplateExpander
            .expand("__alert_A", "{{ humanizeTimestamp \"x\" }}", &data(1.0))
            .unwrap_err();
        assert!(
            err.starts_with("error executing template __alert_A: template: __alert_A:1:"),
            "{err}"
        );
    }

    #[test]
    fn query_runs_through_the_query_func_at_the_evaluation_time() {
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let query = move |text: &str, ts: i64| -> Result<Vec<InstantSample>, String> {
            recorded.lock().push((text.to_owned(), ts));
            Ok(vec![InstantSample {
                labels: Labels::new([("__name__", "up"), ("job", "node")]).unwrap(),
                t: ts,
                v: 7.0,
            }])
        };
        let query: Arc<dyn QueryFunc> = Arc::new(query);
        let mut data = data(1.0);
        data.query = Some(query);
        let out = GoTemplateExpander
            .expand(
                "__alert_A",
                "{{ with query \"up\" }}{{ (first .).Labels.job }}={{ . | first | value }}{{ end }}",
                &data,
            )
            .unwrap();
        assert_eq!(out, "node=7");
        assert_eq!(*seen.lock(), vec![("up".to_owned(), 42_000)]);
    }
}
