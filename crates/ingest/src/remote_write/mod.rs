//! Placeholder: being written.
pub mod encode;
