//! The target-database connectors against real SQLite, PostgreSQL and
//! MySQL/MariaDB: `fixture` seeds one shop per test on each, `conformance`
//! holds the cases every connector must pass (each written once, run on all
//! three), and one module per connector holds what only that dialect has.

mod conformance;
mod fixture;
mod mysql;
mod postgres;
mod sqlite;
