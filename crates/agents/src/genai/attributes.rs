//! Reading GenAI semconv attributes off spans: the attribute names, their
//! older aliases, and typed reads that say precisely what was wrong.

use agentmon_ingest::otlp::{attribute, AnyValue, KeyValue, Span, StatusCode};

pub(super) const OPERATION_NAME: &str = "gen_ai.operation.name";
/// Current name of the provider; `gen_ai.system` before semconv 1.37.
pub(super) const PROVIDER_NAME: [&str; 2] = ["gen_ai.provider.name", "gen_ai.system"];
pub(super) const SYSTEM: &str = "gen_ai.system";
pub(super) const REQUEST_MODEL: &str = "gen_ai.request.model";
pub(super) const RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.usage.prompt_tokens` is the name before semconv 1.27.
pub(super) const INPUT_TOKENS: [&str; 2] =
    ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"];
/// `gen_ai.usage.completion_tokens` is the name before semconv 1.27.
pub(super) const OUTPUT_TOKENS: [&str; 2] = [
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
];
pub(super) const TOOL_NAME: &str = "gen_ai.tool.name";
pub(super) const AGENT_NAME: &str = "gen_ai.agent.name";
pub(super) const AGENT_ID: &str = "gen_ai.agent.id";
pub(super) const CONVERSATION_ID: &str = "gen_ai.conversation.id";
pub(super) const ERROR_TYPE: &str = "error.type";
/// OpenLLMetry's request kind on spans without `gen_ai.operation.name`.
pub(super) const LLM_REQUEST_TYPE: &str = "llm.request.type";

pub(super) const SERVICE_NAME: &str = "service.name";
pub(super) const SERVICE_INSTANCE_ID: &str = "service.instance.id";
pub(super) const HOST_NAME: &str = "host.name";

/// The `error.type` value the semconv prescribes when the instrumentation
/// knows of no more specific one.
pub(super) const OTHER_ERROR: &str = "_OTHER";

/// The GenAI operations agentmon maps (`gen_ai.operation.name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Chat,
    TextCompletion,
    GenerateContent,
    Embeddings,
    ExecuteTool,
    InvokeAgent,
    CreateAgent,
}

impl Operation {
    /// Every operation, in the semconv's order of description.
    pub const ALL: [Operation; 7] = [
        Operation::Chat,
        Operation::TextCompletion,
        Operation::GenerateContent,
        Operation::Embeddings,
        Operation::ExecuteTool,
        Operation::InvokeAgent,
        Operation::CreateAgent,
    ];

    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::GenerateContent => "generate_content",
            Operation::Embeddings => "embeddings",
            Operation::ExecuteTool => "execute_tool",
            Operation::InvokeAgent => "invoke_agent",
            Operation::CreateAgent => "create_agent",
        }
    }

    /// Parses the attribute value (exact).
    pub fn parse(text: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == text)
    }

    /// A call of a model: a step.
    pub fn is_model_call(self) -> bool {
        matches!(
            self,
            Operation::Chat
                | Operation::TextCompletion
                | Operation::GenerateContent
                | Operation::Embeddings
        )
    }
}

/// The span's GenAI operation: `Ok(None)` for a span that is not a GenAI
/// span agentmon maps (no `gen_ai.operation.name` and not an older
/// `gen_ai.system` + `gen_ai.request.model` span, or a custom operation).
pub(super) fn operation_of(span: &Span) -> Result<Option<Operation>, String> {
    match present(&span.attributes, OPERATION_NAME) {
        Some(AnyValue::String(name)) => return Ok(Operation::parse(name)),
        Some(other) => return Err(wrong_type(OPERATION_NAME, "a string", other)),
        None => {}
    }
    // OpenLLMetry and OpenLIT before semconv 1.27 set no operation name.
    let legacy = lenient_text(&span.attributes, SYSTEM).is_some()
        && lenient_text(&span.attributes, REQUEST_MODEL).is_some();
    if !legacy {
        return Ok(None);
    }
    Ok(Some(
        match lenient_text(&span.attributes, LLM_REQUEST_TYPE) {
            Some("completion") => Operation::TextCompletion,
            Some("embedding") => Operation::Embeddings,
            _ => Operation::Chat,
        },
    ))
}

/// An attribute that is present with a value (`Empty` counts as absent).
fn present<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attribute(attributes, key).filter(|v| !matches!(v, AnyValue::Empty))
}

/// A string attribute; absent or empty is `None`, another type an error.
pub(super) fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Result<Option<&'a str>, String> {
    match present(attributes, key) {
        None => Ok(None),
        Some(AnyValue::String(s)) if s.is_empty() => Ok(None),
        Some(AnyValue::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(key, "a string", other)),
    }
}

/// The first of `keys` that is set, read as [`text`].
pub(super) fn first_text<'a>(
    attributes: &'a [KeyValue],
    keys: &[&str],
) -> Result<Option<&'a str>, String> {
    for key in keys {
        if let Some(value) = text(attributes, key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// A string attribute where a wrong type is as good as absent (attributes
/// of resources and ancestor spans, which are not the span being judged).
pub(super) fn lenient_text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    text(attributes, key).ok().flatten()
}

/// A token count: the first of `keys` that is set, a whole number ≥ 0
/// (an integer, a float without fraction or a numeric string).
pub(super) fn count(attributes: &[KeyValue], keys: &[&str]) -> Result<Option<u64>, String> {
    for key in keys {
        let Some(value) = present(attributes, key) else {
            continue;
        };
        return match value.as_i64() {
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            Some(n) => Err(format!("attribute {key:?} must not be negative, got {n}")),
            None => Err(wrong_type(key, "a whole number", value)),
        };
    }
    Ok(None)
}

/// How a failed span failed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Failure {
    /// The `error_type` label: `error.type`, else the `exception.type` of
    /// an `exception` span event, else `_OTHER`.
    pub error_type: String,
    /// The error text: `<error type>: <message>`, the message being the
    /// status message, else the exception message; either part alone when
    /// the other is unknown.
    pub text: String,
}

/// `Some` when the span ended in an error: `error.type` is set or the
/// status is `ERROR`.
pub(super) fn failure(span: &Span) -> Result<Option<Failure>, String> {
    let declared = text(&span.attributes, ERROR_TYPE)?;
    if declared.is_none() && span.status.code != StatusCode::Error {
        return Ok(None);
    }
    let exception = span.events.iter().find(|e| e.name == "exception");
    let exception_text = |key: &str| exception.and_then(|e| lenient_text(&e.attributes, key));
    let error_type = declared.or_else(|| exception_text("exception.type"));
    let message = Some(span.status.message.as_str())
        .filter(|m| !m.is_empty())
        .or_else(|| exception_text("exception.message"));
    let text = match (error_type, message) {
        (Some(kind), Some(message)) if !message.contains(kind) => format!("{kind}: {message}"),
        (_, Some(message)) => message.to_owned(),
        (Some(kind), None) => kind.to_owned(),
        (None, None) => "span status is ERROR".to_owned(),
    };
    Ok(Some(Failure {
        error_type: error_type.unwrap_or(OTHER_ERROR).to_owned(),
        text,
    }))
}

fn wrong_type(key: &str, expected: &str, got: &AnyValue) -> String {
    format!(
        "attribute {key:?} must be {expected}, got {}",
        describe(got)
    )
}

/// An attribute value's kind, for messages.
fn describe(value: &AnyValue) -> String {
    match value {
        AnyValue::Empty => "no value".into(),
        AnyValue::String(_) => "a string".into(),
        AnyValue::Bool(b) => format!("a boolean ({b})"),
        AnyValue::Int(i) => format!("an integer ({i})"),
        AnyValue::Double(d) => format!("a double ({d})"),
        AnyValue::Array(_) => "an array".into(),
        AnyValue::KvList(_) => "a key-value list".into(),
        AnyValue::Bytes(_) => "bytes".into(),
    }
}

/// Lower-case hex of an OTLP identifier.
pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}
