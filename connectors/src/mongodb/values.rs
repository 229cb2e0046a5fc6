//! BSON values as transformers see them, and back; and the canonical text of a key value.
//!
//! Strings, numbers and booleans keep their type. ObjectIds, dates, decimals and UUIDs travel as the
//! text PostgreSQL would print for the same value, so a deterministic rule gives the same fake for the
//! same input in every engine; the result is converted back to the field's own BSON type.

use std::borrow::Cow;
use std::str::FromStr;

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Decimal128};
use transformers::{ColumnKind, Value};

/// The BSON type's name as MongoDB's `$type` spells it.
pub fn type_name(value: &Bson) -> &'static str {
    match value {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(b) if b.subtype == BinarySubtype::Uuid => "uuid",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MaxKey => "maxKey",
        Bson::MinKey => "minKey",
    }
}

/// What a transformer may produce for a field of this BSON type.
pub fn kind_of(type_name: &str) -> ColumnKind {
    match type_name {
        "string" => ColumnKind::Text { max_chars: None },
        "int" => ColumnKind::Int {
            bits: 32,
            unsigned: false,
        },
        "long" => ColumnKind::Int {
            bits: 64,
            unsigned: false,
        },
        "double" => ColumnKind::Float,
        "decimal" => ColumnKind::Numeric {
            precision: None,
            scale: None,
        },
        "bool" => ColumnKind::Bool,
        "date" => ColumnKind::Timestamp { with_tz: true },
        "binData" => ColumnKind::Bytes,
        "uuid" => ColumnKind::Uuid,
        "object" | "array" => ColumnKind::Json,
        other => ColumnKind::Other(other.to_string()),
    }
}

/// The value a transformer receives, or an error for types no transformer can rewrite.
pub fn to_value(value: &Bson) -> Result<Value<'_>, String> {
    Ok(match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::String(s) => Value::Text(Cow::Borrowed(s)),
        Bson::Int32(i) => Value::Int(i64::from(*i)),
        Bson::Int64(i) => Value::Int(*i),
        Bson::Double(f) => Value::Float(*f),
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::ObjectId(id) => Value::Text(Cow::Owned(id.to_hex())),
        Bson::DateTime(d) => Value::Text(Cow::Owned(date_text(*d))),
        Bson::Decimal128(d) => Value::Text(Cow::Owned(d.to_string())),
        Bson::Binary(b) if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16 => {
            Value::Text(Cow::Owned(uuid_text(&b.bytes)))
        }
        Bson::Binary(b) => Value::Bytes(Cow::Borrowed(&b.bytes)),
        Bson::Document(_) | Bson::Array(_) => Value::Text(Cow::Owned(value.clone().into_relaxed_extjson().to_string())),
        other => {
            return Err(format!(
                "holds a BSON {}, which no transformer rewrites; mark the field `keep` or name a path below it",
                type_name(other)
            ))
        }
    })
}

/// A transformer's output as a value of the original field's BSON type.
pub fn from_value(value: Value<'_>, original: &Bson) -> Result<Bson, String> {
    let bad = |what: &str, text: &str| {
        format!(
            "the rule produced {text:?}, which is not {what} (the field is a BSON {})",
            type_name(original)
        )
    };
    Ok(match (value, original) {
        (Value::Null, _) => Bson::Null,
        (Value::Bool(b), _) => Bson::Boolean(b),
        (Value::Int(i), Bson::Int32(_)) => i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i)),
        (Value::Int(i), Bson::Double(_)) => Bson::Double(i as f64),
        (Value::Int(i), Bson::Decimal128(_)) => {
            Bson::Decimal128(Decimal128::from_str(&i.to_string()).map_err(|_| bad("a decimal", &i.to_string()))?)
        }
        (Value::Int(i), Bson::String(_)) => Bson::String(i.to_string()),
        (Value::Int(i), _) => Bson::Int64(i),
        (Value::Float(f), Bson::String(_)) => Bson::String(f.to_string()),
        (Value::Float(f), _) => Bson::Double(f),
        (Value::Bytes(b), Bson::Binary(original)) => Bson::Binary(Binary {
            subtype: original.subtype,
            bytes: b.into_owned(),
        }),
        (Value::Bytes(b), _) => Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: b.into_owned(),
        }),
        (Value::Text(text), original) => match original {
            Bson::ObjectId(_) => Bson::ObjectId(
                bson::oid::ObjectId::parse_str(text.as_ref()).map_err(|_| bad("an ObjectId (24 hex digits)", &text))?,
            ),
            Bson::DateTime(_) => Bson::DateTime(parse_date(&text).ok_or_else(|| bad("a date", &text))?),
            Bson::Decimal128(_) => {
                Bson::Decimal128(Decimal128::from_str(text.trim()).map_err(|_| bad("a decimal", &text))?)
            }
            Bson::Int32(_) => {
                let i: i64 = text.trim().parse().map_err(|_| bad("an integer", &text))?;
                i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i))
            }
            Bson::Int64(_) => Bson::Int64(text.trim().parse().map_err(|_| bad("an integer", &text))?),
            Bson::Double(_) => Bson::Double(text.trim().parse().map_err(|_| bad("a number", &text))?),
            Bson::Boolean(_) => Bson::Boolean(match text.trim() {
                "true" | "t" => true,
                "false" | "f" => false,
                _ => return Err(bad("a boolean", &text)),
            }),
            Bson::Binary(b) if b.subtype == BinarySubtype::Uuid => Bson::Binary(Binary {
                subtype: BinarySubtype::Uuid,
                bytes: parse_uuid(&text).ok_or_else(|| bad("a UUID", &text))?.to_vec(),
            }),
            Bson::Document(_) | Bson::Array(_) => {
                let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad("JSON", &text))?;
                Bson::try_from(json).map_err(|_| bad("extended JSON", &text))?
            }
            _ => Bson::String(text.into_owned()),
        },
    })
}

/// `2024-03-01 12:30:45.123+00`: what PostgreSQL prints for a timestamptz in UTC.
pub fn date_text(date: DateTime) -> String {
    let millis = date.timestamp_millis();
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis) {
        Some(t) if millis % 1000 == 0 => t.format("%Y-%m-%d %H:%M:%S+00").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string(),
        None => millis.to_string(),
    }
}

fn parse_date(text: &str) -> Option<DateTime> {
    let text = text.trim();
    let utc = |t: chrono::DateTime<chrono::FixedOffset>| DateTime::from_millis(t.timestamp_millis());
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
    ] {
        if let Ok(t) = chrono::DateTime::parse_from_str(text, format) {
            return Some(utc(t));
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(utc(t));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(DateTime::from_millis(t.and_utc().timestamp_millis()));
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| DateTime::from_millis(t.and_utc().timestamp_millis()))
}

fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.trim().chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Appends a key value as one field of a tab-separated key row (COPY text escaping, `\N` for
/// null): the same value gives the same text whatever its numeric type, so an int32 reference
/// matches an int64 `_id`.
pub fn push_key_text(value: Option<&Bson>, out: &mut Vec<u8>) {
    let text: Cow<'_, str> = match value {
        None | Some(Bson::Null) | Some(Bson::Undefined) => {
            out.extend_from_slice(b"\\N");
            return;
        }
        Some(Bson::String(s)) => Cow::Borrowed(s),
        Some(Bson::Int32(i)) => Cow::Owned(i.to_string()),
        Some(Bson::Int64(i)) => Cow::Owned(i.to_string()),
        Some(Bson::Double(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cow::Owned((*f as i64).to_string()),
        Some(Bson::ObjectId(id)) => Cow::Owned(id.to_hex()),
        Some(Bson::DateTime(d)) => Cow::Owned(date_text(*d)),
        Some(Bson::Binary(b)) if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16 => {
            Cow::Owned(uuid_text(&b.bytes))
        }
        Some(Bson::Binary(b)) => Cow::Owned(b.bytes.iter().map(|x| format!("{x:02x}")).collect()),
        Some(other) => Cow::Owned(other.clone().into_relaxed_extjson().to_string()),
    };
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::oid::ObjectId;

    #[test]
    fn typed_values_round_trip_through_text() {
        let id = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let date = DateTime::from_millis(1_709_296_245_123);
        let uuid = Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: (0u8..16).collect(),
        });
        let dec = Bson::Decimal128(Decimal128::from_str("12.50").unwrap());
        for original in [
            Bson::ObjectId(id),
            Bson::DateTime(date),
            uuid,
            dec,
            Bson::Int32(7),
            Bson::Int64(1 << 40),
            Bson::Double(2.5),
            Bson::String("x".into()),
            Bson::Boolean(true),
        ] {
            let value = to_value(&original).unwrap().into_owned();
            assert_eq!(from_value(value, &original).unwrap(), original);
        }
        assert_eq!(date_text(date), "2024-03-01 12:30:45.123+00");
        assert_eq!(
            to_value(&Bson::DateTime(DateTime::from_millis(0))).unwrap(),
            Value::text("1970-01-01 00:00:00+00")
        );
    }

    #[test]
    fn output_of_the_wrong_shape_is_refused_with_the_type() {
        let err = from_value(Value::text("not-an-id"), &Bson::ObjectId(ObjectId::new())).unwrap_err();
        assert!(err.contains("ObjectId") && err.contains("not-an-id"), "{err}");
        let err = to_value(&Bson::RegularExpression(bson::Regex {
            pattern: "a".into(),
            options: String::new(),
        }))
        .unwrap_err();
        assert!(err.contains("regex"), "{err}");
        assert_eq!(
            from_value(Value::Int(1 << 40), &Bson::Int32(1)).unwrap(),
            Bson::Int64(1 << 40)
        );
    }

    #[test]
    fn key_text_is_canonical_and_escaped() {
        let text = |v: Bson| {
            let mut out = Vec::new();
            push_key_text(Some(&v), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(Bson::Int32(5)), text(Bson::Int64(5)));
        assert_eq!(text(Bson::Double(5.0)), "5");
        assert_eq!(text(Bson::String("a\tb\\".into())), "a\\tb\\\\");
        assert_eq!(text(Bson::Null), "\\N");
    }
}
