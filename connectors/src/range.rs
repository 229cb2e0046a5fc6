//! A slice of a table that one worker reads while others read the rest of the same snapshot, so a
//! large table is not one stream.

/// Bounds are half-open, `[from, to)`; `None` leaves a side open, so the first and the last range
/// also take rows beyond what was measured when the table was split.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadRange {
    /// Heap pages of a PostgreSQL table, read with a TID range scan (PostgreSQL 14 and later).
    Pages { from: u64, to: Option<u64> },
    /// Rows whose integer primary key `column` falls in the range.
    IntKey {
        column: String,
        from: Option<i64>,
        to: Option<i64>,
    },
    /// MongoDB documents whose `_id` falls in the range (ObjectIds or numbers, all of one kind).
    Ids {
        from: Option<bson::Bson>,
        to: Option<bson::Bson>,
    },
}

impl std::fmt::Display for ReadRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bound = |b: Option<i64>| b.map_or_else(String::new, |b| b.to_string());
        match self {
            ReadRange::Pages { from, to } => {
                write!(f, "pages {from}..{}", to.map_or_else(String::new, |t| t.to_string()))
            }
            ReadRange::IntKey { column, from, to } => write!(f, "{column} {}..{}", bound(*from), bound(*to)),
            ReadRange::Ids { from, to } => {
                let id = |b: &Option<bson::Bson>| b.as_ref().map_or_else(String::new, |b| b.to_string());
                write!(f, "_id {}..{}", id(from), id(to))
            }
        }
    }
}

/// `key >= from AND key < to` for the bounds that are set (`key` already quoted for its engine),
/// `TRUE` when both are open: the same SQL on PostgreSQL and MySQL.
pub fn int_key_condition(key: &str, from: Option<i64>, to: Option<i64>) -> String {
    let mut conditions = Vec::with_capacity(2);
    if let Some(from) = from {
        conditions.push(format!("{key} >= {from}"));
    }
    if let Some(to) = to {
        conditions.push(format!("{key} < {to}"));
    }
    if conditions.is_empty() {
        return "TRUE".into();
    }
    conditions.join(" AND ")
}

/// Cuts `[first, last]` (inclusive, as read from the table) into at most `parts` ranges of about
/// the same width; the first starts open and the last ends open. `None` when there is nothing to
/// split (fewer than two parts, or fewer values than parts).
pub fn int_ranges(first: i64, last: i64, parts: usize) -> Option<Vec<(Option<i64>, Option<i64>)>> {
    let ranges = span_ranges(first.into(), last.into(), parts)?;
    // Every bound lies inside [first, last], so it fits an i64.
    Some(
        ranges
            .into_iter()
            .map(|(from, to)| (from.map(|b| b as i64), to.map(|b| b as i64)))
            .collect(),
    )
}

/// [`int_ranges`] over any span that fits 127 bits (MongoDB's 96-bit ObjectIds too).
pub fn span_ranges(first: i128, last: i128, parts: usize) -> Option<Vec<(Option<i128>, Option<i128>)>> {
    if parts < 2 || last <= first {
        return None;
    }
    let width = (last - first) as u128 + 1;
    let parts = (parts as u128).min(width);
    if parts < 2 {
        return None;
    }
    let mut bounds = Vec::with_capacity(parts as usize - 1);
    for i in 1..parts {
        // width * i stays below 2^128 for the spans used here (at most 2^96 × a few thousand).
        bounds.push(first + (width * i / parts) as i128);
    }
    bounds.dedup();
    let mut ranges = Vec::with_capacity(bounds.len() + 1);
    let mut from = None;
    for bound in bounds {
        ranges.push((from, Some(bound)));
        from = Some(bound);
    }
    ranges.push((from, None));
    Some(ranges)
}

/// Cuts `pages` heap pages into at most `parts` page ranges, the last open-ended.
pub fn page_ranges(pages: u64, parts: usize) -> Option<Vec<ReadRange>> {
    let parts = (parts as u64).min(pages);
    if parts < 2 {
        return None;
    }
    let mut ranges = Vec::with_capacity(parts as usize);
    let mut from = 0;
    for i in 1..=parts {
        let to = if i == parts { None } else { Some(pages * i / parts) };
        ranges.push(ReadRange::Pages { from, to });
        from = to.unwrap_or(pages);
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ranges_cover_every_key_once() {
        for (first, last, parts) in [(1, 1_000, 4), (-5, 5, 3), (0, 3, 8), (i64::MIN, i64::MAX, 5), (7, 9, 2)] {
            let ranges = int_ranges(first, last, parts).unwrap();
            assert!(ranges.len() <= parts && ranges.len() >= 2, "{ranges:?}");
            assert_eq!(ranges.first().unwrap().0, None);
            assert_eq!(ranges.last().unwrap().1, None);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].1, pair[1].0, "adjacent ranges share their bound: {ranges:?}");
                assert!(pair[0].1.is_some());
            }
            // Every bound lies strictly inside (first, last], so no range is empty by construction.
            for (from, _) in ranges.iter().skip(1) {
                let from = from.unwrap();
                assert!(from > first && from <= last, "{from} in {first}..={last}");
            }
        }
    }

    #[test]
    fn int_ranges_are_even() {
        let ranges = int_ranges(1, 1_000, 4).unwrap();
        assert_eq!(
            ranges,
            vec![
                (None, Some(251)),
                (Some(251), Some(501)),
                (Some(501), Some(751)),
                (Some(751), None)
            ]
        );
    }

    #[test]
    fn spans_of_96_bits_split_evenly() {
        let last = (1i128 << 96) - 1;
        let ranges = span_ranges(0, last, 4).unwrap();
        assert_eq!(ranges[1].0, Some(1i128 << 94));
        assert_eq!(ranges[3], (Some(3i128 << 94), None));
    }

    #[test]
    fn key_conditions_leave_open_sides_out() {
        assert_eq!(
            int_key_condition("`id`", Some(-5), Some(10)),
            "`id` >= -5 AND `id` < 10"
        );
        assert_eq!(int_key_condition("\"id\"", None, Some(3)), "\"id\" < 3");
        assert_eq!(int_key_condition("k", Some(3), None), "k >= 3");
        assert_eq!(int_key_condition("k", None, None), "TRUE");
    }

    #[test]
    fn nothing_to_split() {
        assert_eq!(int_ranges(5, 5, 4), None);
        assert_eq!(int_ranges(1, 100, 1), None);
        assert_eq!(page_ranges(1, 4), None);
        assert_eq!(page_ranges(100, 1), None);
    }

    #[test]
    fn page_ranges_cover_the_table_and_stay_open_at_the_end() {
        let ranges = page_ranges(10, 3).unwrap();
        assert_eq!(
            ranges,
            vec![
                ReadRange::Pages { from: 0, to: Some(3) },
                ReadRange::Pages { from: 3, to: Some(6) },
                ReadRange::Pages { from: 6, to: None },
            ]
        );
    }
}
