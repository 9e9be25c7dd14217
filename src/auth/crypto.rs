//! Encryption at rest for connection DSNs: AES-256-GCM under a key derived
//! from `secret_key` (HMAC-SHA256 with a fixed label, so the raw secret is
//! never used as a key and other uses can derive their own).
//!
//! Stored form: 12-byte random nonce followed by ciphertext and tag. The
//! connection id is bound as associated data, so a ciphertext copied onto
//! another connection row does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const LABEL: &[u8] = b"insight/connection-dsn/v1";

#[derive(Clone)]
pub struct DsnCipher {
    cipher: Aes256Gcm,
}

impl DsnCipher {
    pub fn new(secret_key: &SecretString) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret_key.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(LABEL);
        let key = mac.finalize().into_bytes();
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    pub fn encrypt(&self, connection_id: &str, plaintext: &str) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: connection_id.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(out)
    }

    pub fn decrypt(&self, connection_id: &str, stored: &[u8]) -> anyhow::Result<SecretString> {
        if stored.len() < 12 + 16 {
            anyhow::bail!("stored DSN is truncated");
        }
        let (nonce, ct) = stored.split_at(12);
        let nonce: [u8; 12] = nonce.try_into()?;
        let pt = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: connection_id.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("stored DSN does not decrypt (wrong secret_key?)"))?;
        Ok(SecretString::from(String::from_utf8(pt)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let c = DsnCipher::new(&SecretString::from("k7Qw9zX2mP4vN8rT1yB6cH3jL5sD0fGa"));
        let dsn = "postgres://u:hunter2@db/x";
        let ct = c.encrypt("sales", dsn).unwrap();
        assert!(!String::from_utf8_lossy(&ct).contains("hunter2"));
        assert_eq!(c.decrypt("sales", &ct).unwrap().expose_secret(), dsn);
        assert!(
            c.decrypt("other", &ct).is_err(),
            "bound to the connection id"
        );
        let other = DsnCipher::new(&SecretString::from("another-key-another-key-another-key"));
        assert!(other.decrypt("sales", &ct).is_err());
    }
}
