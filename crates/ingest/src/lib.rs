//! Placeholder: being written.
pub mod remote_write;
