//! The one integration-test binary: one module per area, shared helpers in `util`.

mod util;

mod api_e2e;
mod generator;
mod providers;
mod sql_corpus;
