//! Sessions across trace requests: a run exported in pieces stays one
//! session when the spans are mapped with a [`TraceSessions`] memory.

use agentmon_ingest::events::EventLimits;
use agentmon_model::{EventKind, SessionStatus};

use super::*;

/// [`agent_run`]'s spans split in two requests the way a batching SDK
/// sends them: first the children (they end first), then the root.
fn run_in_two_requests() -> (TracesRequest, TracesRequest) {
    let mut children = agent_run();
    let spans = &mut children.resource_spans[0].scope_spans[0].spans;
    let root = spans.pop().unwrap();
    assert_eq!(root.name, "invoke_agent planner");
    (children, request(service(), vec![root]))
}

fn sessions_and_agents(batch: &GenAiBatch) -> Vec<(&str, &str)> {
    batch
        .events
        .iter()
        .map(|e| (e.session_id.as_str(), e.agent.as_str()))
        .collect()
}

#[test]
fn a_run_exported_children_first_stays_one_session() {
    let limits = EventLimits::default();
    let (children, root) = run_in_two_requests();

    let memory = TraceSessions::default();
    let first = memory.map(&children, &limits);
    let second = memory.map(&root, &limits);
    assert_eq!(first.skipped, vec![]);
    assert_eq!(
        sessions_and_agents(&first),
        vec![(TRACE_HEX, "travel-svc"); 3],
        "the children name no conversation: the trace is the session"
    );
    // The root names conv-42, but the run already went to the trace's
    // session: it starts and ends that one, with its own agent name.
    assert_eq!(
        sessions_and_agents(&second),
        vec![(TRACE_HEX, "planner"); 2]
    );
    let EventKind::SessionStart { attributes } = &second.events[0].kind else {
        panic!("{:?}", second.events);
    };
    assert_eq!(attributes["gen_ai.conversation.id"], "conv-42");
    assert_eq!(
        second.events[1].kind,
        EventKind::SessionEnd {
            status: SessionStatus::Completed,
            output: None
        }
    );
    assert_eq!(memory.len(), 1);

    // Without the memory the root opens a session of its own, and the
    // children's session is never ended.
    let alone = map_spans(&root, &limits);
    assert_eq!(sessions_and_agents(&alone), vec![("conv-42", "planner"); 2]);
}

#[test]
fn later_spans_join_the_conversation_an_earlier_request_named() {
    let limits = EventLimits::default();
    let mut whole = agent_run();
    let spans = &mut whole.resource_spans[0].scope_spans[0].spans;
    // The last chat call comes in a request of its own, after the rest.
    let late_chat = spans.remove(3);
    assert_eq!(late_chat.span_id, vec![4; 8]);
    let memory = TraceSessions::default();
    let first = memory.map(&whole, &limits);
    assert!(sessions_and_agents(&first)
        .iter()
        .all(|&who| who == ("conv-42", "planner")));

    let late = memory.map(&request(service(), vec![late_chat.clone()]), &limits);
    assert_eq!(sessions_and_agents(&late), vec![("conv-42", "planner")]);
    // Alone, it would be the trace's session under the service's name.
    let alone = map_spans(&request(service(), vec![late_chat]), &limits);
    assert_eq!(sessions_and_agents(&alone), vec![(TRACE_HEX, "travel-svc")]);
}

#[test]
fn a_span_that_names_another_conversation_goes_to_it() {
    let limits = EventLimits::default();
    let memory = TraceSessions::default();
    memory.map(&agent_run(), &limits);
    let mut other = agent_run().resource_spans[0].scope_spans[0].spans[0].clone();
    other.span_id = vec![7; 8];
    other
        .attributes
        .push(s("gen_ai.conversation.id", "conv-other"));
    let batch = memory.map(&request(service(), vec![other]), &limits);
    assert_eq!(
        sessions_and_agents(&batch),
        vec![("conv-other", "travel-svc")]
    );
}

#[test]
fn within_a_request_an_orphan_span_joins_its_traces_conversation() {
    let limits = EventLimits::default();
    let mut whole = agent_run();
    // The tool call's parent is not in the request (a span of another
    // process), so no ancestor names the conversation; it comes first.
    let spans = &mut whole.resource_spans[0].scope_spans[0].spans;
    spans[2].parent_span_id = vec![0xee; 8];
    spans.swap(0, 2);
    let batch = map_spans(&whole, &limits);
    let tool = batch
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::ToolCall { .. }))
        .unwrap();
    assert_eq!(
        (tool.session_id.as_str(), tool.agent.as_str()),
        ("conv-42", "planner")
    );
}

#[test]
fn refused_spans_decide_no_session() {
    let limits = EventLimits::default();
    let memory = TraceSessions::default();
    // A chat span without a model is refused whole.
    let refused = span(
        2,
        Some(1),
        "chat",
        0,
        1_000,
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.conversation.id", "conv-refused"),
        ],
    );
    let batch = memory.map(&request(service(), vec![refused]), &limits);
    assert_eq!(batch.skipped.len(), 1);
    assert!(memory.is_empty());
    let (_, root) = run_in_two_requests();
    let batch = memory.map(&root, &limits);
    assert_eq!(sessions_and_agents(&batch), vec![("conv-42", "planner"); 2]);
}
