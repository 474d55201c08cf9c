//! Placeholder: being written (load generators).
