//! End-to-end checks of [`super::validate`], one group per rule.

use super::*;
use crate::domain::{ColumnInfo, TableInfo};

fn schema() -> SchemaInfo {
    let t = |name: &str, cols: &[&str], is_view: bool| TableInfo {
        name: name.into(),
        is_view,
        columns: cols
            .iter()
            .map(|c| ColumnInfo {
                name: (*c).into(),
                data_type: "TEXT".into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    SchemaInfo {
        tables: vec![
            t("customers", &["id", "name"], false),
            t("Orders", &["id", "customer_id", "total"], false),
            t("big_spenders", &["id"], true),
        ],
    }
}

fn policy() -> SqlPolicy {
    SqlPolicy {
        max_rows: 100,
        allowed_tables: None,
    }
}

fn run(sql: &str, d: Dialect) -> Result<ValidatedSql, ValidationError> {
    validate(sql, d, &schema(), &policy())
}

fn ok(sql: &str) -> ValidatedSql {
    ok_in(sql, Dialect::Sqlite)
}

fn ok_in(sql: &str, d: Dialect) -> ValidatedSql {
    run(sql, d).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

fn err(sql: &str, d: Dialect) -> ValidationError {
    match run(sql, d) {
        Ok(v) => panic!("{sql} was accepted as {}", v.sql()),
        Err(e) => e,
    }
}

fn assert_code(code: RejectCode, d: Dialect, sqls: &[&str]) {
    for sql in sqls {
        let e = err(sql, d);
        assert_eq!(e.code, code, "{sql}: {}", e.message);
        assert!(e.message.ends_with('.'), "{sql}: {}", e.message);
    }
}

#[test]
fn output_is_rendered_with_limit_tables_and_dialect() {
    let v = ok("select  c.name -- who\n from CUSTOMERS c /* all */");
    assert_eq!(v.sql(), "SELECT c.name FROM CUSTOMERS c LIMIT 100");
    assert_eq!(v.tables(), ["customers"]);
    assert_eq!(v.limit(), 100);
    assert_eq!(v.dialect(), Dialect::Sqlite);
    let v = ok(
        "WITH big AS (SELECT * FROM orders WHERE total > 10) SELECT c.name FROM customers c JOIN big ON big.customer_id = c.id JOIN orders o ON o.id = 1",
    );
    assert_eq!(v.tables(), ["customers", "orders"]);
    assert_eq!(ok("VALUES (1), (2)").limit(), 100);
    assert_eq!(ok("SELECT * FROM customers LIMIT 7 OFFSET 3").limit(), 7);
    assert_eq!(ok("SELECT * FROM customers LIMIT 5000").limit(), 100);
    let my = ok_in("SELECT * FROM customers LIMIT 10, 500", Dialect::Mysql);
    assert!(my.sql().ends_with("LIMIT 10, 100"), "{}", my.sql());
}

#[test]
fn only_queries() {
    assert_code(
        RejectCode::NotAQuery,
        Dialect::Sqlite,
        &[
            "PRAGMA table_info(customers)",
            "ATTACH DATABASE '/tmp/x.db' AS x",
            "VACUUM",
            "BEGIN",
            "EXPLAIN SELECT 1",
        ],
    );
    assert_code(
        RejectCode::NotAQuery,
        Dialect::Postgres,
        &[
            "SET search_path = evil",
            "EXPLAIN ANALYZE DELETE FROM customers",
            "GRANT ALL ON customers TO public",
            "CALL p()",
            "LOCK TABLE customers",
        ],
    );
    assert_code(
        RejectCode::DataModifying,
        Dialect::Sqlite,
        &[
            "DELETE FROM customers",
            "dElEtE FrOm customers",
            "INSERT INTO customers VALUES (1, 'x')",
            "UPDATE customers SET name = ''",
            "DROP TABLE orders",
            "CREATE TABLE x (a int)",
        ],
    );
    assert_code(
        RejectCode::DataModifying,
        Dialect::Postgres,
        &[
            "WITH gone AS (DELETE FROM customers RETURNING *) SELECT * FROM gone",
            "WITH a AS (SELECT 1), b AS (UPDATE orders SET total = 0 RETURNING id) SELECT * FROM a",
            "TRUNCATE customers",
        ],
    );
    assert_eq!(
        err("DELETE FROM customers", Dialect::Sqlite).message,
        "Only read-only queries are allowed; this statement is a DELETE."
    );
    assert_eq!(
        err("INSERT INTO customers VALUES (1)", Dialect::Sqlite).message,
        "Only read-only queries are allowed; this statement is an INSERT."
    );
    assert_eq!(
        err("CREATE VIEW v AS SELECT 1", Dialect::Sqlite).message,
        "Only read-only queries are allowed; this statement is a CREATE VIEW."
    );
}

#[test]
fn select_into_and_locking() {
    assert_code(
        RejectCode::SelectInto,
        Dialect::Postgres,
        &[
            "SELECT * INTO stolen FROM customers",
            "SELECT * FROM customers WHERE id IN (SELECT id INTO t FROM orders)",
        ],
    );
    assert_code(
        RejectCode::SelectInto,
        Dialect::Mysql,
        &["SELECT id INTO @v FROM customers"],
    );
    assert_code(
        RejectCode::LockingClause,
        Dialect::Postgres,
        &[
            "SELECT * FROM orders FOR UPDATE",
            "SELECT * FROM orders FOR NO KEY UPDATE SKIP LOCKED",
            "SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders FOR SHARE)",
        ],
    );
    assert_code(
        RejectCode::LockingClause,
        Dialect::Mysql,
        &[
            "SELECT * FROM orders LOCK IN SHARE MODE",
            "SELECT * FROM orders FOR UPDATE",
        ],
    );
}

#[test]
fn forbidden_functions_are_found_anywhere() {
    assert_code(
        RejectCode::ForbiddenFunction,
        Dialect::Sqlite,
        &[
            "SELECT load_extension('x')",
            "SELECT name FROM customers WHERE id = (SELECT max(length(readfile('/etc/passwd'))))",
            "SELECT * FROM customers ORDER BY (CASE WHEN 1 THEN load_extension('x') END)",
            "SELECT count(*) FROM customers GROUP BY id HAVING sum(length(readfile('x'))) > 0",
            "WITH x AS (SELECT writefile('/tmp/a', 'b') AS w) SELECT * FROM x",
            "SELECT 1 UNION SELECT abs(fts3_tokenizer('simple'))",
            "SELECT sqlite_compileoption_get(0)",
            "SELECT coalesce(NULL, edit('x'))",
            "SELECT * FROM pragma_table_info('customers')",
            "SELECT * FROM customers, fsdir('/')",
            "SELECT * FROM evil.json_each('[]')",
        ],
    );
    assert_code(
        RejectCode::ForbiddenFunction,
        Dialect::Postgres,
        &[
            "SELECT pg_catalog.PG_SLEEP(1)",
            "SELECT \"pg_sleep\"(1)",
            "SELECT * FROM orders WHERE EXISTS (SELECT 1 WHERE pg_sleep(1) IS NULL)",
            "SELECT * FROM orders WHERE total > ALL (SELECT length(pg_read_file('x')))",
            "SELECT lo_export(1, '/tmp/x')",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT nextval('s')",
            "SELECT txid_current()",
            "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
            "SELECT ts_stat('SELECT * FROM pg_shadow')",
            "SELECT sum(total) OVER (PARTITION BY pg_backend_pid()) FROM orders",
        ],
    );
    assert_code(
        RejectCode::ForbiddenFunction,
        Dialect::Mysql,
        &[
            "SELECT SLEEP(1)",
            "SELECT * FROM customers WHERE id = IF(1, BENCHMARK(10, MD5('a')), 0)",
            "SELECT LOAD_FILE('/etc/passwd')",
            "SELECT master_pos_wait('f', 1)",
        ],
    );
    // Allowed table functions still work, and do not count as tables.
    let v = ok("SELECT value FROM json_each('[1]') JOIN customers ON 1 = 1");
    assert_eq!(v.tables(), ["customers"]);
}

#[test]
fn variables_and_files_are_forbidden_constructs() {
    assert_code(
        RejectCode::ForbiddenConstruct,
        Dialect::Mysql,
        &[
            "SELECT @x := 1",
            "SELECT @@version",
            "SELECT @@session.autocommit",
            "SELECT @@GLOBAL.secure_file_priv",
            "SELECT * FROM customers WHERE id = @id",
            "SELECT * FROM customers INTO OUTFILE '/tmp/x'",
            "SELECT * INTO DUMPFILE '/tmp/x' FROM customers",
        ],
    );
}

#[test]
fn every_table_must_be_in_the_schema() {
    assert_code(
        RejectCode::UnknownTable,
        Dialect::Sqlite,
        &[
            "SELECT * FROM secrets",
            "SELECT * FROM sqlite_master",
            "SELECT * FROM main.sqlite_master",
            "SELECT * FROM temp.customers",
            "SELECT * FROM other.main.customers",
            "SELECT * FROM customers WHERE EXISTS (SELECT 1 FROM secrets)",
            "SELECT * FROM customers WHERE id IN (SELECT id FROM secrets)",
            "SELECT * FROM (SELECT * FROM (SELECT * FROM secrets) a) b",
            "SELECT id FROM customers UNION ALL SELECT id FROM secrets",
            "SELECT (SELECT count(*) FROM secrets)",
            "SELECT * FROM customers ORDER BY (SELECT 1 FROM secrets)",
            "SELECT * FROM customers c LEFT JOIN (orders o JOIN secrets s ON 1 = 1) ON 1 = 1",
            "WITH x AS (SELECT * FROM secrets) SELECT * FROM x",
        ],
    );
    assert_code(
        RejectCode::UnknownTable,
        Dialect::Postgres,
        &[
            "SELECT * FROM pg_catalog.pg_user",
            "SELECT * FROM information_schema.tables",
            "SELECT * FROM pg_shadow",
        ],
    );
    assert_code(
        RejectCode::UnknownTable,
        Dialect::Mysql,
        &["SELECT * FROM mysql.user", "SELECT * FROM shop.customers"],
    );
    assert_eq!(
        err("SELECT * FROM secrets", Dialect::Sqlite).message,
        "Table `secrets` does not exist in this connection's schema."
    );
    assert_eq!(ok("SELECT * FROM main.customers").tables(), ["customers"]);
    assert_eq!(
        ok_in("SELECT * FROM public.orders", Dialect::Postgres).tables(),
        ["orders"]
    );
    assert!(run("SELECT 1 FROM DUAL", Dialect::Mysql).is_ok());
    assert!(run("SELECT 1 FROM DUAL", Dialect::Sqlite).is_err());
}

#[test]
fn cte_names_are_scoped_like_the_database_scopes_them() {
    for (sql, d) in [
        // Defined inside a derived table, used outside it.
        (
            "SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) t, x",
            Dialect::Sqlite,
        ),
        // Non-recursive: the body's own name is the real (system) table.
        (
            "WITH pg_user AS (SELECT * FROM pg_user) SELECT * FROM pg_user",
            Dialect::Postgres,
        ),
        // A later sibling is not visible in an earlier body.
        (
            "WITH a AS (SELECT * FROM pg_shadow), pg_shadow AS (SELECT 1) SELECT * FROM a",
            Dialect::Postgres,
        ),
        (
            "WITH a AS (SELECT * FROM (SELECT * FROM b) t), b AS (SELECT 1) SELECT * FROM a",
            Dialect::Postgres,
        ),
    ] {
        assert_eq!(err(sql, d).code, RejectCode::UnknownTable, "{sql}");
    }
    // Earlier siblings, nested queries and RECURSIVE self-references resolve.
    ok(
        "WITH a AS (SELECT id FROM customers), b AS (SELECT * FROM a WHERE id IN (SELECT id FROM a)) SELECT * FROM b, a",
    );
    ok(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT * FROM n",
    );
    ok("SELECT * FROM (WITH x AS (SELECT 1 AS v) SELECT * FROM x) t");
    // A CTE may not shadow a table.
    assert_eq!(
        err(
            "WITH orders AS (SELECT 1) SELECT * FROM orders",
            Dialect::Sqlite
        )
        .code,
        RejectCode::ForbiddenConstruct
    );
}

#[test]
fn allowlist_covers_tables_and_views_everywhere() {
    let p = SqlPolicy {
        max_rows: 10,
        allowed_tables: Some(["ORDERS".to_string()].into()),
    };
    let check = |sql: &str| validate(sql, Dialect::Sqlite, &schema(), &p);
    assert_eq!(check("SELECT * FROM orders").unwrap().tables(), ["orders"]);
    for sql in [
        "SELECT * FROM customers",
        "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers)",
        "SELECT id FROM orders UNION SELECT id FROM main.customers",
    ] {
        assert_eq!(
            check(sql).unwrap_err().code,
            RejectCode::UnknownTable,
            "{sql}"
        );
    }
    // A hidden view or table reads exactly like one that does not exist.
    let view = check("SELECT * FROM big_spenders").unwrap_err();
    let missing = check("SELECT * FROM no_such_thing").unwrap_err();
    assert_eq!(view.code, missing.code);
    assert_eq!(
        view.message,
        "Table `big_spenders` does not exist in this connection's schema."
    );
    assert_eq!(
        view.message.replace("big_spenders", "no_such_thing"),
        missing.message
    );
}

#[test]
fn fetch_first_is_refused_where_the_database_does_not_run_it() {
    let p = SqlPolicy::default();
    let sql = "SELECT * FROM orders ORDER BY id FETCH FIRST 5 ROWS ONLY";
    for d in [Dialect::Sqlite, Dialect::Mysql] {
        let err = validate(sql, d, &schema(), &p).unwrap_err();
        assert_eq!(err.code, RejectCode::ParseError, "{d:?}");
        assert!(err.message.contains("FETCH FIRST"), "{}", err.message);
    }
    assert!(validate(sql, Dialect::Postgres, &schema(), &p).is_ok());
}

#[test]
fn input_shape_codes() {
    assert_code(
        RejectCode::Empty,
        Dialect::Sqlite,
        &["", "  ", "-- hi", ";"],
    );
    assert_code(
        RejectCode::TooLong,
        Dialect::Sqlite,
        &[&"x".repeat(parse::MAX_SQL_BYTES + 1)],
    );
    assert_code(
        RejectCode::MultipleStatements,
        Dialect::Sqlite,
        &[
            "SELECT 1; SELECT 2",
            "SELECT 1; -- x\nDROP TABLE customers",
            "SELECT 1 /* x */; /* y */ DELETE FROM customers",
        ],
    );
    assert_eq!(
        err("SELECT 1; SELECT 2", Dialect::Sqlite).message,
        "Exactly one statement is allowed; found 2."
    );
    assert_code(
        RejectCode::ParseError,
        Dialect::Sqlite,
        &["SEL/**/ECT 1", "SELECT * FROM customers WHERE name = 'x"],
    );
}

/// Run `f` on a thread with a 2 MiB stack, like a Tokio worker's.
fn on_small_stack(sql: String) -> Option<RejectCode> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || run(&sql, Dialect::Postgres).err().map(|e| e.code))
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deep_or_long_input_is_a_parse_error_not_a_crash() {
    let n = parse::MAX_STRUCTURAL_TOKENS;
    let nested = [
        format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000)),
        format!(
            "SELECT * FROM customers WHERE id IN {}",
            "(SELECT id FROM customers WHERE id IN ".repeat(200)
        ),
        format!(
            "SELECT 1 FROM {}customers{}",
            "(".repeat(3000),
            ")".repeat(3000)
        ),
        format!("SELECT {}1", "NOT ".repeat(3000)),
        format!("SELECT {}1", "- ".repeat(3000)),
        format!("SELECT {}1{}", "abs(".repeat(3000), ")".repeat(3000)),
        format!(
            "SELECT {}1{}",
            "CASE WHEN 1 THEN ".repeat(2000),
            " END".repeat(2000)
        ),
        format!("SELECT 1{}", "+1".repeat(40_000)),
        format!("SELECT 1{}", " UNION SELECT 1".repeat(3000)),
    ];
    for sql in nested {
        assert_eq!(
            on_small_stack(sql.clone()),
            Some(RejectCode::ParseError),
            "{}…",
            &sql[..60]
        );
    }
    // Chains just under the bound are accepted, on a small stack too.
    for sql in [
        format!("SELECT 1{}", "+1".repeat(n - 10)),
        format!("SELECT 1 WHERE 1 = 1{}", " OR 1 = 1".repeat(n / 2 - 10)),
        format!("SELECT 'a'{}", " || 'a'".repeat(n - 10)),
        format!("SELECT 1{}", "::int".repeat(n / 2 - 10)),
        format!("SELECT 1{}", " UNION SELECT 1".repeat(n / 2 - 10)),
    ] {
        assert_eq!(on_small_stack(sql.clone()), None, "{}…", &sql[..40]);
    }
}

#[test]
fn realistic_nesting_fits_the_recursion_limit() {
    ok(
        "SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > (SELECT avg(total) FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE name IN (SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE id > (SELECT min(id) FROM orders))))))",
    );
    ok(
        "SELECT CASE WHEN (a + (b * (c - (d / (e + 1))))) > 0 THEN coalesce(nullif(abs(round(a, 2)), 0), 1) END FROM (SELECT 1 a, 2 b, 3 c, 4 d, 5 e) t",
    );
}
