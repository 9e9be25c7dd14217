//! PostgreSQL target databases.
//!
//! Defense in depth on top of the validator: every session starts with
//! `default_transaction_read_only = on`, every execution runs inside
//! `BEGIN READ ONLY … ROLLBACK` with `SET LOCAL statement_timeout`, and a
//! client-side timeout backstops the server's. Before the statement runs, its
//! `EXPLAIN` estimate is checked against the work budget
//! ([`super::explain`]). Rows are fetched as a stream and never materialised
//! beyond the row cap or the byte caps ([`super::budget::ResultMeter`]).
//!
//! Values arrive in PostgreSQL's binary format and are converted to JSON here,
//! by type OID (or kind, for enums, domains and arrays), so no value loses
//! precision: `numeric` becomes a decimal string, timestamps ISO-8601. Columns of
//! a type this module cannot decode are re-read once through a `::text` cast; if
//! even that fails they show a placeholder. Decoding never panics.
//!
//! Introspection reads `pg_catalog` for the schemas on the connection's
//! `search_path`. It must not read user data beyond the bounded counts and
//! distinct-value scans used for `row_count` and `sample_values`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta};
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow, PgTypeInfo, PgTypeKind,
    PgValueFormat,
};
use sqlx::{AssertSqlSafe, Column, Postgres, Row, TypeInfo, ValueRef};

use super::budget::ResultMeter;
use super::{Connector, ConnectorError, ExecLimits, ResultColumn, ResultSet};
use crate::domain::{ColumnInfo, Dialect, ForeignKey, SchemaInfo, TableInfo};
use crate::sql::ValidatedSql;

/// Text columns with at most this many distinct values get `sample_values`.
const SAMPLE_VALUES_MAX: usize = 30;
/// Distinct-value scans look at this many rows at most.
const SAMPLE_SCAN_ROWS: i64 = 100_000;
/// Longer values are not useful for value linking and are left out.
const SAMPLE_VALUE_MAX_CHARS: i64 = 80;
/// Tables up to this size on disk get an exact `count(*)`; larger ones the
/// planner's estimate (`pg_class.reltuples`).
const EXACT_COUNT_MAX_BYTES: i64 = 8 * 1024 * 1024;
/// Session-wide statement timeout, so introspection cannot hang forever;
/// executions override it with their own limit.
const SESSION_STATEMENT_TIMEOUT: &str = "60s";
/// Extra time the client waits beyond the server-side timeout before giving
/// up on the round trip itself.
const CLIENT_BACKSTOP: Duration = Duration::from_secs(1);

pub struct PostgresConnector {
    pool: PgPool,
}

impl PostgresConnector {
    /// Open a pool of at most `pool_size` read-only sessions to `url`
    /// (`postgres://user:pass@host:port/db?options=-csearch_path%3Dsales`).
    /// Connects eagerly so an unreachable server is reported at startup.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, ConnectorError> {
        let opts: PgConnectOptions = url
            .parse()
            // sqlx's parse errors describe the problem, not the URL, so no
            // password can leak through them.
            .map_err(|e| ConnectorError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let opts = opts.application_name("insight").options([
            ("default_transaction_read_only", "on"),
            ("statement_timeout", SESSION_STATEMENT_TIMEOUT),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        Ok(Self { pool })
    }

    /// The underlying pool, for tests that check the session itself refuses
    /// writes. Not part of the API.
    #[doc(hidden)]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn relations(&self) -> Result<Vec<Relation>, ConnectorError> {
        // Schemas in search-path order; the first relation of a name wins, as
        // it does when an unqualified name is resolved.
        let rows: Vec<RelationRow> = sqlx::query_as(
            "WITH sp AS (SELECT s.nspname, s.ord \
                         FROM unnest(current_schemas(false)) WITH ORDINALITY AS s(nspname, ord)) \
             SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, \
                    obj_description(c.oid, 'pg_class'), c.reltuples::float8, \
                    pg_relation_size(c.oid) \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN sp ON sp.nspname = n.nspname \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition \
             ORDER BY sp.ord, c.relname",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .into_iter()
            .filter(|r| seen.insert(r.2.clone()))
            .map(
                |(oid, schema, name, kind, comment, reltuples, size)| Relation {
                    oid,
                    schema,
                    name,
                    kind,
                    comment,
                    reltuples,
                    size,
                },
            )
            .collect())
    }

    async fn row_count(&self, rel: &Relation) -> Option<u64> {
        match rel.kind.as_str() {
            "r" | "m" if rel.size <= EXACT_COUNT_MAX_BYTES => {
                let sql = format!(
                    "SELECT count(*) FROM {}.{}",
                    quote(&rel.schema),
                    quote(&rel.name)
                );
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                    .fetch_one(&self.pool)
                    .await
                    .ok()
                    .map(|n| n.max(0) as u64)
            }
            // -1 means "never analyzed": better no number than a wrong one.
            "r" | "m" if rel.reltuples >= 0.0 => Some(rel.reltuples.round() as u64),
            _ => None,
        }
    }

    async fn sample_values(&self, rel: &Relation, column: &str) -> Vec<String> {
        let sql = format!(
            "SELECT DISTINCT v FROM (SELECT {c}::text AS v FROM {s}.{t} LIMIT {SAMPLE_SCAN_ROWS}) q \
             WHERE v IS NOT NULL AND length(v) <= {SAMPLE_VALUE_MAX_CHARS} ORDER BY 1 LIMIT {}",
            SAMPLE_VALUES_MAX + 1,
            c = quote(column),
            s = quote(&rel.schema),
            t = quote(&rel.name),
        );
        let values: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        if values.len() <= SAMPLE_VALUES_MAX {
            values
        } else {
            Vec::new()
        }
    }
}

/// oid, schema, name, relkind, comment, reltuples, size in bytes.
type RelationRow = (i64, String, String, String, Option<String>, f64, i64);

struct Relation {
    oid: i64,
    schema: String,
    name: String,
    /// `pg_class.relkind`: r table, p partitioned, v view, m materialized view, f foreign.
    kind: String,
    comment: Option<String>,
    reltuples: f64,
    size: i64,
}

impl Relation {
    fn is_view(&self) -> bool {
        matches!(self.kind.as_str(), "v" | "m")
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Map a sqlx error; `timeout` turns `query_canceled` into [`ConnectorError::Timeout`].
fn exec_err(e: sqlx::Error, timeout: Option<Duration>) -> ConnectorError {
    match e {
        sqlx::Error::Database(db) => match (db.code().as_deref(), timeout) {
            (Some("57014"), Some(t)) => ConnectorError::Timeout(t),
            _ => ConnectorError::Execution(db.message().to_string()),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            ConnectorError::Unavailable(e.to_string())
        }
        other => ConnectorError::Execution(other.to_string()),
    }
}

// --- values -----------------------------------------------------------------

mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const MACADDR8: u32 = 774;
    pub const MACADDR: u32 = 829;
    pub const INET: u32 = 869;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const VOID: u32 = 2278;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;

    /// Built-in scalar types [`super::decode_scalar`] understands.
    pub const DECODED: &[u32] = &[
        BOOL,
        BYTEA,
        CHAR,
        NAME,
        INT8,
        INT2,
        INT4,
        TEXT,
        OID,
        JSON,
        XML,
        CIDR,
        FLOAT4,
        FLOAT8,
        UNKNOWN,
        MACADDR8,
        MACADDR,
        INET,
        BPCHAR,
        VARCHAR,
        DATE,
        TIME,
        TIMESTAMP,
        TIMESTAMPTZ,
        INTERVAL,
        TIMETZ,
        BIT,
        VARBIT,
        NUMERIC,
        VOID,
        UUID,
        JSONB,
    ];
}

const BPCHAR_ARRAY: u32 = 1014;

/// Whether [`decode`] understands values of `ty` (otherwise they are re-read as text).
fn decodable(ty: &PgTypeInfo) -> bool {
    match kind(ty) {
        Some(PgTypeKind::Enum(_)) => true,
        Some(PgTypeKind::Domain(base)) => decodable(base),
        Some(PgTypeKind::Array(elem)) => decodable(elem),
        Some(PgTypeKind::Simple) => ty.oid().is_some_and(|o| oid::DECODED.contains(&o.0)),
        _ => false,
    }
}

/// `PgTypeInfo::kind` panics on a type sqlx could not resolve (it then knows
/// only the OID and names it `?`, or only a name); such types are opaque here.
fn kind(ty: &PgTypeInfo) -> Option<&PgTypeKind> {
    if ty.oid().is_none() || ty.name() == "?" {
        None
    } else {
        Some(ty.kind())
    }
}

/// The type name shown to clients: PostgreSQL's own spelling for built-ins
/// (`int4`, `timestamptz`, `text[]`), the declared name for user types.
fn type_name(ty: &PgTypeInfo) -> String {
    let name = ty.name();
    // User-defined types have OIDs from 16384 up; their names keep their case.
    // sqlx spells `bpchar` as `CHAR` and `"char"` as `"CHAR"`; keep them apart.
    match ty.oid().map(|o| o.0) {
        Some(oid::BPCHAR) => return "bpchar".into(),
        Some(BPCHAR_ARRAY) => return "bpchar[]".into(),
        _ => {}
    }
    if ty.oid().is_some_and(|o| o.0 < 16384) {
        name.trim_matches('"')
            .replace("\"[]", "[]")
            .to_ascii_lowercase()
    } else {
        name.to_string()
    }
}

/// Decode one binary-format value of type `ty`; `None` if the type is not
/// understood or the bytes are malformed.
fn decode(ty: &PgTypeInfo, b: &[u8]) -> Option<Value> {
    match kind(ty)? {
        // Enum labels travel as their text.
        PgTypeKind::Enum(_) => std::str::from_utf8(b).ok().map(|s| Value::String(s.into())),
        PgTypeKind::Domain(base) => decode(base, b),
        PgTypeKind::Array(elem) => decode_array(elem, b),
        PgTypeKind::Simple => decode_scalar(ty.oid()?.0, b),
        _ => None,
    }
}

/// A big-endian cursor over a binary value.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn exact<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.try_into().ok()
}

fn text(b: &[u8]) -> Option<Value> {
    std::str::from_utf8(b).ok().map(|s| Value::String(s.into()))
}

/// Floats as JSON numbers; NaN and infinities (not representable) as strings.
fn float(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn decode_scalar(type_oid: u32, b: &[u8]) -> Option<Value> {
    use oid::*;
    Some(match type_oid {
        BOOL => Value::Bool(exact::<1>(b)?[0] != 0),
        INT2 => Value::from(i16::from_be_bytes(exact(b)?)),
        INT4 => Value::from(i32::from_be_bytes(exact(b)?)),
        INT8 => Value::from(i64::from_be_bytes(exact(b)?)),
        OID => Value::from(u32::from_be_bytes(exact(b)?)),
        // Through the shortest decimal text, so 0.1::float4 reads 0.1, not 0.10000000149.
        FLOAT4 => {
            let f = f32::from_be_bytes(exact(b)?);
            float(f.to_string().parse::<f64>().unwrap_or(f64::from(f)))
        }
        FLOAT8 => float(f64::from_be_bytes(exact(b)?)),
        NUMERIC => Value::String(numeric_to_string(b)?),
        TEXT | VARCHAR | BPCHAR | NAME | UNKNOWN | XML => text(b)?,
        CHAR => Value::String(String::from_utf8_lossy(b).into_owned()),
        JSON => json(b)?,
        JSONB => match b.split_first() {
            Some((1, rest)) => json(rest)?,
            _ => return None,
        },
        UUID => Value::String(uuid::Uuid::from_bytes(exact(b)?).hyphenated().to_string()),
        BYTEA => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        DATE => Value::String(date(i32::from_be_bytes(exact(b)?))?),
        TIME => Value::String(time_of_day(i64::from_be_bytes(exact(b)?))?),
        TIMETZ => {
            let mut r = Reader(b);
            let t = time_of_day(r.i64()?)?;
            // Stored as seconds *west* of UTC.
            let east = -r.i32()?;
            let (sign, a) = if east < 0 { ('-', -east) } else { ('+', east) };
            let mut s = format!("{t}{sign}{:02}:{:02}", a / 3600, (a / 60) % 60);
            if a % 60 != 0 {
                let _ = write!(s, ":{:02}", a % 60);
            }
            Value::String(s)
        }
        TIMESTAMP => Value::String(timestamp(i64::from_be_bytes(exact(b)?), false)?),
        TIMESTAMPTZ => Value::String(timestamp(i64::from_be_bytes(exact(b)?), true)?),
        INTERVAL => {
            let mut r = Reader(b);
            let micros = r.i64()?;
            let days = r.i32()?;
            let months = r.i32()?;
            Value::String(interval_iso8601(months, days, micros))
        }
        INET | CIDR => Value::String(inet(b, type_oid == CIDR)?),
        MACADDR | MACADDR8 => {
            if b.len() != 6 && b.len() != 8 {
                return None;
            }
            let parts: Vec<String> = b.iter().map(|x| hex::encode([*x])).collect();
            Value::String(parts.join(":"))
        }
        BIT | VARBIT => {
            let mut r = Reader(b);
            let len = usize::try_from(r.i32()?).ok()?;
            let bytes = r.0;
            if bytes.len() * 8 < len {
                return None;
            }
            let s: String = (0..len)
                .map(|i| {
                    if bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect();
            Value::String(s)
        }
        VOID => Value::Null,
        _ => return None,
    })
}

fn json(b: &[u8]) -> Option<Value> {
    let s = std::str::from_utf8(b).ok()?;
    Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.into())))
}

/// `numeric` in binary: digit count, weight (of the first base-10000 digit),
/// sign, display scale, then base-10000 digits. Rendered exactly.
fn numeric_to_string(b: &[u8]) -> Option<String> {
    let mut r = Reader(b);
    let ndigits = usize::try_from(r.i16()?).ok()?;
    let weight = i64::from(r.i16()?);
    let sign = r.u16()?;
    let dscale = usize::from(r.u16()?);
    let digits: Vec<i16> = (0..ndigits).map(|_| r.i16()).collect::<Option<_>>()?;
    let digit = |i: i64| -> i16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    match sign {
        0x0000 => {}
        0x4000 => s.push('-'),
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => return None,
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                let _ = write!(s, "{}", digit(i));
            } else {
                let _ = write!(s, "{:04}", digit(i));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::with_capacity(dscale + 4);
        let mut i = weight + 1;
        while frac.len() < dscale {
            let _ = write!(frac, "{:04}", digit(i));
            i += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn date(days: i32) -> Option<String> {
    match days {
        i32::MAX => Some("infinity".into()),
        i32::MIN => Some("-infinity".into()),
        _ => pg_epoch()
            .date()
            .checked_add_signed(TimeDelta::days(i64::from(days)))
            .map(|d| d.format("%Y-%m-%d").to_string()),
    }
}

fn time_of_day(micros: i64) -> Option<String> {
    if micros == 86_400_000_000 {
        return Some("24:00:00".into());
    }
    let secs = u32::try_from(micros.div_euclid(1_000_000)).ok()?;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).ok()?;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
        .map(|t| t.format("%H:%M:%S%.f").to_string())
}

fn timestamp(micros: i64, utc: bool) -> Option<String> {
    match micros {
        i64::MAX => return Some("infinity".into()),
        i64::MIN => return Some("-infinity".into()),
        _ => {}
    }
    let dt = pg_epoch().checked_add_signed(TimeDelta::microseconds(micros))?;
    Some(if utc {
        dt.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    })
}

/// An interval as an ISO-8601 duration (`P1Y2M3DT4H5M6.5S`); PostgreSQL keeps
/// months, days and time apart, and so does this.
fn interval_iso8601(months: i32, days: i32, micros: i64) -> String {
    let mut s = String::from("P");
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        let _ = write!(s, "{years}Y");
    }
    if months != 0 {
        let _ = write!(s, "{months}M");
    }
    if days != 0 {
        let _ = write!(s, "{days}D");
    }
    if micros != 0 {
        s.push('T');
        let sign = if micros < 0 { "-" } else { "" };
        let a = micros.unsigned_abs();
        let (h, m, sec, frac) = (
            a / 3_600_000_000,
            (a / 60_000_000) % 60,
            (a / 1_000_000) % 60,
            a % 1_000_000,
        );
        if h != 0 {
            let _ = write!(s, "{sign}{h}H");
        }
        if m != 0 {
            let _ = write!(s, "{sign}{m}M");
        }
        if sec != 0 || frac != 0 {
            let _ = write!(s, "{sign}{sec}");
            if frac != 0 {
                let f = format!("{frac:06}");
                let _ = write!(s, ".{}", f.trim_end_matches('0'));
            }
            s.push('S');
        }
    }
    if s == "P" {
        s.push_str("T0S");
    }
    s
}

/// `inet`/`cidr`: family (2 = IPv4, 3 = IPv6), prefix bits, is-cidr flag,
/// address length, address bytes. `inet` hides a full-length prefix, as
/// PostgreSQL's own output does.
fn inet(b: &[u8], is_cidr: bool) -> Option<String> {
    let mut r = Reader(b);
    let head = r.take(4)?;
    let (family, bits, len) = (head[0], head[1], usize::from(head[3]));
    let addr = r.take(len)?;
    let (text, full) = match family {
        2 => (Ipv4Addr::from(exact::<4>(addr)?).to_string(), 32),
        3 => (Ipv6Addr::from(exact::<16>(addr)?).to_string(), 128),
        _ => return None,
    };
    Some(if is_cidr || bits != full {
        format!("{text}/{bits}")
    } else {
        text
    })
}

/// Arrays in binary: dimensions, flags, element OID, (length, lower bound)
/// per dimension, then elements each prefixed by its length (-1 for NULL).
/// Multi-dimensional arrays become nested JSON arrays.
fn decode_array(elem: &PgTypeInfo, b: &[u8]) -> Option<Value> {
    let mut r = Reader(b);
    let ndim = r.i32()?;
    let _has_nulls = r.i32()?;
    let _elem_oid = r.i32()?;
    if ndim == 0 {
        return Some(Value::Array(Vec::new()));
    }
    if !(1..=6).contains(&ndim) {
        return None;
    }
    let mut dims = Vec::with_capacity(ndim as usize);
    for _ in 0..ndim {
        dims.push(usize::try_from(r.i32()?).ok()?);
        let _lower_bound = r.i32()?;
    }
    let total = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d))?;
    // Every element takes at least 4 bytes, which bounds a hostile header.
    if total > r.0.len() / 4 + 1 {
        return None;
    }
    let mut elems = Vec::with_capacity(total);
    for _ in 0..total {
        let len = r.i32()?;
        if len < 0 {
            elems.push(Value::Null);
        } else {
            elems.push(decode(elem, r.take(len as usize)?)?);
        }
    }
    fn nest(dims: &[usize], it: &mut impl Iterator<Item = Value>) -> Value {
        match dims {
            [] => Value::Array(Vec::new()),
            [n] => Value::Array(it.take(*n).collect()),
            [n, rest @ ..] => Value::Array((0..*n).map(|_| nest(rest, it)).collect()),
        }
    }
    Some(nest(&dims, &mut elems.into_iter()))
}

fn cell(row: &PgRow, i: usize, ty: &PgTypeInfo) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let bytes = raw
        .as_bytes()
        .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
    if raw.format() == PgValueFormat::Text {
        return Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()));
    }
    Ok(decode(ty, bytes)
        .unwrap_or_else(|| Value::String(format!("<{} value not shown>", type_name(ty)))))
}

/// Rows of one run: column names and types come from the first row.
struct Fetched {
    columns: Vec<(String, PgTypeInfo)>,
    rows: Vec<Vec<Value>>,
    truncated: bool,
}

async fn fetch(
    conn: &mut PgConnection,
    sql: &str,
    cap: usize,
    limits: ExecLimits,
) -> Result<Fetched, ConnectorError> {
    let err = |e| exec_err(e, Some(limits.timeout));
    let mut meter = ResultMeter::new(&limits.budget);
    // A named (cached) statement: when the result has user-defined types
    // (enums, domains), sqlx looks them up with queries of its own, which
    // would replace an unnamed statement before it runs.
    let mut stream = sqlx::query(AssertSqlSafe(sql.to_string()))
        .persistent(true)
        .fetch(&mut *conn);
    let mut out = Fetched {
        columns: Vec::new(),
        rows: Vec::new(),
        truncated: false,
    };
    while let Some(row) = stream.try_next().await.map_err(err)? {
        if out.columns.is_empty() {
            out.columns = row
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().clone()))
                .collect();
        }
        if out.rows.len() == cap {
            out.truncated = true;
            break;
        }
        let values = out
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| {
                // The raw size first, so a huge value is refused before it
                // is converted (copied) at all.
                let raw = row.try_get_raw(i).map_err(err)?;
                meter.cell(raw.as_bytes().map_or(0, <[u8]>::len))?;
                cell(&row, i, ty).map_err(err)
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        out.rows.push(values);
    }
    Ok(out)
}

/// `sql` with the columns at `cast` read through `::text`. Columns are renamed
/// positionally (`q(c1, …)`), so duplicate or odd output names do not matter.
fn text_cast_wrapper(sql: &str, ncols: usize, cast: &[usize]) -> String {
    let select: Vec<String> = (0..ncols)
        .map(|i| {
            if cast.contains(&i) {
                format!("q.c{}::text", i + 1)
            } else {
                format!("q.c{}", i + 1)
            }
        })
        .collect();
    let names: Vec<String> = (1..=ncols).map(|i| format!("c{i}")).collect();
    format!(
        "SELECT {} FROM ({sql}) AS q({})",
        select.join(", "),
        names.join(", ")
    )
}

fn timeout_ms(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// Run `sql` in a read-only transaction with a server-side timeout. The
/// caller rolls back.
async fn run_in_transaction(
    conn: &mut PgConnection,
    sql: &str,
    limits: ExecLimits,
) -> Result<ResultSet, ConnectorError> {
    let started = Instant::now();
    let err = |e| exec_err(e, Some(limits.timeout));
    sqlx::raw_sql(AssertSqlSafe(format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {}",
        timeout_ms(limits.timeout)
    )))
    .execute(&mut *conn)
    .await
    .map_err(err)?;
    super::explain::postgres(conn, sql, &limits.budget).await?;
    let cap = usize::try_from(limits.max_rows).unwrap_or(usize::MAX);
    let first = fetch(conn, sql, cap, limits).await?;
    let mut columns: Vec<ResultColumn> = first
        .columns
        .iter()
        .map(|(name, ty)| ResultColumn {
            name: name.clone(),
            data_type: type_name(ty),
        })
        .collect();
    let mut rows = first.rows;
    let mut truncated = first.truncated;

    let opaque: Vec<usize> = first
        .columns
        .iter()
        .enumerate()
        .filter(|(_, (_, ty))| !decodable(ty))
        .map(|(i, _)| i)
        .collect();
    let remaining = limits.timeout.saturating_sub(started.elapsed());
    if !opaque.is_empty() && !rows.is_empty() && remaining >= Duration::from_millis(1) {
        // Every PostgreSQL type has a text output function, so a second read
        // through `::text` shows the values; it runs in the remaining time,
        // and if it fails the placeholders stay.
        let again = async {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {}",
                timeout_ms(remaining)
            )))
            .execute(&mut *conn)
            .await
            .map_err(err)?;
            let wrapped = text_cast_wrapper(sql, columns.len(), &opaque);
            fetch(conn, &wrapped, cap, limits).await
        };
        if let Ok(second) = again.await {
            if second.columns.len() == columns.len() {
                rows = second.rows;
                truncated = second.truncated;
            }
        }
    }
    for c in columns.iter_mut() {
        if c.data_type.is_empty() {
            c.data_type = "unknown".into();
        }
    }
    Ok(ResultSet {
        columns,
        rows,
        truncated,
    })
}

#[async_trait]
impl Connector for PostgresConnector {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn introspect(&self) -> Result<SchemaInfo, ConnectorError> {
        let relations = self.relations().await?;
        let oids: Vec<i64> = relations.iter().map(|r| r.oid).collect();

        let cols: Vec<(i64, String, String, bool, Option<String>, bool)> = sqlx::query_as(
            "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    NOT a.attnotnull, col_description(a.attrelid, a.attnum), \
                    (t.typcategory = 'S' OR t.typtype = 'e') \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid::int8 = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
        )
        .bind(&oids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;

        let pks: Vec<(i64, String)> = sqlx::query_as(
            "SELECT con.conrelid::int8, a.attname::text \
             FROM pg_constraint con \
             CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
             WHERE con.contype = 'p' AND con.conrelid::int8 = ANY($1) \
             ORDER BY con.conrelid, k.ord",
        )
        .bind(&oids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;

        let fks: Vec<(i64, String, Vec<String>, Vec<String>)> = sqlx::query_as(
            "SELECT con.conrelid::int8, rc.relname::text, \
                    array_agg(a.attname::text ORDER BY k.ord), \
                    array_agg(ra.attname::text ORDER BY k.ord) \
             FROM pg_constraint con \
             JOIN pg_class rc ON rc.oid = con.confrelid \
             CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refnum, ord) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
             JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum \
             WHERE con.contype = 'f' AND con.conrelid::int8 = ANY($1) \
             GROUP BY con.oid, con.conrelid, con.conname, rc.relname \
             ORDER BY con.conrelid, con.conname",
        )
        .bind(&oids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| exec_err(e, None))?;

        let mut columns: HashMap<i64, Vec<(ColumnInfo, bool)>> = HashMap::new();
        for (rel, name, data_type, nullable, comment, texty) in cols {
            columns.entry(rel).or_default().push((
                ColumnInfo {
                    name,
                    data_type,
                    nullable,
                    comment,
                    sample_values: Vec::new(),
                },
                texty,
            ));
        }
        let mut primary: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (rel, col) in pks {
            primary.entry(rel).or_default().push(col);
        }
        let mut foreign: BTreeMap<i64, Vec<ForeignKey>> = BTreeMap::new();
        for (rel, ref_table, cols, ref_cols) in fks {
            foreign.entry(rel).or_default().push(ForeignKey {
                columns: cols,
                ref_table,
                ref_columns: ref_cols,
            });
        }

        let mut tables = Vec::with_capacity(relations.len());
        for rel in &relations {
            let mut cols = Vec::new();
            for (mut col, texty) in columns.remove(&rel.oid).unwrap_or_default() {
                // Views are not scanned: computing one may be arbitrarily expensive.
                if texty && !rel.is_view() {
                    col.sample_values = self.sample_values(rel, &col.name).await;
                }
                cols.push(col);
            }
            tables.push(TableInfo {
                name: rel.name.clone(),
                is_view: rel.is_view(),
                columns: cols,
                primary_key: primary.remove(&rel.oid).unwrap_or_default(),
                foreign_keys: foreign.remove(&rel.oid).unwrap_or_default(),
                row_count: self.row_count(rel).await,
                comment: rel.comment.clone(),
            });
        }
        Ok(SchemaInfo { tables })
    }

    async fn execute(
        &self,
        sql: &ValidatedSql,
        limits: ExecLimits,
    ) -> Result<ResultSet, ConnectorError> {
        let mut conn: PoolConnection<Postgres> =
            self.pool.acquire().await.map_err(|e| exec_err(e, None))?;
        // The only way in is a `ValidatedSql`: the validator is the audit.
        let run = run_in_transaction(&mut conn, sql.sql(), limits);
        let backstop = limits.timeout.saturating_add(CLIENT_BACKSTOP);
        let result = match tokio::time::timeout(backstop, run).await {
            Ok(r) => r,
            Err(_) => {
                // The round trip itself hung: the session's state is unknown.
                conn.close_on_drop();
                return Err(ConnectorError::Timeout(limits.timeout));
            }
        };
        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
        result
    }

    fn slots(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    async fn ping(&self) -> Result<(), ConnectorError> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(ndigits.to_be_bytes());
        b.extend(weight.to_be_bytes());
        b.extend(sign.to_be_bytes());
        b.extend(dscale.to_be_bytes());
        for d in digits {
            b.extend(d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_render_exactly() {
        // 12345678901234567890.123456789
        let b = numeric(
            8,
            4,
            0,
            9,
            &[1234, 5678, 9012, 3456, 7890, 1234, 5678, 9000],
        );
        assert_eq!(
            numeric_to_string(&b).unwrap(),
            "12345678901234567890.123456789"
        );
        assert_eq!(numeric_to_string(&numeric(0, 0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(
            numeric_to_string(&numeric(0, 0, 0, 2, &[])).unwrap(),
            "0.00"
        );
        // -0.0005
        assert_eq!(
            numeric_to_string(&numeric(1, -1, 0x4000, 4, &[5])).unwrap(),
            "-0.0005"
        );
        // 0.00000001 (weight -2: first digit group is the second after the point)
        assert_eq!(
            numeric_to_string(&numeric(1, -2, 0, 8, &[1])).unwrap(),
            "0.00000001"
        );
        // 10000 (trailing zero groups are not stored)
        assert_eq!(
            numeric_to_string(&numeric(1, 1, 0, 0, &[1])).unwrap(),
            "10000"
        );
        assert_eq!(
            numeric_to_string(&numeric(0, 0, 0xC000, 0, &[])).unwrap(),
            "NaN"
        );
        assert_eq!(numeric_to_string(&[0, 1]), None);
    }

    #[test]
    fn intervals_are_iso8601() {
        assert_eq!(interval_iso8601(14, 3, 14_706_500_000), "P1Y2M3DT4H5M6.5S");
        assert_eq!(interval_iso8601(0, 0, 0), "PT0S");
        assert_eq!(interval_iso8601(0, -1, -60_000_000), "P-1DT-1M");
    }

    #[test]
    fn times_and_addresses_render_like_postgres() {
        assert_eq!(date(0).unwrap(), "2000-01-01");
        assert_eq!(date(-1).unwrap(), "1999-12-31");
        assert_eq!(
            timestamp(1_500_000, true).unwrap(),
            "2000-01-01T00:00:01.500Z"
        );
        assert_eq!(timestamp(0, false).unwrap(), "2000-01-01T00:00:00");
        assert_eq!(time_of_day(86_400_000_000).unwrap(), "24:00:00");
        assert_eq!(
            inet(&[2, 32, 0, 4, 10, 0, 0, 1], false).unwrap(),
            "10.0.0.1"
        );
        assert_eq!(
            inet(&[2, 8, 1, 4, 10, 0, 0, 0], true).unwrap(),
            "10.0.0.0/8"
        );
        assert_eq!(inet(&[9, 8, 1, 4, 10, 0, 0, 0], true), None);
    }

    #[test]
    fn malformed_bytes_decode_to_none_not_a_panic() {
        for &o in oid::DECODED {
            if o == oid::VOID {
                continue;
            }
            for b in [&[][..], &[0xff][..], &[0, 0, 0][..]] {
                let _ = decode_scalar(o, b);
            }
        }
        assert_eq!(decode_scalar(oid::INT4, &[0, 0, 1]), None);
        // An array header claiming a billion elements.
        let mut b = Vec::new();
        for x in [1i32, 0, 23, 1_000_000_000, 1] {
            b.extend(x.to_be_bytes());
        }
        assert_eq!(
            decode_array(&PgTypeInfo::with_oid(sqlx::postgres::types::Oid(23)), &b),
            None
        );
    }

    #[test]
    fn opaque_columns_are_cast_positionally() {
        assert_eq!(
            text_cast_wrapper("SELECT 1, 2", 2, &[1]),
            "SELECT q.c1, q.c2::text FROM (SELECT 1, 2) AS q(c1, c2)"
        );
    }

    #[test]
    fn mac_addresses_are_lower_case_hex_pairs() {
        assert_eq!(
            decode_scalar(oid::MACADDR, &[0x08, 0x00, 0x2b, 0x01, 0xaf, 0xFF]),
            Some(Value::String("08:00:2b:01:af:ff".into()))
        );
        assert_eq!(
            decode_scalar(oid::MACADDR8, &[0, 1, 2, 3, 4, 5, 6, 0xfe]),
            Some(Value::String("00:01:02:03:04:05:06:fe".into()))
        );
        assert_eq!(decode_scalar(oid::MACADDR, &[1, 2, 3]), None);
    }
}
