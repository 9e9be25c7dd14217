//! Typed settings.
pub mod llm;
