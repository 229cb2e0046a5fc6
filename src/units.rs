//! Human units in config and on the command line: byte sizes (`64MiB`) and ages (`7d`).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `123`, `500kB`, `64MiB`, `1GB`, `2g` (binary multiples for `Ki/Mi/Gi`, `k/m/g` alone too).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 64MiB or 500kB"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`; use B, kB, KiB, MB, MiB, GB or GiB"
            ))
        }
    };
    let bytes = (number * multiplier as f64) as u64;
    if bytes == 0 {
        return Err(format!("`{text}` must be more than zero bytes"));
    }
    Ok(bytes)
}

pub fn deserialize_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserialize_size(deserializer, false)
}

/// Like [`deserialize_bytes`], but `0` is allowed (a size that can be turned off).
pub fn deserialize_bytes_or_zero<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserialize_size(deserializer, true)
}

/// A size as a number of bytes or as text with a unit (see [`parse_bytes`]).
fn deserialize_size<'de, D: Deserializer<'de>>(deserializer: D, zero_allowed: bool) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(0) if !zero_allowed => Err(serde::de::Error::custom("must be more than zero bytes")),
        Raw::Number(n) => Ok(n),
        Raw::Text(t) if zero_allowed && t.trim() == "0" => Ok(0),
        Raw::Text(t) => parse_bytes(&t).map_err(serde::de::Error::custom),
    }
}

/// A duration written as [`parse_age`] reads it, at least a second.
pub fn deserialize_age<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    match parse_age(&text) {
        Ok(age) if age.as_secs() >= 1 => Ok(age),
        Ok(_) => Err(serde::de::Error::custom(format!("`{text}` is too short: at least 1s"))),
        Err(e) => Err(serde::de::Error::custom(e)),
    }
}

/// Parses an age such as `30m`, `12h`, `7d`, `2w`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age; write e.g. 12h, 7d or 2w"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{text}` has no unit; write e.g. 30m, 12h, 7d or 2w")),
    };
    Ok(Duration::from_secs(number * seconds))
}

/// `1.5 MiB` style, for tables and summaries.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("500kB").unwrap(), 500_000);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert!(parse_bytes("12 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_bytes("0").is_err());
        assert_eq!(format_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(5400));
        assert!(parse_age("7").unwrap_err().contains("unit"));
    }
}
