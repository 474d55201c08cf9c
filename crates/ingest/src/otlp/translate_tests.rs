//! Tests of the OTLP translation.
