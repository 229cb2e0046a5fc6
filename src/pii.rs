//! Spotting personal data in columns that are kept as they are: by the column's name and by what its
//! sampled values look like. Used by `decoy plan` to warn before a dump leaks something.

/// Why a kept column looks like personal data, or `None`.
pub fn assess(column: &str, samples: &[String]) -> Option<String> {
    let by_name = name_hint(column);
    let by_values = value_hint(samples);
    match (by_name, by_values) {
        (_, Some((kind, share))) => Some(format!(
            "{kind} ({share}% of {} sampled values look like one)",
            samples.len()
        )),
        (Some(kind), None) => Some(format!("{kind} (by its name)")),
        (None, None) => None,
    }
}

/// Column-name fragments that usually mean personal data, checked on `_`-separated words and on the
/// whole lowercased name.
fn name_hint(column: &str) -> Option<&'static str> {
    let lower = column.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // `address_id`, `user_email_id`: keys that point at personal data are not personal data.
    if words.last().is_some_and(|w| *w == "id" || *w == "uuid" || *w == "key") {
        return None;
    }
    let has = |w: &str| words.contains(&w);
    let contains = |fragment: &str| lower.contains(fragment);
    if contains("email") || contains("e_mail") || has("mail") {
        Some("an email address")
    } else if contains("phone") || has("mobile") || has("tel") || has("fax") || contains("msisdn") {
        Some("a phone number")
    } else if contains("firstname")
        || contains("lastname")
        || contains("surname")
        || contains("fullname")
        || (has("name")
            && (has("first") || has("last") || has("full") || has("middle") || has("given") || has("family")))
        || has("cardholder")
    {
        Some("a person's name")
    } else if has("ssn")
        || contains("social_security")
        || contains("national_id")
        || has("passport")
        || has("nir")
        || has("cpf")
        || has("dni")
        || contains("tax_id")
    {
        Some("a national identifier")
    } else if has("iban") || has("bic") || contains("account_number") || contains("routing") {
        Some("a bank account")
    } else if contains("card_number") || has("pan") || has("ccnum") || contains("credit_card") {
        Some("a card number")
    } else if has("ip") || contains("ip_address") || contains("ipaddr") {
        Some("an IP address")
    } else if has("address") || has("street") || has("postcode") || has("zip") || has("zipcode") || contains("postal") {
        Some("a postal address")
    } else if has("dob") || contains("birth") {
        Some("a date of birth")
    } else if has("latitude") || has("longitude") || has("lat") || has("lng") || has("lon") {
        Some("a location")
    } else if contains("password") || contains("passwd") || has("username") || has("login") {
        Some("a credential or account name")
    } else {
        None
    }
}

/// The kind of value most samples look like, when at least half do.
fn value_hint(samples: &[String]) -> Option<(&'static str, usize)> {
    if samples.is_empty() {
        return None;
    }
    type Detector = (&'static str, fn(&str) -> bool);
    let detectors: [Detector; 5] = [
        ("an email address", is_email),
        ("a card number", is_card_number),
        ("an IBAN", is_iban),
        ("an IP address", is_ip),
        ("a phone number", is_phone),
    ];
    detectors.iter().find_map(|(kind, detect)| {
        let hits = samples.iter().filter(|s| detect(s.trim())).count();
        let share = hits * 100 / samples.len();
        (hits * 2 >= samples.len()).then_some((*kind, share))
    })
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

fn digits(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for c in s.bytes() {
        match c {
            b'0'..=b'9' => out.push(c - b'0'),
            b' ' | b'-' | b'.' | b'(' | b')' | b'+' | b'/' => {}
            _ => return None,
        }
    }
    Some(out)
}

fn is_card_number(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    (13..=19).contains(&d.len()) && !s.contains(['(', ')', '+']) && transformers::checksum::luhn_valid(&d)
}

fn is_iban(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let b = compact.as_bytes();
    (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b.iter().all(u8::is_ascii_alphanumeric)
        && transformers::checksum::iban_valid(b)
}

fn is_ip(s: &str) -> bool {
    let address = s.split('/').next().unwrap_or(s);
    address.parse::<std::net::IpAddr>().is_ok()
}

fn is_phone(s: &str) -> bool {
    // ISO dates (2024-01-31) have phone-like digits and dashes.
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    match digits(s) {
        Some(d) => (7..=15).contains(&d.len()) && s.chars().any(|c| !c.is_ascii_digit() || s.starts_with('0')),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_that_mean_personal_data() {
        for (column, kind) in [
            ("email", "email"),
            ("contact_email", "email"),
            ("mobile", "phone"),
            ("first_name", "name"),
            ("LastName", "name"),
            ("ssn", "national"),
            ("iban", "bank"),
            ("street", "postal"),
            ("ip_address", "IP"),
            ("date_of_birth", "birth"),
            ("password_hash", "credential"),
        ] {
            let hint = assess(column, &[]).unwrap_or_else(|| panic!("{column} not flagged"));
            assert!(hint.contains(kind), "{column}: {hint}");
        }
        for column in [
            "id",
            "status",
            "created_at",
            "price_cents",
            "name_id",
            "shipping",
            "address_id",
            "email_key",
        ] {
            assert_eq!(assess(column, &[]), None, "{column}");
        }
    }

    #[test]
    fn values_that_look_like_personal_data() {
        let cases = [
            (vec!["a@b.example", "x.y@corp.example", "n/a"], "email"),
            (vec!["4111 1111 1111 1111", "5500-0000-0000-0004"], "card"),
            (vec!["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"], "IBAN"),
            (vec!["10.0.0.1", "2001:db8::1/64", "192.168.0.0/16"], "IP"),
            (vec!["+33 6 12 34 56 78", "(555) 123-4567", "01234 567890"], "phone"),
        ];
        for (values, kind) in cases {
            let hint = assess("data", &strings(&values)).unwrap_or_else(|| panic!("{values:?} not flagged"));
            assert!(hint.contains(kind), "{values:?}: {hint}");
        }
        for values in [
            vec!["active", "paid"],
            vec!["12", "4000"],
            vec!["2024-01-01", "2023-05-06"],
            vec!["1.5", "2"],
        ] {
            assert_eq!(assess("data", &strings(&values)), None, "{values:?}");
        }
        // A detector needs at least half of the samples.
        assert_eq!(assess("data", &strings(&["a@b.example", "x", "y"])), None);
    }
}
