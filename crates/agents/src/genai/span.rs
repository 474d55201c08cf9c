//! One GenAI span → its agent events and semconv observations. Either the
//! whole span maps or it is refused: with the first fault of its
//! attributes, or with every rule its events or label values break.

use std::collections::BTreeMap;

use agentmon_ingest::events::{self, EventLimits};
use agentmon_ingest::otlp::{Resource, Span};
use agentmon_model::{AgentEvent, EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};

use super::attributes::{
    self as attr, count, failure, first_text, hex, lenient_text, text, Failure, Operation,
};
use crate::semconv::{Instrument, Observation, TokenType};

/// The `instance` of spans whose resource has neither
/// `service.instance.id` nor `host.name`.
pub const UNKNOWN_INSTANCE: &str = "unknown_instance";
/// The `agent` of spans with no `gen_ai.agent.name` (on them or an
/// ancestor) and no `service.name`.
pub const UNKNOWN_AGENT: &str = "unknown_service";
/// The `provider` of a step whose span names none (a step needs one).
pub const UNKNOWN_PROVIDER: &str = "unknown";

/// What one span is read with.
pub(super) struct SpanInContext<'a> {
    pub span: &'a Span,
    pub resource: &'a Resource,
    /// Its ancestors within the request, nearest first.
    pub ancestors: Vec<&'a Span>,
    pub operation: Operation,
    /// Whether an ancestor is an `invoke_agent` span.
    pub inside_agent: bool,
}

/// What a span and its ancestors in the request name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Named<'a> {
    /// `gen_ai.conversation.id`.
    pub conversation: Option<&'a str>,
    /// `gen_ai.agent.name`.
    pub agent: Option<&'a str>,
}

/// The session and agent a span's events go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Who {
    pub session_id: String,
    pub agent: String,
}

/// What one span maps to.
#[derive(Debug, Default)]
pub(super) struct Mapped {
    pub events: Vec<AgentEvent>,
    pub observations: Vec<Observation>,
}

impl<'a> SpanInContext<'a> {
    /// A string attribute of the span, else of its nearest ancestor that
    /// has it.
    fn inherited(&self, key: &str) -> Result<Option<&'a str>, String> {
        if let Some(own) = text(&self.span.attributes, key)? {
            return Ok(Some(own));
        }
        Ok(self
            .ancestors
            .iter()
            .find_map(|a| lenient_text(&a.attributes, key)))
    }

    /// The checks every span passes before it is read further: its times
    /// and trace id.
    pub(super) fn check(&self) -> Result<(), String> {
        let span = self.span;
        if span.start_time_unix_nano == 0 {
            return Err("span has no start time".into());
        }
        if span.end_time_unix_nano < span.start_time_unix_nano {
            return Err(format!(
                "span ends ({} ns) before it starts ({} ns)",
                span.end_time_unix_nano, span.start_time_unix_nano
            ));
        }
        if span.trace_id.is_empty() {
            return Err("span has no trace_id".into());
        }
        Ok(())
    }

    /// What the span and its ancestors in the request say of its session:
    /// the conversation id and the agent name, each if any.
    pub(super) fn named(&self) -> Result<Named<'a>, String> {
        Ok(Named {
            conversation: self.inherited(attr::CONVERSATION_ID)?,
            agent: self.inherited(attr::AGENT_NAME)?,
        })
    }

    /// The agent of a span that names none: its resource's `service.name`.
    pub(super) fn service(&self) -> &'a str {
        lenient_text(&self.resource.attributes, attr::SERVICE_NAME).unwrap_or(UNKNOWN_AGENT)
    }

    /// Maps a span that passed [`SpanInContext::check`], with its events
    /// going to `who`'s session.
    pub(super) fn map(&self, who: Who, limits: &EventLimits) -> Result<Mapped, String> {
        let span = self.span;
        let resource = &self.resource.attributes;
        let base = Base {
            session_id: who.session_id,
            agent: who.agent,
            instance: lenient_text(resource, attr::SERVICE_INSTANCE_ID)
                .or_else(|| lenient_text(resource, attr::HOST_NAME))
                .unwrap_or(UNKNOWN_INSTANCE)
                .to_owned(),
            start_ms: (span.start_time_unix_nano / 1_000_000) as i64,
            end_ms: (span.end_time_unix_nano / 1_000_000) as i64,
            seconds: (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e9,
        };
        let failure = failure(span)?;
        let provider = first_text(&span.attributes, &attr::PROVIDER_NAME)?;
        let error_type = failure.as_ref().map(|f| f.error_type.clone());
        let provider_label = provider.map(str::to_owned);

        let mut mapped = Mapped::default();
        match self.operation {
            op if op.is_model_call() => {
                let request_model = text(&span.attributes, attr::REQUEST_MODEL)?;
                let response_model = text(&span.attributes, attr::RESPONSE_MODEL)?;
                let Some(model) = response_model.or(request_model) else {
                    return Err(format!(
                        "a {} span needs \"{}\" or \"{}\"",
                        op.as_str(),
                        attr::RESPONSE_MODEL,
                        attr::REQUEST_MODEL
                    ));
                };
                let input = count(&span.attributes, &attr::INPUT_TOKENS)?;
                let output = count(&span.attributes, &attr::OUTPUT_TOKENS)?;
                mapped.events.push(base.event(
                    base.end_ms,
                    EventKind::Step {
                        model: model.to_owned(),
                        provider: provider.unwrap_or(UNKNOWN_PROVIDER).to_owned(),
                        step_type: op.as_str().to_owned(),
                        duration_seconds: base.seconds,
                        prompt_tokens: input.unwrap_or(0),
                        completion_tokens: output.unwrap_or(0),
                        cost_usd: None,
                    },
                ));
                if let Some(Failure { text, .. }) = &failure {
                    mapped.events.push(base.event(
                        base.end_ms,
                        EventKind::LlmError {
                            model: model.to_owned(),
                            error_type: LlmErrorType::classify(text),
                            error: text.clone(),
                        },
                    ));
                }
                let request_model = request_model.map(str::to_owned);
                let response_model = response_model.map(str::to_owned);
                mapped.observations.push(base.observe(
                    Instrument::OperationDuration {
                        operation_name: op.as_str().to_owned(),
                        provider_name: provider_label.clone(),
                        request_model: request_model.clone(),
                        response_model: response_model.clone(),
                        error_type,
                    },
                    base.seconds,
                ));
                for (token_type, tokens) in [(TokenType::Input, input), (TokenType::Output, output)]
                {
                    if let Some(tokens) = tokens {
                        mapped.observations.push(base.observe(
                            Instrument::TokenUsage {
                                operation_name: op.as_str().to_owned(),
                                provider_name: provider_label.clone(),
                                request_model: request_model.clone(),
                                response_model: response_model.clone(),
                                token_type,
                            },
                            tokens as f64,
                        ));
                    }
                }
            }
            Operation::ExecuteTool => {
                let Some(tool_name) = text(&span.attributes, attr::TOOL_NAME)? else {
                    return Err(format!(
                        "an execute_tool span needs \"{}\"",
                        attr::TOOL_NAME
                    ));
                };
                let status = match &failure {
                    None => ToolStatus::Success,
                    Some(f) if is_timeout(f) => ToolStatus::Timeout,
                    Some(_) => ToolStatus::Error,
                };
                mapped.events.push(base.event(
                    base.end_ms,
                    EventKind::ToolCall {
                        tool_name: tool_name.to_owned(),
                        status,
                        duration_seconds: base.seconds,
                        error: failure.as_ref().map(|f| f.text.clone()),
                    },
                ));
                mapped.observations.push(base.observe(
                    Instrument::ExecuteToolDuration {
                        tool_name: tool_name.to_owned(),
                        error_type,
                    },
                    base.seconds,
                ));
            }
            Operation::InvokeAgent => {
                if !self.inside_agent {
                    mapped.events.push(base.event(
                        base.start_ms,
                        EventKind::SessionStart {
                            attributes: self.session_attributes()?,
                        },
                    ));
                    mapped.events.push(base.event(
                        base.end_ms,
                        EventKind::SessionEnd {
                            status: if failure.is_some() {
                                SessionStatus::Failed
                            } else {
                                SessionStatus::Completed
                            },
                            output: None,
                        },
                    ));
                }
                let agent_name = text(&span.attributes, attr::AGENT_NAME)?.map(str::to_owned);
                mapped.observations.push(base.observe(
                    Instrument::InvokeAgentDuration {
                        agent_name,
                        provider_name: provider_label,
                        error_type,
                    },
                    base.seconds,
                ));
            }
            Operation::CreateAgent => {
                let name = text(&span.attributes, attr::AGENT_NAME)?.unwrap_or(&span.name);
                mapped.events.push(base.event(
                    base.end_ms,
                    EventKind::Log {
                        level: LogLevel::Info,
                        message: format!("created agent {name}"),
                    },
                ));
            }
            // `is_model_call` covers the rest.
            _ => {}
        }
        let mut reasons: Vec<String> = mapped
            .events
            .iter()
            .filter_map(|e| events::validate(e, limits).err())
            .collect();
        // The events check `agent` and `instance` when there are events.
        let with_common = mapped.events.is_empty();
        for observation in &mapped.observations {
            for reason in label_faults(observation, with_common, limits) {
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
        }
        if !reasons.is_empty() {
            return Err(reasons.join("; "));
        }
        Ok(mapped)
    }

    /// The `session_start` attributes of a root `invoke_agent` span.
    fn session_attributes(&self) -> Result<BTreeMap<String, String>, String> {
        let mut attributes = BTreeMap::new();
        attributes.insert("trace_id".to_owned(), hex(&self.span.trace_id));
        if !self.span.name.is_empty() {
            attributes.insert("span_name".to_owned(), self.span.name.clone());
        }
        for key in [
            attr::AGENT_NAME,
            attr::AGENT_ID,
            attr::CONVERSATION_ID,
            attr::PROVIDER_NAME[0],
            attr::REQUEST_MODEL,
        ] {
            let value = if key == attr::PROVIDER_NAME[0] {
                first_text(&self.span.attributes, &attr::PROVIDER_NAME)?
            } else {
                text(&self.span.attributes, key)?
            };
            if let Some(value) = value {
                attributes.insert(key.to_owned(), value.to_owned());
            }
        }
        Ok(attributes)
    }
}

/// A tool failure that is a timeout by its type or text.
fn is_timeout(failure: &Failure) -> bool {
    let lower = |s: &str| s.to_lowercase();
    let (kind, text) = (lower(&failure.error_type), lower(&failure.text));
    kind.contains("timeout") || text.contains("timeout") || text.contains("timed out")
}

/// What every event and observation of a span shares.
struct Base {
    session_id: String,
    agent: String,
    instance: String,
    start_ms: i64,
    end_ms: i64,
    seconds: f64,
}

impl Base {
    fn event(&self, timestamp_ms: i64, kind: EventKind) -> AgentEvent {
        AgentEvent {
            session_id: self.session_id.clone(),
            agent: self.agent.clone(),
            instance: self.instance.clone(),
            timestamp_ms,
            kind,
        }
    }

    fn observe(&self, instrument: Instrument, value: f64) -> Observation {
        Observation {
            agent: self.agent.clone(),
            instance: self.instance.clone(),
            instrument,
            value,
        }
    }
}

/// Label values longer than the events' name limit, so a span cannot make
/// series of unbounded size.
fn label_faults(observation: &Observation, with_common: bool, limits: &EventLimits) -> Vec<String> {
    let family = observation.instrument.family();
    let common = [
        ("agent", observation.agent.as_str()),
        ("instance", observation.instance.as_str()),
    ];
    let own = family
        .labels
        .iter()
        .copied()
        .zip(observation.instrument.label_values());
    common
        .into_iter()
        .filter(|_| with_common)
        .chain(own)
        .filter(|(_, value)| value.len() > limits.max_name_bytes)
        .map(|(label, value)| {
            format!(
                "the value of label {label:?} is {} bytes, over the limit of {} bytes",
                value.len(),
                limits.max_name_bytes
            )
        })
        .collect()
}
