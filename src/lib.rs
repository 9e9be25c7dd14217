//! Insight Engine: ask a database a question in plain language, get checked SQL,
//! rows and a chart back, and teach it with feedback.
//!
//! Layout (dependencies point inward: `api → engine, connectors, store, cache → domain`):
//!
//! | module        | owns |
//! |---------------|------|
//! | [`cli`]       | the `insight` subcommands; `main.rs` only calls [`cli::run`] |
//! | [`config`]    | typed settings, loaded once from `insight.toml` + `INSIGHT_*` env |
//! | [`app`]       | the [`app::App`] that holds every service, built once at startup |
//! | [`api`]       | HTTP: router, middleware, extractors, one module per resource |
//! | [`error`]     | [`error::ApiError`], the one error vocabulary at the edge |
//! | [`auth`]      | users, passwords, tokens, API keys, roles, grants, rate limits |
//! | [`engine`]    | the question pipeline: retrieval, prompts, generators, the gate |
//! | [`sql`]       | the validator: parse, policy, rewrite → [`sql::ValidatedSql`] (depends on domain only) |
//! | [`connectors`]| target databases: introspection and read-only execution |
//! | [`store`]     | the app database (history, feedback, training, users, audit) |
//! | [`observability`] | logs (JSON or text, masked), metrics, correlation ids, OTLP traces, Sentry |
//! | [`cache`]     | the [`cache::Cache`] trait: in-process, or shared in Redis |
//! | [`jobs`]      | the durable job queue and its workers (introspection, training, cleanup, backups) |
//! | [`backup`]    | backups, restores and portable exports of the app store |
//! | [`eval`]      | `insight eval`: execution accuracy on a Spider-format benchmark |
//! | [`domain`]    | identifiers and value types shared by all of the above |
//! | [`text`]      | words of questions and identifiers: tokenising, stemming, stop words |
//! | [`ui`]        | the web UI: embedded pages and assets, server-side SVG charts |

pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cache;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod domain;
pub mod engine;
pub mod error;
pub mod eval;
pub mod jobs;
pub mod observability;
pub mod sql;
pub mod store;
pub mod text;
pub mod ui;
