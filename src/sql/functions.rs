//! Which functions a query may call: a denylist of scalar functions and an
//! allowlist of table-valued functions.
//!
//! The denylist is shared by all dialects on purpose: a name that sleeps,
//! reads files or changes server state in one dialect has no business in an
//! analytic query on another, and a single list cannot be defeated by picking
//! the "wrong" dialect. Table functions are the opposite: they can read
//! anything (`pragma_*`, `dblink`, `fsdir`), so only a few known-pure ones
//! are allowed.

/// Functions that read or write files, sleep, take locks, change server or
/// session state, mutate sequences, run SQL given as text, reach other servers
/// or leak server identity. Matched case-insensitively on the last name part
/// (so `pg_catalog.pg_sleep` is caught) and on the full dotted name.
const FORBIDDEN: &[&str] = &[
    // SQLite (core and common loadable extensions)
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "eval",
    "fts3_tokenizer",
    "zeroblob",
    "randomblob",
    "fsdir",
    "lsdir",
    // PostgreSQL
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_stat_file",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_promote",
    "pg_notify",
    "pg_import_system_collations",
    "pg_log_backend_memory_contexts",
    "pg_backend_pid",
    "pg_current_logfile",
    "pg_export_snapshot",
    "set_config",
    "current_setting",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "ts_stat",
    "ts_rewrite",
    "inet_server_addr",
    "inet_server_port",
    "version",
    "copy",
    // MySQL / MariaDB
    "sleep",
    "benchmark",
    "load_file",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "is_free_lock",
    "is_used_lock",
    "master_pos_wait",
    "source_pos_wait",
    "master_gtid_wait",
    "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    "sys_exec",
    "sys_eval",
    "sys_get",
    "sys_set",
    "lib_mysqludf_sys_info",
    "uuid_short",
    "found_rows",
    "row_count",
    "last_insert_id",
    "connection_id",
    // Identity of the session (useful only for reconnaissance).
    "user",
    "system_user",
    "session_user",
    "current_user",
    "database",
    "schema",
];

/// Name prefixes with the same verdict: whole families of admin functions.
const FORBIDDEN_PREFIXES: &[&str] = &[
    // SQLite: `sqlite_compileoption_*`, `sqlite_offset`…, and the pragma
    // table functions when called as scalars.
    "sqlite_",
    "pragma_",
    // PostgreSQL
    "pg_ls_",
    "pg_read_",
    "pg_file_",
    "pg_logdir_",
    "pg_advisory",
    "pg_try_advisory",
    "pg_logical_",
    "pg_replication_",
    "pg_create_",
    "pg_drop_",
    "pg_start_",
    "pg_stop_",
    "pg_backup_",
    "pg_wal_",
    "pg_stat_reset",
    "pg_current_xact",
    "pg_xact_",
    "pg_snapshot_",
    "txid_",
    "lo_",
    "dblink",
    // `query_to_xml`, `table_to_xmlschema`, `cursor_to_xml`…: run SQL text
    // or dump whole relations.
    "query_to_",
    "table_to_",
    "schema_to_",
    "database_to_",
    "cursor_to_",
    // Anything called through the PostgreSQL system schema by its full name.
    "pg_catalog.pg_",
];

/// Table-valued functions allowed in `FROM`: pure, and reading only their
/// arguments.
const ALLOWED_TABLE_FUNCTIONS: &[&str] = &[
    "json_each",
    "json_tree",
    "jsonb_each",
    "jsonb_each_text",
    "json_each_text",
    "json_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "generate_series",
    "unnest",
];

fn denied(name: &str) -> bool {
    FORBIDDEN.contains(&name) || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Is a function with these name parts forbidden anywhere in a query?
pub(super) fn is_forbidden(parts: &[String]) -> bool {
    let full = parts.join(".").to_lowercase();
    let last = parts.last().map(|p| p.to_lowercase()).unwrap_or_default();
    denied(&last) || denied(&full)
}

/// May a function with these name parts be used as a table in `FROM`? Only
/// unqualified names on the allowlist: a schema-qualified name could resolve
/// to a user-defined function of the same name.
pub(super) fn is_allowed_table_function(parts: &[String]) -> bool {
    match parts {
        [name] => ALLOWED_TABLE_FUNCTIONS.contains(&name.to_lowercase().as_str()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Vec<String> {
        name.split('.').map(String::from).collect()
    }

    #[test]
    fn names_prefixes_case_and_qualifiers() {
        for f in [
            "pg_sleep",
            "PG_SLEEP",
            "pg_catalog.pg_sleep",
            "pg_ls_waldir",
            "pg_try_advisory_xact_lock",
            "lo_export",
            "dblink_exec",
            "txid_current",
            "query_to_xml_and_xmlschema",
            "sqlite_compileoption_used",
            "Load_Extension",
            "main.readfile",
            "BENCHMARK",
        ] {
            assert!(is_forbidden(&p(f)), "{f} should be forbidden");
        }
        for f in [
            "count",
            "sum",
            "coalesce",
            "date_trunc",
            "strftime",
            "lower",
            "lag",
            "pg_catalog.count",
            "json_extract",
        ] {
            assert!(!is_forbidden(&p(f)), "{f} should be allowed");
        }
    }

    #[test]
    fn table_functions_are_an_unqualified_allowlist() {
        assert!(is_allowed_table_function(&p("JSON_EACH")));
        assert!(is_allowed_table_function(&p("generate_series")));
        assert!(!is_allowed_table_function(&p("pragma_table_info")));
        assert!(!is_allowed_table_function(&p("dblink")));
        assert!(!is_allowed_table_function(&p("evil.generate_series")));
    }
}
