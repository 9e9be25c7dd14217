//! OTLP's protobuf encoding of `ExportTraceServiceRequest`, for
//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` (the OTel default).
//!
//! The exporter builds the request in OTLP's JSON mapping; this module turns
//! that into protobuf wire format with a table of the fields we send (names,
//! numbers, wire types), and back (`decode_export`, for receivers and
//! tests). Field numbers are those of `opentelemetry/proto/trace/v1/trace.proto`,
//! `common/v1/common.proto` and `resource/v1/resource.proto`.

use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum Kind {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int64`; a decimal string in JSON.
    Int64,
    /// An enum; a number in JSON.
    Enum,
    /// `fixed64`; a decimal string in JSON.
    Fixed64,
    /// `double`.
    Double,
    /// `bytes`; hex in JSON (trace and span ids).
    HexBytes,
    Msg(&'static [Field]),
}

struct Field {
    name: &'static str,
    number: u32,
    kind: Kind,
    repeated: bool,
}

const fn f(name: &'static str, number: u32, kind: Kind) -> Field {
    Field {
        name,
        number,
        kind,
        repeated: false,
    }
}

const fn rep(name: &'static str, number: u32, kind: Kind) -> Field {
    Field {
        name,
        number,
        kind,
        repeated: true,
    }
}

const ANY_VALUE: &[Field] = &[
    f("stringValue", 1, Kind::Str),
    f("boolValue", 2, Kind::Bool),
    f("intValue", 3, Kind::Int64),
    f("doubleValue", 4, Kind::Double),
];
const KEY_VALUE: &[Field] = &[f("key", 1, Kind::Str), f("value", 2, Kind::Msg(ANY_VALUE))];
const STATUS: &[Field] = &[f("message", 2, Kind::Str), f("code", 3, Kind::Enum)];
const SPAN: &[Field] = &[
    f("traceId", 1, Kind::HexBytes),
    f("spanId", 2, Kind::HexBytes),
    f("parentSpanId", 4, Kind::HexBytes),
    f("name", 5, Kind::Str),
    f("kind", 6, Kind::Enum),
    f("startTimeUnixNano", 7, Kind::Fixed64),
    f("endTimeUnixNano", 8, Kind::Fixed64),
    rep("attributes", 9, Kind::Msg(KEY_VALUE)),
    f("status", 15, Kind::Msg(STATUS)),
];
const SCOPE: &[Field] = &[f("name", 1, Kind::Str), f("version", 2, Kind::Str)];
const SCOPE_SPANS: &[Field] = &[
    f("scope", 1, Kind::Msg(SCOPE)),
    rep("spans", 2, Kind::Msg(SPAN)),
];
const RESOURCE: &[Field] = &[rep("attributes", 1, Kind::Msg(KEY_VALUE))];
const RESOURCE_SPANS: &[Field] = &[
    f("resource", 1, Kind::Msg(RESOURCE)),
    rep("scopeSpans", 2, Kind::Msg(SCOPE_SPANS)),
];
const EXPORT_REQUEST: &[Field] = &[rep("resourceSpans", 1, Kind::Msg(RESOURCE_SPANS))];

const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, number: u32, wire: u32) {
    put_varint(out, u64::from(number << 3 | wire));
}

fn put_len(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_tag(out, number, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn parse_u64(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn encode_value(out: &mut Vec<u8>, field: &Field, v: &Value) {
    match field.kind {
        Kind::Str => {
            if let Some(s) = v.as_str() {
                put_len(out, field.number, s.as_bytes());
            }
        }
        Kind::Bool => {
            if let Some(b) = v.as_bool() {
                put_tag(out, field.number, VARINT);
                put_varint(out, u64::from(b));
            }
        }
        Kind::Int64 => {
            let i = match v {
                Value::String(s) => s.parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            };
            if let Some(i) = i {
                put_tag(out, field.number, VARINT);
                put_varint(out, i as u64);
            }
        }
        Kind::Enum => {
            if let Some(n) = parse_u64(v) {
                put_tag(out, field.number, VARINT);
                put_varint(out, n);
            }
        }
        Kind::Fixed64 => {
            if let Some(n) = parse_u64(v) {
                put_tag(out, field.number, I64);
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
        Kind::Double => {
            if let Some(d) = v.as_f64() {
                put_tag(out, field.number, I64);
                out.extend_from_slice(&d.to_le_bytes());
            }
        }
        Kind::HexBytes => {
            if let Some(bytes) = v.as_str().and_then(from_hex) {
                put_len(out, field.number, &bytes);
            }
        }
        Kind::Msg(fields) => {
            let mut inner = Vec::new();
            encode_message(&mut inner, fields, v);
            put_len(out, field.number, &inner);
        }
    }
}

fn encode_message(out: &mut Vec<u8>, fields: &[Field], v: &Value) {
    let Some(obj) = v.as_object() else { return };
    for field in fields {
        match (obj.get(field.name), field.repeated) {
            (Some(Value::Array(items)), true) => {
                for item in items {
                    encode_value(out, field, item);
                }
            }
            (Some(Value::Null) | None, _) => {}
            (Some(item), _) => encode_value(out, field, item),
        }
    }
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

/// An `ExportTraceServiceRequest` in OTLP's JSON mapping, as protobuf.
pub fn encode_export(request: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_message(&mut out, EXPORT_REQUEST, request);
    out
}

/// Protobuf bytes of an `ExportTraceServiceRequest` back into OTLP's JSON
/// mapping (the fields this module knows; others are skipped).
pub fn decode_export(bytes: &[u8]) -> Result<Value, String> {
    decode_message(bytes, EXPORT_REQUEST)
}

fn take_varint(b: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let end = pos
        .checked_add(n)
        .filter(|e| *e <= b.len())
        .ok_or("truncated field")?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn decode_message(b: &[u8], fields: &[Field]) -> Result<Value, String> {
    let mut obj = Map::new();
    let mut pos = 0;
    while pos < b.len() {
        let tag = take_varint(b, &mut pos)?;
        let (number, wire) = ((tag >> 3) as u32, (tag & 7) as u32);
        let raw: Raw = match wire {
            VARINT => Raw::Varint(take_varint(b, &mut pos)?),
            I64 => Raw::Fixed(u64::from_le_bytes(
                take(b, &mut pos, 8)?
                    .try_into()
                    .map_err(|_| "bad fixed64")?,
            )),
            LEN => {
                let n = take_varint(b, &mut pos)? as usize;
                Raw::Bytes(take(b, &mut pos, n)?)
            }
            5 => {
                take(b, &mut pos, 4)?;
                continue;
            }
            other => return Err(format!("unsupported wire type {other}")),
        };
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            continue;
        };
        let value = match (field.kind, raw) {
            (Kind::Str, Raw::Bytes(s)) => {
                Value::String(String::from_utf8(s.to_vec()).map_err(|_| "string is not UTF-8")?)
            }
            (Kind::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
            (Kind::Int64, Raw::Varint(v)) => Value::String((v as i64).to_string()),
            (Kind::Enum, Raw::Varint(v)) => Value::from(v),
            (Kind::Fixed64, Raw::Fixed(v)) => Value::String(v.to_string()),
            (Kind::Double, Raw::Fixed(v)) => Value::from(f64::from_bits(v)),
            (Kind::HexBytes, Raw::Bytes(s)) => Value::String(hex::encode(s)),
            (Kind::Msg(inner), Raw::Bytes(s)) => decode_message(s, inner)?,
            _ => return Err(format!("field {} has the wrong wire type", field.name)),
        };
        if field.repeated {
            obj.entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .ok_or("not a list")?
                .push(value);
        } else {
            obj.insert(field.name.to_string(), value);
        }
    }
    // Protobuf cannot tell an empty list from a missing one; the JSON
    // mapping our exporter writes has the (possibly empty) list.
    for field in fields.iter().filter(|f| f.repeated) {
        obj.entry(field.name)
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    Ok(Value::Object(obj))
}

enum Raw<'a> {
    Varint(u64),
    Fixed(u64),
    Bytes(&'a [u8]),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Value {
        json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "insight"}}]},
            "scopeSpans": [{
                "scope": {"name": "insight", "version": "0.1.0"},
                "spans": [{
                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                    "spanId": "b7ad6b7169203331",
                    "parentSpanId": "00f067aa0ba902b7",
                    "name": "llm.generate",
                    "kind": 3,
                    "startTimeUnixNano": "1764969600000000000",
                    "endTimeUnixNano": "1764969600123456789",
                    "attributes": [
                        {"key": "llm.tokens", "value": {"intValue": "-42"}},
                        {"key": "cached", "value": {"boolValue": true}},
                        {"key": "score", "value": {"doubleValue": 0.25}},
                    ],
                    "status": {"code": 2, "message": "timeout"},
                }],
            }],
        }]})
    }

    #[test]
    fn round_trips_through_the_wire_format() {
        let bytes = encode_export(&request());
        assert_eq!(decode_export(&bytes).unwrap(), request());
    }

    #[test]
    fn encodes_known_bytes() {
        // A span whose only field is `name = "a"`: field 5, wire type 2.
        let v = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "a"}]}]}]});
        assert_eq!(
            encode_export(&v),
            vec![0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x2a, 0x01, b'a']
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let bytes = encode_export(&request());
        for n in 1..bytes.len() {
            let _ = decode_export(&bytes[..n]);
        }
        assert!(decode_export(&[0x0a, 0xff]).is_err());
    }
}
