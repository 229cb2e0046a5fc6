//! Every transformer of the catalogue on a column of a matching PostgreSQL type: the dump must
//! restore (the database rejects any value that does not fit its column, its type or a unique
//! constraint) and the transformed values must differ from the originals.

mod common;

use common::{TestDb, Workspace};

const SCHEMA: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE everything (
  id int PRIMARY KEY,
  gender char(1),
  country_code char(2),
  first_name varchar(12), last_name varchar(12), full_name varchar(24), title varchar(8),
  email varchar(64) UNIQUE, username varchar(30) UNIQUE, domain text, url text, agent text,
  ip inet UNIQUE, net cidr, mac macaddr UNIQUE, pw text, phone varchar(24) UNIQUE, mobile text, card varchar(25) UNIQUE,
  iban text UNIQUE, ssn varchar(11) UNIQUE,
  street text, city varchar(30), postcode varchar(10), state text, country text, lat numeric(9,6), lng float8,
  company text, job text, secret text UNIQUE, initial varchar(1), stars varchar(10), any_int int2 UNIQUE,
  any_text varchar(8) UNIQUE, any_uuid uuid UNIQUE, any_date date, any_ts timestamptz, any_mood mood,
  nothing text, fixed text, greeting text,
  amount numeric(8,2), level int2, seen timestamptz, joined date, born date, bio text, code text,
  account varchar(20) UNIQUE, pick mood, profile jsonb, aliases text[], scores int2[]
);
INSERT INTO everything
SELECT i, (ARRAY['F','M',NULL])[i % 3 + 1], (ARRAY['FR','US','DE'])[i % 3 + 1],
  'First' || i, 'Last' || i, 'First' || i || ' Last' || i, 'Mr.',
  'user' || i || '@corp.example', 'user_' || i, 'corp' || i || '.com', 'https://corp.com/u/' || i, 'Mozilla/5.0 x' || i,
  ('10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256))::inet, '192.168.0.0/16',
  ('08:00:2b:' || lpad(to_hex(i / 65536), 2, '0') || ':' || lpad(to_hex(i / 256 % 256), 2, '0') || ':' || lpad(to_hex(i % 256), 2, '0'))::macaddr,
  '$2b$10$realhashrealhashrealhashrealhashrealhashrealhashrealha', '+1 (555) 0' || lpad(i::text, 5, '0'),
  '06 12 34 ' || lpad((i % 100)::text, 2, '0') || ' 00',
  NULL, NULL, NULL,
  i || ' Main Street', 'Springfield', '9' || lpad(i::text, 4, '0'), 'Oregon', 'France', 48.85 + i / 100000.0, 2.35 + i / 100000.0,
  'Acme ' || i, 'Engineer', 'secret-' || i, 'X', 'hidden', i - 1000,
  'ab' || lpad(i::text, 6, '0'), md5(i::text)::uuid, DATE '1980-01-01' + i, TIMESTAMPTZ '2024-01-01 10:00:00+00' + i * interval '1 hour',
  (ARRAY['sad','ok','happy'])[i % 3 + 1]::mood, 'note ' || i, 'x', 'hello',
  i * 1.25, (i % 100)::int2, TIMESTAMPTZ '2023-06-01 08:30:00+00' + i * interval '37 minutes', DATE '2020-01-15' + i,
  DATE '1970-01-01' + i * 7, 'A biography of person ' || i || ' with several words in it.', 'REF-' || i || '-X',
  'ACC-' || lpad(i::text, 8, '0'), (ARRAY['sad','ok','happy'])[i % 3 + 1]::mood,
  jsonb_build_object('email', 'p' || i || '@corp.example', 'tags', jsonb_build_array('a' || i, 'b' || i), 'ssn', '123', 'age', 30 + i % 40),
  ARRAY['a' || i || '@corp.example', NULL, 'b \"' || i || '\"@corp.example'], ARRAY[i % 100, 7]::int2[]
FROM generate_series(1, 2000) i;
";

/// Makes a Luhn-valid 16-digit number from a 15-digit body.
fn luhn(body: &str) -> String {
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A German IBAN with correct check digits for an 18-digit BBAN.
fn iban(bban: &str) -> String {
    let rearranged = format!("{bban}131400"); // D=13, E=14, then "00"
    let remainder = rearranged
        .chars()
        .fold(0u64, |r, c| (r * 10 + c.to_digit(10).unwrap() as u64) % 97);
    format!("DE{:02}{bban}", 98 - remainder)
}

const RULES: &str = "
tables:
  everything:
    columns:
      first_name: { transformer: first-name, gender_column: gender }
      last_name: last-name
      full_name: { transformer: full-name, locale: fr }
      title: title
      email: email
      username: username
      domain: domain
      url: url
      agent: user-agent
      ip: ipv4
      net: { transformer: ipv4, subnet: 10.0.0.0/8 }
      mac: mac
      pw: password
      phone: { transformer: phone-number, keep_format: true }
      mobile: { transformer: phone-number, country: FR }
      card: { transformer: credit-card, keep_issuer: true }
      iban: iban
      ssn: ssn
      street: street-address
      city: { transformer: city, locale: de }
      postcode: { transformer: postcode, keep_format: true }
      state: state
      country: { transformer: country, code: true }
      lat: { transformer: latitude, radius_km: 10 }
      lng: longitude
      company: company
      job: job-title
      secret: hash
      initial: keep-first-char
      stars: redacted
      any_int: random
      any_text: random
      any_uuid: random
      any_date: random
      any_ts: random
      any_mood: random
      nothing: \"null\"
      fixed: { transformer: constant, value: constant-value }
      greeting: { transformer: template, template: \"{{first_name|lower}} from {{city}}\" }
      amount: { transformer: noise-number, relative: 0.2 }
      level: { transformer: random-int, min: 1, max: 30000 }
      seen: { transformer: noise-date, max_days: 10, max_seconds: 3600 }
      joined: { transformer: truncate-date, to: month }
      born: { transformer: birth-date, reference: \"2025-01-01\" }
      bio: lorem
      code: { transformer: regex-replace, pattern: \"REF-([0-9]+)-X\", replacement: \"ID-$1\" }
      account: { transformer: mask, keep_first: 4, keep_last: 0, random: true }
      pick: { transformer: choice, values: [sad, ok, happy] }
      profile:
        transformer: json
        rules:
          - { path: \"$.email\", transformer: email }
          - { path: \"$.tags[*]\", transformer: hash, length: 16 }
          - { path: \"$.ssn\", delete: true }
          - { path: \"$.age\", set: 42 }
      aliases: { transformer: array, element: email }
      scores: { transformer: array, element: { transformer: random-int, min: 1, max: 5 } }
";

#[test]
fn every_transformer_restores_into_its_column_type() {
    let source = TestDb::create("catalogue");
    source.sql(SCHEMA);
    // Valid card numbers, IBANs and SSNs: the unique variants keep (and so require) their structure.
    let updates: String = (1..=2000u64)
        .map(|i| {
            let card = luhn(&format!("4{:014}", i * 7919));
            let iban = iban(&format!("{:018}", 370400440532013000u64 + i));
            let ssn = format!("{:03}-{:02}-{:04}", 100 + i % 500, 10 + i % 80, 1000 + i);
            format!("UPDATE everything SET card = '{card}', iban = '{iban}', ssn = '{ssn}' WHERE id = {i};")
        })
        .collect();
    let ws = Workspace::new();
    let file = ws.path().join("structured.sql");
    std::fs::write(&file, updates).unwrap();
    source.load(&file, &[]);
    let target = TestDb::create("catalogue_copy");
    ws.config(&source.url(), RULES);
    ws.ok(&["dump", "create"]);
    ws.ok(&["dump", "restore", "--to", &target.url()]);
    assert_eq!(target.sql("SELECT count(*) FROM everything").trim(), "2000");

    // Share of rows whose value changed, per column (NULL counts as a value).
    let values = |db: &TestDb, column: &str| -> Vec<String> {
        db.sql(&format!(
            "SELECT coalesce({column}::text, '<null>') FROM everything ORDER BY id"
        ))
        .lines()
        .map(str::to_string)
        .collect()
    };
    let expectations: &[(&str, u32)] = &[
        ("first_name", 95),
        ("last_name", 95),
        ("full_name", 95),
        ("title", 95),
        ("email", 100),
        ("username", 100),
        ("domain", 100),
        ("url", 100),
        ("agent", 100),
        ("ip", 99),
        ("net", 100),
        ("mac", 99),
        ("pw", 100),
        ("phone", 99),
        ("mobile", 99),
        ("card", 99),
        ("iban", 99),
        ("ssn", 99),
        ("street", 99),
        ("city", 95),
        ("postcode", 99),
        ("state", 90),
        ("country", 100),
        ("lat", 95),
        ("lng", 95),
        ("company", 99),
        ("job", 95),
        ("secret", 100),
        ("stars", 100),
        ("any_int", 99),
        ("any_text", 99),
        ("any_uuid", 100),
        ("any_date", 95),
        ("any_ts", 95),
        ("any_mood", 50),
        ("nothing", 100),
        ("fixed", 100),
        ("greeting", 100),
        ("amount", 95),
        ("level", 95),
        ("seen", 95),
        ("joined", 90),
        ("born", 95),
        ("bio", 100),
        ("code", 100),
        ("account", 99),
        ("pick", 60),
        ("profile", 100),
        ("aliases", 100),
        ("scores", 99),
    ];
    for (column, minimum) in expectations {
        let before = values(&source, column);
        let after = values(&target, column);
        let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count() as u32;
        assert!(
            changed * 100 >= minimum * 2000,
            "{column}: only {changed} of 2000 values changed"
        );
    }
    // keep-first-char keeps exactly the first character.
    assert_eq!(values(&target, "initial"), values(&source, "initial"));
    // The template saw the transformed first name and city.
    assert_eq!(
        target.count("SELECT count(*) FROM everything WHERE greeting <> lower(first_name) || ' from ' || city"),
        0
    );
    assert_eq!(target.sql("SELECT DISTINCT nothing FROM everything").trim(), "");
    assert_eq!(
        target.sql("SELECT DISTINCT fixed FROM everything").trim(),
        "constant-value"
    );
    // Rules keep what they promise: month truncation, the regex's groups, JSON paths, masks.
    assert_eq!(
        target.count("SELECT count(*) FROM everything WHERE extract(day FROM joined) <> 1"),
        0
    );
    assert_eq!(
        target.count("SELECT count(*) FROM everything WHERE code !~ '^ID-[0-9]+$'"),
        0
    );
    assert_eq!(
        target.count("SELECT count(*) FROM everything WHERE account NOT LIKE 'ACC-%'"),
        0
    );
    let broken_profiles = "SELECT count(*) FROM everything WHERE profile ? 'ssn' OR profile->>'age' <> '42' \
                           OR profile->>'email' LIKE '%corp.example' OR jsonb_array_length(profile->'tags') <> 2";
    assert_eq!(target.count(broken_profiles), 0);
    // Array elements are transformed one by one; NULL elements and dimensions stay.
    let broken_arrays =
        "SELECT count(*) FROM everything WHERE array_length(aliases, 1) <> 3 OR aliases[2] IS NOT NULL \
                         OR aliases[1] LIKE '%corp.example' OR NOT (scores <@ ARRAY[1,2,3,4,5]::int2[])";
    assert_eq!(target.count(broken_arrays), 0);
    // birth-date keeps each person's age at the reference date.
    let ages = "SELECT date_part('year', age(DATE '2025-01-01', born))::int FROM everything ORDER BY id";
    assert_eq!(source.sql(ages), target.sql(ages));
}
