//! Placeholder: being written (remote-write request encoder).
