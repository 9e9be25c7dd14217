//! The question pipeline: retrieve context, generate SQL, validate it, run it,
//! record the answer. [`pipeline`] orchestrates (one generate → validate →
//! correct loop); the other submodules are the steps and the services around
//! them. Nothing in `engine` imports axum: the API and the CLI both call
//! methods of [`pipeline::Engine`] (`scope`, then `ask_with`, `generate`, …;
//! the CLI and eval call `ask`).

pub mod admin;
pub mod chart;
pub mod conversation;
pub mod explain;
pub mod extras;
pub mod fix;
pub mod gate;
pub mod grant;
pub mod history;
pub mod llm;
pub mod maintenance;
pub mod pipeline;
pub mod prompt;
pub mod retrieval;
pub mod settings;
pub mod training;
pub mod training_edit;
