//! The one integration-test binary: one module per area, shared helpers in `util`.

mod util;

mod access_matrix;
mod admin;
mod allowlist;
mod api_e2e;
mod auth;
mod auth_cli;
mod chroma;
mod cli;
mod connectors_sql;
mod distributed_rate_limit;
mod eval;
mod explain;
mod extras;
mod fuzz;
mod gate;
mod generator;
mod jobs_backups;
mod observability;
mod openapi;
mod passwords;
mod prompts;
mod providers;
mod rate_limit;
mod redis_cache;
mod scale_out;
mod secrets_in_logs;
mod sessions;
mod shutdown;
mod sql_corpus;
mod store;
mod telemetry;
mod tls;
mod ui;
