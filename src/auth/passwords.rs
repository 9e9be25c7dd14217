//! Password hashing with Argon2id (PHC strings), always off the async
//! runtime: a hash costs tens of milliseconds of CPU on purpose.
//!
//! Argon2's working memory (19 MiB with the default parameters) is
//! allocated here, not by the `argon2` crate, for the sake of glibc's
//! allocator: when a block that glibc served with `mmap` is freed, glibc
//! raises its mmap threshold to that block's size (and its trim threshold
//! to twice that), unless the block is larger than 32 MiB. After one
//! 19 MiB hash, every later allocation below 19 MiB came from the heap
//! arenas and up to 38 MiB of free memory per arena was kept instead of
//! returned: one login left the server 19 MiB larger for good (issue 16).
//! A buffer with more than 32 MiB of capacity is always mapped and unmapped
//! and leaves the thresholds alone; only the blocks Argon2 uses are touched,
//! so the rest costs address space, not memory.

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::Rng as _;
use secrecy::{ExposeSecret, SecretString};

/// Capacity of Argon2's working memory, in 1 KiB blocks, at least: just over
/// glibc's 32 MiB ceiling for raising its thresholds (see the module docs).
const WORK_MEMORY_MIN_BLOCKS: usize = 32 * 1024 + 1;

/// Shortest password accepted when set by a person.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hash a password (Argon2id, default parameters, random salt).
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    hash_with(
        password.as_bytes(),
        Algorithm::default(),
        Version::default(),
        Params::default(),
        salt.as_salt(),
    )
    .map(|h| h.to_string())
    .map_err(|e| anyhow::anyhow!("hashing: {e}"))
}

/// What `argon2`'s `PasswordHasher::hash_password` does, with the working
/// memory from [`work_memory`].
fn hash_with<'a>(
    password: &[u8],
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt<'a>,
) -> argon2::password_hash::Result<PasswordHash<'a>> {
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut memory = work_memory(params.block_count());
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let output = Output::init_with(output_len, |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut memory)?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(output),
    })
}

/// `blocks` zeroed blocks in a buffer of more than 32 MiB capacity (see the
/// module docs); the capacity beyond `blocks` is never touched.
fn work_memory(blocks: usize) -> Vec<Block> {
    let mut memory = Vec::with_capacity(blocks.max(WORK_MEMORY_MIN_BLOCKS));
    memory.resize(blocks, Block::default());
    memory
}

/// Check a password against a stored PHC string; a malformed hash is a mismatch.
pub async fn verify(password: SecretString, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(password.expose_secret(), &phc))
        .await
        .unwrap_or(false)
}

pub fn verify_blocking(password: &str, phc: &str) -> bool {
    verify_phc(password.as_bytes(), phc).unwrap_or(false)
}

/// What `argon2`'s `PasswordVerifier::verify_password` does: recompute with
/// the stored algorithm, version, parameters and salt, and compare in
/// constant time (`Output`'s equality).
fn verify_phc(password: &[u8], phc: &str) -> argon2::password_hash::Result<bool> {
    let stored = PasswordHash::new(phc)?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(&stored)?;
    let computed = hash_with(password, algorithm, version, params, salt)?;
    Ok(computed.hash == Some(expected))
}

/// A hash of nothing in particular, verified against when the user does not
/// exist so that response time does not reveal which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("insight-dummy-password").unwrap_or_default())
}

/// A random password for generated accounts (24 characters, ~143 bits).
pub fn generate() -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let s: String = (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    SecretString::from(s)
}

/// Reject passwords too short to be worth hashing.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_blocking("correct horse battery", &h));
        assert!(!verify_blocking("wrong", &h));
        assert!(!verify_blocking("x", "not a hash"));
        assert_ne!(h, hash_blocking("correct horse battery").unwrap(), "salted");
    }

    /// Hashes made by the `argon2` crate's own hasher (every stored hash so
    /// far) verify here, ours verify there, and other parameters are read
    /// from the PHC string.
    #[test]
    fn hashes_match_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        let ours = hash_with(
            b"correct horse battery",
            Algorithm::default(),
            Version::default(),
            Params::default(),
            salt.as_salt(),
        )
        .unwrap()
        .to_string();
        assert_eq!(ours, theirs);
        assert!(verify_blocking("correct horse battery", &theirs));
        let small = Params::new(64, 1, 1, Some(16)).unwrap();
        let other = Argon2::new(Algorithm::Argon2i, Version::V0x10, small)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking("pw", &other), "{other}");
        assert!(!verify_blocking("pw2", &other));
        let mine = hash_blocking("pw").unwrap();
        let parsed = PasswordHash::new(&mine).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(!verify_blocking(
            "pw",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"
        ));
    }

    #[test]
    fn work_memory_is_beyond_glibcs_threshold_ceiling() {
        let memory = work_memory(Params::default().block_count());
        assert_eq!(memory.len(), Params::default().block_count());
        assert!(memory.capacity() * std::mem::size_of::<Block>() > 32 * 1024 * 1024);
        let bigger = work_memory(40 * 1024);
        assert_eq!(bigger.len(), 40 * 1024);
    }
}
