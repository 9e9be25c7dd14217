//! PII and secret masking for log output.
//!
//! Masks, in this order: passwords in URLs/DSNs (`scheme://user:***@host`),
//! JWTs, our API keys (`ik_…`) and common provider keys (`sk-…`), bearer
//! tokens, `password=`-style pairs, e-mail addresses, payment card numbers
//! (13–19 digits, Luhn-checked, so order ids are left alone) and phone
//! numbers (international or separated formats, 9–15 digits).

use std::sync::LazyLock;

use regex::{Captures, Regex};

struct Patterns {
    url_password: Regex,
    jwt: Regex,
    api_key: Regex,
    bearer: Regex,
    secret_pair: Regex,
    email: Regex,
    card: Regex,
    phone: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    Patterns {
    url_password: Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/?#@\s]*):[^@\s/]+@").expect("regex"),
    jwt: Regex::new(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*").expect("regex"),
    api_key: Regex::new(r"\b(?:ik|sk|sk-ant|pk|rk)[_\-][A-Za-z0-9_\-]{12,}").expect("regex"),
    bearer: Regex::new(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/\-]{8,}=*").expect("regex"),
    secret_pair: Regex::new(
        r#"(?i)\b(password|passwd|pwd|secret|api_key|apikey|token|access_token|refresh_token)(["']?\s*[:=]\s*["']?)([^\s"'&,;}]+)"#,
    )
    .expect("regex"),
    email: Regex::new(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}\b").expect("regex"),
    card: Regex::new(r"\b\d(?:[ \-]?\d){12,18}\b").expect("regex"),
    phone: Regex::new(r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,4}[\s.\-]\d{2,4}(?:[\s.\-]\d{2,4}){0,3}\b|\+\d{9,15}\b")
        .expect("regex"),
}
});

/// Return `text` with sensitive values masked.
pub fn mask(text: &str) -> String {
    let p = &*PATTERNS;
    let s = p.url_password.replace_all(text, "$1:***@");
    let s = p.jwt.replace_all(&s, "[jwt]");
    let s = p.api_key.replace_all(&s, "[api-key]");
    let s = p.bearer.replace_all(&s, "$1 [token]");
    let s = p
        .secret_pair
        .replace_all(&s, |c: &Captures| format!("{}{}***", &c[1], &c[2]));
    let s = p.email.replace_all(&s, "[email]");
    let s = p.card.replace_all(&s, |c: &Captures| {
        let digits: String = c[0].chars().filter(char::is_ascii_digit).collect();
        if luhn(&digits) {
            "[card]".to_string()
        } else {
            c[0].to_string()
        }
    });
    let text = s.as_ref();
    let s = p.phone.replace_all(text, |c: &Captures| {
        let whole = c.get(0).expect("group 0");
        let digits = c[0].chars().filter(char::is_ascii_digit).count();
        let m = &c[0];
        // Dates, times, versions and ids look like digit groups too: only
        // mask what has the length of a phone number and no date shape, and
        // is not a piece of a longer token (a UUID such as a correlation id).
        let before = text[..whole.start()].chars().next_back();
        let after = text[whole.end()..].chars().next();
        let inside_token = before.is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            || after.is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '-');
        if (9..=15).contains(&digits) && !looks_like_date(m) && !inside_token {
            "[phone]".to_string()
        } else {
            m.to_string()
        }
    });
    s.into_owned()
}

fn looks_like_date(s: &str) -> bool {
    let parts: Vec<&str> = s
        .split(['-', '.', ' ', '/'])
        .filter(|p| !p.is_empty())
        .collect();
    parts.len() == 3 && parts[0].len() == 4 && parts[1].len() <= 2 && parts[2].len() <= 2
}

/// Luhn checksum over a digit string.
pub fn luhn(digits: &str) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let mut sum = 0u32;
    for (i, ch) in digits.chars().rev().enumerate() {
        let Some(mut d) = ch.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked() {
        assert_eq!(
            mask("user ann.lee+work@mail.example.co.uk logged in"),
            "user [email] logged in"
        );
        assert_eq!(mask("From: <J.Doe@Example.COM>"), "From: <[email]>");
    }

    #[test]
    fn card_numbers_are_masked_only_when_luhn_valid() {
        assert_eq!(mask("card 4111 1111 1111 1111 ok"), "card [card] ok");
        assert_eq!(mask("card 5500-0000-0000-0004"), "card [card]");
        assert_eq!(mask("amex 378282246310005"), "amex [card]");
        // Not Luhn-valid: an order number stays.
        assert_eq!(mask("order 4111111111111112"), "order 4111111111111112");
    }

    #[test]
    fn phone_numbers_are_masked() {
        assert_eq!(mask("call +1 415-555-2671 now"), "call [phone] now");
        assert_eq!(mask("tel: +442071838750"), "tel: [phone]");
        assert_eq!(mask("mobile 030 1234 5678"), "mobile [phone]");
        assert_eq!(mask("(555) 123-4567"), "[phone]");
        // Dates, durations, small numbers and UUIDs are not phone numbers.
        for id in [
            "01a24843-6244-76ea-9b3a-45af8cd5fe47",
            "01a24844-7001-7888-8bcb-fb49d9d69f8a",
            "correlation_id=01a24844-7001-7888-8bcb-fb49d9d69f8a done",
        ] {
            assert_eq!(mask(id), id);
        }
        assert_eq!(
            mask("at 2024-02-29 took 1234 ms, 42 rows"),
            "at 2024-02-29 took 1234 ms, 42 rows"
        );
    }

    #[test]
    fn tokens_and_keys_are_masked() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(mask(&format!("token={jwt}")), "token=***");
        assert_eq!(mask(&format!("got {jwt} back")), "got [jwt] back");
        assert_eq!(
            mask("Authorization: Bearer abcdef123456789xyz"),
            "Authorization: Bearer [token]"
        );
        assert_eq!(mask("key ik_live_9f8e7d6c5b4a3210"), "key [api-key]");
        assert_eq!(
            mask("OPENAI sk-proj-abcdefghijklmnop1234"),
            "OPENAI [api-key]"
        );
        assert_eq!(mask("sk-ant-api03-abcdefghijklmnopqrs"), "[api-key]");
    }

    #[test]
    fn passwords_in_urls_and_pairs_are_masked() {
        assert_eq!(
            mask("dsn=postgres://app:s3cr3t@db:5432/sales"),
            "dsn=postgres://app:***@db:5432/sales"
        );
        assert_eq!(
            mask("mysql://root:pw@127.0.0.1/test"),
            "mysql://root:***@127.0.0.1/test"
        );
        assert_eq!(
            mask("redis://:hunter2@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert_eq!(mask(r#"{"password": "hunter2"}"#), r#"{"password": "***"}"#);
        assert_eq!(mask("password=hunter2&user=bob"), "password=***&user=bob");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let s =
            "GET /api/v1/queries/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b status=200 duration_ms=12";
        assert_eq!(mask(s), s);
    }
}
