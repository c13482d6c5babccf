//! The async shell (placeholder: owned by the shell helper, replaced by the real implementation).
