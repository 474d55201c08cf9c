//! Tests of the OTLP decoders.
