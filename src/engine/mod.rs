//! The question pipeline: retrieve context, generate SQL, validate it, run it,
//! record the answer. [`pipeline`] orchestrates; the submodules are the steps.
//! Nothing in `engine` imports axum: the API and the CLI both call methods of
//! [`pipeline::Engine`] (`ask_with`, `generate`, …).

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
pub mod schema_browser;
pub mod settings;
pub mod sql;
pub mod starters;
pub mod training;
pub mod training_edit;
