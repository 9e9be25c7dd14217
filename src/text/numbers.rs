//! Numbers for people: `134788.27000000002` reads as `134,788.27`. Used
//! where numbers are shown as text (the CLI's tables, builtin summaries);
//! the API keeps the exact values.

/// Format a JSON number for reading: thousands separators from 10,000 on
/// (so years such as 2025 stay plain), at most two decimals (three
/// significant digits below 1), no trailing zeros. Non-numbers: `None`.
pub fn human(v: &serde_json::Value) -> Option<String> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(group(&i.unsigned_abs().to_string(), i < 0));
    }
    if let Some(u) = n.as_u64() {
        return Some(group(&u.to_string(), false));
    }
    let f = n.as_f64()?;
    if !f.is_finite() {
        return Some(f.to_string());
    }
    let a = f.abs();
    let decimals = if a != 0.0 && a < 1.0 {
        // Three significant digits for small values (0.000123 stays visible).
        (2 - a.log10().floor() as i32).clamp(2, 12) as usize
    } else {
        2
    };
    let text = format!("{a:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    let (int, frac) = match text.split_once('.') {
        Some((i, d)) => (i.to_string(), format!(".{d}")),
        None => (text, String::new()),
    };
    let negative = f < 0.0 && (int != "0" || !frac.is_empty());
    Some(format!("{}{frac}", group(&int, negative)))
}

fn group(digits: &str, negative: bool) -> String {
    if digits.len() <= 4 {
        return if negative {
            format!("-{digits}")
        } else {
            digits.to_string()
        };
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if negative { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::human;
    use serde_json::json;

    #[test]
    fn numbers_read_like_numbers() {
        assert_eq!(human(&json!(134788.27000000002)).unwrap(), "134,788.27");
        assert_eq!(human(&json!(1234567)).unwrap(), "1,234,567");
        assert_eq!(human(&json!(-12345.5)).unwrap(), "-12,345.5");
        assert_eq!(human(&json!(2025)).unwrap(), "2025");
        assert_eq!(human(&json!(1234.5)).unwrap(), "1234.5");
        assert_eq!(human(&json!(12345)).unwrap(), "12,345");
        assert_eq!(human(&json!(12.0)).unwrap(), "12");
        assert_eq!(human(&json!(0.000123456)).unwrap(), "0.000123");
        assert_eq!(human(&json!(0)).unwrap(), "0");
        assert_eq!(human(&json!(999)).unwrap(), "999");
        assert_eq!(human(&json!("12.5")), None);
    }
}
