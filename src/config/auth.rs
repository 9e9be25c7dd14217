//! Authentication, quotas and HTTP hardening settings (`[auth]`).
//!
//! Secrets themselves (`jwt_secret`, `secret_key`, `admin_password`) stay
//! top-level in [`super::Config`]; this file holds the knobs around them.

use std::net::IpAddr;

use serde::Deserialize;

/// A proxy (or a range of them) whose `X-Forwarded-For` is believed: an
/// address (`10.0.0.7`, `fd00::1`) or a CIDR range (`10.0.0.0/8`), since an
/// ingress controller's pods change addresses inside a known range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(ipnet::IpNet);

impl TrustedProxy {
    /// Whether `ip` is this proxy or inside its range.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            // `10.1.2.3/8` is almost certainly a typo for a range: refuse
            // host bits instead of silently widening or narrowing it.
            if net.trunc() != net {
                return Err(format!(
                    "`{s}` has host bits set; did you mean `{}`?",
                    net.trunc()
                ));
            }
            return Ok(Self(net));
        }
        s.parse::<IpAddr>()
            .map(|ip| Self(ipnet::IpNet::from(ip)))
            .map_err(|_| {
                format!("`{s}` is neither an IP address nor a CIDR range (e.g. 10.0.0.0/8)")
            })
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of access tokens, checked on every request.
    pub issuer: String,
    /// `aud` of access tokens, checked on every request.
    pub audience: String,
    /// Lifetime of an access token (JWT), seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, seconds.
    pub refresh_token_ttl_secs: u64,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR
    /// ranges); empty means none.
    pub trusted_proxies: Vec<TrustedProxy>,
    pub rate_limit: RateLimitConfig,
    pub login: LoginLimitConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "insight".into(),
            audience: "insight-api".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 14 * 24 * 3600,
            trusted_proxies: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            login: LoginLimitConfig::default(),
        }
    }
}

/// Token buckets: `*_per_minute` is the refill rate and the bucket size.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub viewer_per_minute: u32,
    pub analyst_per_minute: u32,
    pub admin_per_minute: u32,
    /// Per client IP, for routes that answer anonymous callers (login, refresh).
    pub anonymous_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            viewer_per_minute: 60,
            analyst_per_minute: 120,
            admin_per_minute: 240,
            anonymous_per_minute: 30,
        }
    }
}

/// Brute-force protection: failed logins allowed per window.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginLimitConfig {
    pub max_failures_per_username: u32,
    pub max_failures_per_ip: u32,
    pub window_secs: u64,
}

impl Default for LoginLimitConfig {
    fn default() -> Self {
        Self {
            max_failures_per_username: 5,
            max_failures_per_ip: 20,
            window_secs: 15 * 60,
        }
    }
}

impl AuthConfig {
    /// Problems that stop startup in any profile.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > 24 * 3600 {
            out.push("auth.access_token_ttl_secs: must be between 1 and 86400".into());
        }
        if self.refresh_token_ttl_secs < self.access_token_ttl_secs {
            out.push(
                "auth.refresh_token_ttl_secs: must be at least auth.access_token_ttl_secs".into(),
            );
        }
        let r = &self.rate_limit;
        if r.enabled
            && [
                r.viewer_per_minute,
                r.analyst_per_minute,
                r.admin_per_minute,
                r.anonymous_per_minute,
            ]
            .contains(&0)
        {
            out.push(
                "auth.rate_limit: every *_per_minute must be at least 1 (or set enabled = false)"
                    .into(),
            );
        }
        out
    }
}

/// Production-only HTTP hardening checks.
pub(super) fn production_problems(cors_origins: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if cors_origins.iter().any(|o| o.trim() == "*") {
        out.push(
            "server.cors_origins (INSIGHT_SERVER__CORS_ORIGINS): `*` is not allowed in production; list the origins".into(),
        );
    }
    for o in cors_origins {
        if o.starts_with("http://") && !o.starts_with("http://localhost") {
            out.push(format!(
                "server.cors_origins: `{o}` is not https; only https origins are allowed in production"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use crate::config::Config;

    use crate::config::tests::env;

    const PROD: [(&str, &str); 3] = [
        ("INSIGHT_PROFILE", "production"),
        ("INSIGHT_SECRET_KEY", "k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa"),
        ("INSIGHT_JWT_SECRET", "Zt4Yh8Kp2Wq6Rn0Vm3Xc7Lb1Jd5Fs9Ga"),
    ];

    #[test]
    fn auth_settings_and_admin_password_come_from_env() {
        let c = Config::load_from(
            None,
            &env(&[
                ("INSIGHT_ADMIN_PASSWORD", "first-admin-password"),
                ("INSIGHT_AUTH__RATE_LIMIT__VIEWER_PER_MINUTE", "7"),
                ("INSIGHT_AUTH__TRUSTED_PROXIES", "[\"10.0.0.1\"]"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.admin_password.unwrap().expose_secret(),
            "first-admin-password"
        );
        assert_eq!(c.auth.rate_limit.viewer_per_minute, 7);
        assert_eq!(c.auth.trusted_proxies.len(), 1);
        let c = Config::load_from(
            None,
            &env(&[(
                "INSIGHT_AUTH__TRUSTED_PROXIES",
                "[\"10.0.0.0/8\", \"fd00::/8\", \"192.168.1.1\"]",
            )]),
        )
        .unwrap();
        let in_range = |ip: &str| {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            c.auth.trusted_proxies.iter().any(|p| p.contains(&ip))
        };
        assert!(in_range("10.42.7.1") && in_range("fd00::9") && in_range("192.168.1.1"));
        assert!(!in_range("11.0.0.1") && !in_range("192.168.1.2"));
        for bad in ["[\"10.0.0.0/33\"]", "[\"10.1.2.3/8\"]", "[\"proxy.local\"]"] {
            let err = Config::load_from(None, &env(&[("INSIGHT_AUTH__TRUSTED_PROXIES", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("trusted_proxies"), "{bad}: {err}");
        }
        let err = Config::load_from(
            None,
            &env(&[("INSIGHT_AUTH__RATE_LIMIT__VIEWER_PER_MINUTE", "0")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("auth.rate_limit"), "{err}");
    }

    #[test]
    fn production_refuses_wildcard_and_plain_http_cors() {
        let mut e = env(&PROD);
        assert!(Config::load_from(None, &e).is_ok());
        e.push(("INSIGHT_SERVER__CORS_ORIGINS".into(), "[\"*\"]".into()));
        let err = Config::load_from(None, &e).unwrap_err().to_string();
        assert!(err.contains("server.cors_origins"), "{err}");
        let mut e = env(&PROD);
        e.push((
            "INSIGHT_SERVER__CORS_ORIGINS".into(),
            "[\"http://app.example.com\"]".into(),
        ));
        assert!(Config::load_from(None, &e).is_err());
        // Dev allows a wildcard (without credentials).
        assert!(
            Config::load_from(None, &env(&[("INSIGHT_SERVER__CORS_ORIGINS", "[\"*\"]")])).is_ok()
        );
    }
}
