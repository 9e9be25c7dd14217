//! The one integration-test binary: one module per area, shared helpers in `util`.

mod util;

mod api_e2e;
mod cli;
mod connectors_sql;
mod generator;
mod observability;
mod openapi;
mod providers;
mod shutdown;
mod sql_corpus;
mod telemetry;
