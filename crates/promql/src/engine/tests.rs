//! Evaluator tests on small hand-made data.
