//! PostgreSQL values in the binary wire format, converted to JSON by type
//! OID (or kind, for enums, domains and arrays) without losing precision:
//! `numeric` becomes a decimal string, timestamps ISO-8601, intervals
//! ISO-8601 durations. A value this module cannot decode gives `None`
//! (the caller shows a placeholder or re-reads it through `::text`);
//! decoding never panics, whatever the bytes.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta};
use serde_json::Value;
use sqlx::postgres::{PgRow, PgTypeInfo, PgTypeKind, PgValueFormat};
use sqlx::{Row, TypeInfo, ValueRef};

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
pub(super) fn decodable(ty: &PgTypeInfo) -> bool {
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
pub(super) fn type_name(ty: &PgTypeInfo) -> String {
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

pub(super) fn cell(row: &PgRow, i: usize, ty: &PgTypeInfo) -> Result<Value, sqlx::Error> {
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
