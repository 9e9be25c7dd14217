//! The one integration-test binary: one module per area, shared helpers in `util`.

mod util;

mod api_e2e;
mod cli;
mod generator;
mod observability;
mod openapi;
mod providers;
mod sql_corpus;
