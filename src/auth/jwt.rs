//! Access tokens: JWT signed with HS256 under `jwt_secret`.
//!
//! The algorithm is pinned: a token whose header says `none`, `RS256` or
//! anything but `HS256` is rejected before its signature is looked at, so
//! the classic "alg confusion" attacks have nothing to work with. `iss`,
//! `aud`, `exp`, `iat`, `sub`, `role` and `jti` are all required.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::Role;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The user's token epoch at issue; a token from an older epoch is
    /// refused (logout, disable). Tokens from before epochs existed carry 0.
    #[serde(default)]
    pub epoch: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

impl JwtKeys {
    pub fn new(secret: &SecretString, issuer: &str, audience: &str, ttl_secs: u64) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    pub fn issue(&self, user_id: &str, role: Role) -> anyhow::Result<String> {
        self.issue_at_epoch(user_id, role, 0)
    }

    /// A token for `user_id` under the user's current token `epoch`.
    pub fn issue_at_epoch(&self, user_id: &str, role: Role, epoch: i64) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            role,
            iat: now,
            exp: now + self.ttl_secs as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            epoch,
        };
        self.sign(&claims)
    }

    /// Sign arbitrary claims (tests use it to forge expired tokens).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing a token: {e}"))
    }

    /// Verify signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            &SecretString::from("a-test-secret-that-is-long-enough-123"),
            "insight",
            "insight-api",
            60,
        )
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let t = k.issue("u1", Role::Analyst).unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!(c.sub, "u1");
        assert_eq!(c.role, Role::Analyst);
    }

    #[test]
    fn rejects_expired_tampered_wrong_secret_and_wrong_audience() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let mut c = Claims {
            iss: "insight".into(),
            aud: "insight-api".into(),
            sub: "u1".into(),
            role: Role::Viewer,
            iat: now - 3600,
            exp: now - 600,
            jti: "j".into(),
            epoch: 0,
        };
        assert!(k.verify(&k.sign(&c).unwrap()).is_none(), "expired");
        c.exp = now + 600;
        c.aud = "other".into();
        assert!(k.verify(&k.sign(&c).unwrap()).is_none(), "audience");
        let good = k.issue("u1", Role::Viewer).unwrap();
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        let admin = serde_json::json!({"iss":"insight","aud":"insight-api","sub":"u1","role":"admin","iat":now,"exp":now+600,"jti":"x"});
        parts[1] = b64(&admin);
        assert!(k.verify(&parts.join(".")).is_none(), "tampered payload");
        let other = JwtKeys::new(
            &SecretString::from("another-secret-that-is-long-enough-456"),
            "insight",
            "insight-api",
            60,
        );
        assert!(other.verify(&good).is_none(), "wrong secret");
    }

    #[test]
    fn rejects_alg_none_and_rs256_confusion() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"iss":"insight","aud":"insight-api","sub":"u1","role":"admin","iat":now,"exp":now+600,"jti":"x"});
        for alg in ["none", "None", "RS256", "HS512", "ES256"] {
            let header = serde_json::json!({"alg": alg, "typ": "JWT"});
            let unsigned = format!("{}.{}.", b64(&header), b64(&claims));
            assert!(k.verify(&unsigned).is_none(), "{alg} unsigned");
            // HMAC over the header with the secret, as a confused verifier would.
            let signed = format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&claims));
            assert!(k.verify(&signed).is_none(), "{alg} signed");
        }
    }
}
