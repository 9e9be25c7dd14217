//! Opaque secrets (refresh tokens, API keys): random, shown once, stored as
//! SHA-256 hex. SHA-256 without salt is enough here because the secrets are
//! 256-bit random values, not passwords.

use rand::Rng as _;
use sha2::{Digest, Sha256};

/// Prefix of API keys, so they are recognisable (and scannable in leaks).
pub const API_KEY_PREFIX: &str = "ik_";

/// `len` random bytes as URL-safe base64 without padding.
pub fn random_token(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(32))
}

pub fn new_refresh_token() -> String {
    random_token(32)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hash_stably() {
        let a = new_api_key();
        assert!(a.starts_with("ik_") && a.len() > 40);
        assert_ne!(a, new_api_key());
        assert_eq!(sha256_hex("abc").len(), 64);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
