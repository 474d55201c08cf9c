//! Subquery tests.
