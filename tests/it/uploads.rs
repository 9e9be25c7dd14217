//! CSV uploads (issue 18): a file becomes a table of the `uploads`
//! connection (real SQLite under the data dir), types inferred, introspected
//! and trained; bad files get clear errors and leave nothing behind; who may
//! upload and who sees the tables follow roles and grants.

use insight::domain::Role;
use insight::store::grants::Grant;
use serde_json::{Value, json};

use crate::util::{Reply, TestApp, TestUser, error_code};

const SALES: &str = "Region,Units,Price,Sold on\nNorth,3,2.5,2024-01-05\nSouth,5,4,2024-02-29\nNorth,,1.25,2024-03-01\n";

async fn upload(user: &TestUser, base: &str, query: &str, body: impl Into<reqwest::Body>) -> Reply {
    let resp = user
        .client
        .post(format!("{base}/api/v1/uploads?{query}"))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("request");
    TestApp::reply(resp).await
}

fn uploads(tables: Option<&[&str]>) -> Grant {
    Grant {
        connection: "uploads".into(),
        allowed_tables: tables.map(|t| t.iter().map(|s| s.to_string()).collect()),
    }
}

fn reason(body: &Value) -> &str {
    body["error"]["details"]["reason"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_uploaded_csv_is_a_typed_table_that_can_be_queried_and_is_trained() {
    let app = TestApp::spawn().await;
    let analyst = app.user_with_grants(Role::Analyst, &[uploads(None)]).await;
    let made = upload(&analyst, &app.base, "table=Sales%202024.csv", SALES)
        .await
        .expect(201);
    assert_eq!(made["connection"], "uploads");
    assert_eq!(made["table"], "sales_2024_csv");
    assert_eq!(made["row_count"], 3);
    assert_eq!(made["replaced"], false);
    assert_eq!(
        made["columns"],
        json!([
            { "name": "region", "type": "text" },
            { "name": "units", "type": "integer" },
            { "name": "price", "type": "real" },
            { "name": "sold_on", "type": "date" },
        ])
    );
    assert!(app.dir.path().join("uploads.db").exists());

    let rows = analyst
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT region, SUM(units) AS units, SUM(price) AS revenue FROM sales_2024_csv GROUP BY region ORDER BY region" }),
        )
        .await
        .expect(200);
    assert_eq!(rows["rows"], json!([["North", 3, 3.75], ["South", 5, 4.0]]));
    // Introspected: the schema and the trained DDL name the new table.
    let conn = app
        .state
        .engine
        .connection(Some(
            &insight::domain::ConnectionId::parse("uploads").unwrap(),
        ))
        .unwrap();
    assert!(
        conn.schema()
            .tables
            .iter()
            .any(|t| t.name == "sales_2024_csv")
    );
    let training = analyst
        .get("/api/v1/training?connection=uploads&kind=ddl")
        .await
        .expect(200);
    assert!(
        training.to_string().contains("sales_2024_csv"),
        "{training}"
    );
    let listed = analyst.get("/api/v1/uploads").await.expect(200);
    assert_eq!(listed[0]["table"], "sales_2024_csv");

    // A second upload of that name needs `replace`.
    let r = upload(&analyst, &app.base, "table=sales_2024_csv", "a\n1\n").await;
    r.expect_error(409, "conflict");
    let replaced = upload(
        &analyst,
        &app.base,
        "table=sales_2024_csv&replace=true",
        "a\n1\n",
    )
    .await
    .expect(201);
    assert_eq!(replaced["replaced"], true);
    assert_eq!(replaced["row_count"], 1);

    analyst
        .delete("/api/v1/uploads/sales_2024_csv")
        .await
        .expect(204);
    assert_eq!(
        analyst
            .delete("/api/v1/uploads/sales_2024_csv")
            .await
            .status
            .as_u16(),
        404
    );
    assert!(
        !conn
            .schema()
            .tables
            .iter()
            .any(|t| t.name == "sales_2024_csv")
    );
}

#[tokio::test]
async fn bad_files_get_clear_errors_and_nothing_is_half_imported() {
    let app = TestApp::builder()
        .config(|c| c.uploads.max_bytes = 2048)
        .spawn()
        .await;
    let admin = &app.admin;
    upload(admin, &app.base, "table=keep", "id,name\n1,a\n2,b\n")
        .await
        .expect(201);
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"id,name\n", "empty"),
        (b"id,name\n1,a\n2\n", "ragged_rows"),
        (b"id,name\n1,\xff\xfe\n", "encoding"),
        (b"id,,name\n1,2,3\n", "bad_header"),
        (b"Name,name\n1,2\n", "bad_header"),
    ];
    for (body, want) in cases {
        for replace in ["false", "true"] {
            let r = upload(
                admin,
                &app.base,
                &format!("table=keep&replace={replace}"),
                body.to_vec(),
            )
            .await;
            r.expect_error_in(want, 400, "bad_request");
            assert_eq!(reason(&r.body), *want, "{}", r.body);
        }
    }
    let r = upload(
        admin,
        &app.base,
        "table=keep&replace=true",
        "id,name\n1,a\n2\n",
    )
    .await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 3") && message.contains("header has 2"),
        "{message}"
    );
    // Too big: 413 before anything is read.
    let big = format!("id\n{}", "1\n".repeat(2000));
    let r = upload(admin, &app.base, "table=keep&replace=true", big).await;
    r.expect_error(413, "payload_too_large");
    // A name with nothing to keep.
    let r = upload(admin, &app.base, "table=%E2%82%AC%E2%82%AC", "a\n1\n").await;
    assert_eq!(reason(&r.body), "bad_name", "{}", r.body);
    let r = upload(admin, &app.base, "replace=true", "a\n1\n").await;
    assert_eq!(
        r.status.as_u16(),
        400,
        "a table name is required: {}",
        r.body
    );

    // The table that was there is whole and unchanged after every failure.
    let rows = admin
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT id, name FROM keep ORDER BY id" }),
        )
        .await
        .expect(200);
    assert_eq!(rows["rows"], json!([[1, "a"], [2, "b"]]));
}

#[tokio::test]
async fn who_may_upload_and_who_sees_uploaded_tables_follow_roles_and_grants() {
    let app = TestApp::spawn().await;
    upload(&app.admin, &app.base, "table=secret", "code\nx1\n")
        .await
        .expect(201);
    upload(&app.admin, &app.base, "table=public", "n\n7\n")
        .await
        .expect(201);

    // Viewers never upload, whatever their grant.
    let viewer = app.user_with_grants(Role::Viewer, &[uploads(None)]).await;
    let r = upload(&viewer, &app.base, "table=mine", "a\n1\n").await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    // An analyst limited to some of its tables may not change `uploads`
    // (they could replace what they cannot see); for one without any grant
    // on it, it does not exist.
    let stranger = app.login_as(Role::Analyst).await;
    let limited = app
        .user_with_grants(Role::Analyst, &[uploads(Some(&["public"]))])
        .await;
    for (who, status, code) in [(&stranger, 404, "not_found"), (&limited, 403, "forbidden")] {
        for query in ["table=secret&replace=true", "table=mine"] {
            let r = upload(who, &app.base, query, "code\nstolen\n").await;
            assert_eq!(r.status.as_u16(), status, "{query}: {}", r.body);
            assert_eq!(error_code(&r.body), code);
        }
        let r = who.delete("/api/v1/uploads/secret").await;
        assert_eq!(r.status.as_u16(), status, "{}", r.body);
    }
    // Reading goes through the gate like any connection.
    let r = stranger
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT code FROM secret" }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    let r = limited
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT code FROM secret" }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    assert!(!r.body.to_string().contains("x1"));
    let seen = limited.get("/api/v1/uploads").await.expect(200);
    assert_eq!(seen, json!([{ "table": "public", "columns": ["n"] }]));
    assert_eq!(stranger.get("/api/v1/uploads").await.expect(200), json!([]));
    let rows = viewer
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT code FROM secret" }),
        )
        .await
        .expect(200);
    assert_eq!(rows["rows"], json!([["x1"]]));
    // The table the limited analyst tried to replace is unchanged.
    let rows = app
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT code FROM secret" }),
        )
        .await
        .expect(200);
    assert_eq!(rows["rows"], json!([["x1"]]));
}

#[tokio::test]
async fn uploads_can_be_turned_off() {
    let app = TestApp::builder()
        .config(|c| c.uploads.enabled = false)
        .spawn()
        .await;
    let r = upload(&app.admin, &app.base, "table=t", "a\n1\n").await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    assert!(!app.dir.path().join("uploads.db").exists());
    let conns = app.get("/api/v1/connections").await.expect(200);
    assert!(!conns.to_string().contains("uploads"), "{conns}");
}

/// A workbook with sheets `Notes` (a note only) and `Sales` (a header, then
/// rows with a number stored as a float, a date and a blank).
fn sales_workbook() -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    wb.add_worksheet()
        .set_name("Notes")
        .unwrap()
        .write(0, 0, "see Sales")
        .unwrap();
    let ws = wb.add_worksheet().set_name("Sales").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["Region", "Units", "Price", "Sold on"].iter().enumerate() {
        ws.write(0, c as u16, *h).unwrap();
    }
    for (r, (region, units, price, (y, m, d))) in [
        ("North", Some(3.0), 2.5, (2024, 1, 5)),
        ("South", Some(5.0), 4.0, (2024, 2, 29)),
        ("North", None, 1.25, (2024, 3, 1)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = r as u32 + 1;
        ws.write(r, 0, region).unwrap();
        if let Some(u) = units {
            ws.write(r, 1, u).unwrap();
        }
        ws.write(r, 2, price).unwrap();
        let day = ExcelDateTime::from_ymd(y, m, d).unwrap();
        ws.write_datetime_with_format(r, 3, &day, &date).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[tokio::test]
async fn an_uploaded_workbook_sheet_is_a_typed_table_like_a_csv_file() {
    let app = TestApp::builder()
        .config(|c| c.uploads.max_bytes = 64 << 10)
        .spawn()
        .await;
    let analyst = app.user_with_grants(Role::Analyst, &[uploads(None)]).await;
    let book = sales_workbook();
    // The first sheet is read unless another is named: `Notes` has a
    // header and no rows.
    let r = upload(&analyst, &app.base, "table=sales", book.clone()).await;
    assert_eq!(reason(&r.body), "empty", "{}", r.body);
    let r = upload(&analyst, &app.base, "table=sales&sheet=Nope", book.clone()).await;
    assert_eq!(reason(&r.body), "no_sheet", "{}", r.body);
    assert!(r.body.to_string().contains("Notes, Sales"), "{}", r.body);
    let made = upload(&analyst, &app.base, "table=sales&sheet=Sales", book.clone())
        .await
        .expect(201);
    assert_eq!(made["row_count"], 3);
    assert_eq!(
        made["columns"],
        json!([
            { "name": "region", "type": "text" },
            { "name": "units", "type": "integer" },
            { "name": "price", "type": "real" },
            { "name": "sold_on", "type": "date" },
        ])
    );
    let rows = analyst
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT region, SUM(units) AS units, SUM(price) AS revenue, MAX(sold_on) AS last FROM sales GROUP BY region ORDER BY region" }),
        )
        .await
        .expect(200);
    assert_eq!(
        rows["rows"],
        json!([
            ["North", 3, 3.75, "2024-03-01"],
            ["South", 5, 4.0, "2024-02-29"]
        ])
    );

    // Bad workbooks are refused and leave the table as it was.
    let mut truncated = book.clone();
    truncated.truncate(book.len() / 2);
    let r = upload(&analyst, &app.base, "table=sales&replace=true", truncated).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_eq!(reason(&r.body), "not_a_workbook", "{}", r.body);
    let r = upload(
        &analyst,
        &app.base,
        "table=sales&replace=true&sheet=Sales",
        "a\n1\n",
    )
    .await;
    assert_eq!(
        reason(&r.body),
        "no_sheet",
        "a CSV file has no sheets: {}",
        r.body
    );
    let rows = analyst
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT COUNT(*) FROM sales" }),
        )
        .await
        .expect(200);
    assert_eq!(rows["rows"], json!([[3]]));

    // Changing `uploads` needs the same role and grant for a workbook.
    let limited = app
        .user_with_grants(Role::Analyst, &[uploads(Some(&["sales"]))])
        .await;
    let r = upload(
        &limited,
        &app.base,
        "table=sales&replace=true&sheet=Sales",
        book,
    )
    .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
}

/// `insight upload FILE`: the same import from the command line, named
/// after the file; a bad file is refused with the API's words and changes
/// nothing.
#[tokio::test]
async fn the_command_line_uploads_csv_files_and_workbooks() {
    use crate::util::insight_cmd;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| insight_cmd(dir.path()).args(args).output().unwrap();
    let csv = dir.path().join("Orders 2024.csv");
    std::fs::write(&csv, SALES).unwrap();
    let out = run(&["upload", csv.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("created table `orders_2024` of `uploads`: 3 row(s)")
            && said.contains("units (integer)"),
        "{said}"
    );
    let book = dir.path().join("book.xlsx");
    std::fs::write(&book, sales_workbook()).unwrap();
    let out = run(&[
        "upload",
        book.to_str().unwrap(),
        "--table",
        "orders_2024",
        "--sheet",
        "Sales",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replace"), "{err}");
    let out = run(&[
        "upload",
        book.to_str().unwrap(),
        "--table",
        "orders_2024",
        "--replace",
        "--sheet",
        "Sales",
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("replaced table `orders_2024`"), "{said}");
    let db = dir.path().join("data").join("uploads.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    let last: String = sqlx::query_scalar("SELECT MAX(sold_on) FROM orders_2024")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(last, "2024-03-01");
}

/// `insight backup` takes the uploaded tables with the app store (same
/// time in the name, pruned together), `insight restore` puts both into a
/// fresh data dir where the table answers queries; with uploads off nothing
/// extra is written, and an uploads database with tables is not overwritten.
#[tokio::test]
async fn uploaded_tables_are_backed_up_and_restored_with_the_store() {
    use crate::util::insight_cmd;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], data: &std::path::Path, env: &[(&str, &str)]| {
        insight_cmd(dir.path())
            .env("INSIGHT_DATA_DIR", data)
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap()
    };
    let ok = |out: std::process::Output| {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (a, backups) = (dir.path().join("a"), dir.path().join("a").join("backups"));
    let csv = dir.path().join("orders.csv");
    std::fs::write(&csv, SALES).unwrap();
    ok(run(&["upload", csv.to_str().unwrap()], &a, &[]));
    let files = || std::fs::read_dir(&backups).unwrap().count();

    // Uploads off: the store backup alone.
    let off = [("INSIGHT_UPLOADS__ENABLED", "false")];
    let said = ok(run(&["backup"], &a, &off));
    assert!(!said.contains("uploaded tables"), "{said}");
    assert_eq!(files(), 1);
    assert_eq!(insight::backup::list(&backups).unwrap()[0].uploads, None);

    // Uploads on: a pair with the same time; `keep = 1` prunes the first.
    let said = ok(run(&["backup"], &a, &[("INSIGHT_BACKUP__KEEP", "1")]));
    assert!(said.contains("uploaded tables written"), "{said}");
    let listed = insight::backup::list(&backups).unwrap();
    assert_eq!((listed.len(), files()), (1, 2), "{listed:?}");
    let stamp = listed[0].name.trim_start_matches("insight-sqlite-");
    assert_eq!(
        listed[0].uploads.as_deref(),
        Some(format!("insight-uploads-{stamp}").as_str())
    );

    // An uploads database that holds a table is not overwritten.
    let c = dir.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    let url = format!("sqlite://{}?mode=rwc", c.join("uploads.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE mine (x INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = run(&["restore", backups.to_str().unwrap()], &c, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uploads database") && err.contains("not empty"),
        "{err}"
    );
    let store =
        insight::store::Store::connect(&format!("sqlite://{}", c.join("insight.db").display()))
            .await
            .unwrap();
    assert!(
        store.has_no_tables().await.unwrap(),
        "nothing restored: {err}"
    );

    // Into a fresh data dir: the uploaded table answers queries.
    let b = dir.path().join("b");
    let said = ok(run(&["restore", backups.to_str().unwrap()], &b, &[]));
    assert!(said.contains("uploads.db"), "{said}");
    let app = TestApp::builder()
        .config(move |c| c.data_dir = b)
        .spawn()
        .await;
    let rows = app
        .post(
            "/api/v1/sql/execute",
            json!({ "connection": "uploads", "sql": "SELECT COUNT(*), SUM(units) FROM orders" }),
        )
        .await
        .expect(200);
    assert_eq!(rows["rows"], json!([[3, 8]]));
}
