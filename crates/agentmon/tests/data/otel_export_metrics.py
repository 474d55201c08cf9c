"""Records one instrument of each kind with the OpenTelemetry Python SDK and
exports them once, over OTLP/HTTP protobuf with gzip, to `<base>/v1/metrics`,
then exports one agent run as GenAI spans (invoke_agent with a chat and a
tool call) to `<base>/v1/traces`, and a second run in two exports, the way
a long run goes out: its chat call flushed while the run goes on, the tool
call and the run's root span after it ends. `<base>` is the first argument
(agentmon's URL). Used by crates/agentmon/tests/otlp_python.rs.

Prints the second run's trace id (32 hex digits). Exits 0 when every
export succeeded, 1 otherwise.
"""

import contextlib
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@contextlib.contextmanager
def agent_run(tracer, agent_name, conversation_id):
    """The root span of an agent run; the calls inside are its children."""
    with tracer.start_as_current_span("invoke_agent " + agent_name) as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", agent_name)
        agent.set_attribute("gen_ai.conversation.id", conversation_id)
        yield agent


def chat_call(tracer, model, input_tokens, output_tokens):
    with tracer.start_as_current_span("chat " + model) as chat:
        chat.set_attribute("gen_ai.operation.name", "chat")
        chat.set_attribute("gen_ai.provider.name", "openai")
        chat.set_attribute("gen_ai.request.model", model)
        chat.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        chat.set_attribute("gen_ai.usage.output_tokens", output_tokens)


def tool_call(tracer, tool_name):
    with tracer.start_as_current_span("execute_tool " + tool_name) as tool:
        tool.set_attribute("gen_ai.operation.name", "execute_tool")
        tool.set_attribute("gen_ai.tool.name", tool_name)


def main(base):
    resource = Resource.create(
        {
            "service.name": "otel-e2e",
            "service.instance.id": "inst-1",
            "deployment.environment": "test",
        }
    )
    exporter = OTLPMetricExporter(endpoint=base + "/v1/metrics", timeout=10, compression=Compression.Gzip)
    # A long interval: the only export is the explicit flush below.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("agentmon.e2e", "0.1")

    requests = meter.create_counter("agent.requests", unit="{request}", description="Requests sent.")
    requests.add(3, {"model": "gpt"})
    requests.add(2, {"model": "gpt"})

    queue = meter.create_up_down_counter("agent.queue.depth", unit="{item}")
    queue.add(5)
    queue.add(-2)

    latency = meter.create_histogram("agent.latency", unit="ms")
    for value in (3, 7, 120):
        latency.record(value)

    if hasattr(meter, "create_gauge"):
        memory = meter.create_gauge("agent.memory.usage", unit="By")
        memory.set(2048)
    else:
        from opentelemetry.metrics import Observation

        meter.create_observable_gauge(
            "agent.memory.usage", callbacks=[lambda _options: [Observation(2048)]], unit="By"
        )

    metrics_ok = provider.force_flush(timeout_millis=20_000)
    provider.shutdown()

    tracer_provider = TracerProvider(resource=resource)
    span_exporter = OTLPSpanExporter(endpoint=base + "/v1/traces", timeout=10)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    tracer = tracer_provider.get_tracer("agentmon.e2e", "0.1")
    with agent_run(tracer, "planner", "conv-e2e-1"):
        chat_call(tracer, "gpt-4o", 12, 30)
        tool_call(tracer, "search")
    traces_ok = tracer_provider.force_flush(timeout_millis=20_000)

    # Only the root names the conversation; its chat call goes out first.
    with agent_run(tracer, "researcher", "conv-e2e-2") as agent:
        chat_call(tracer, "gpt-4o-mini", 7, 9)
        first_part_ok = tracer_provider.force_flush(timeout_millis=20_000)
        tool_call(tracer, "fetch")
        print(format(agent.get_span_context().trace_id, "032x"))
    second_part_ok = tracer_provider.force_flush(timeout_millis=20_000)
    tracer_provider.shutdown()
    ok = metrics_ok and traces_ok and first_part_ok and second_part_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
