//! `insight user create`, `insight user unlock` and `insight user
//! reset-password`: add a user from the terminal, lift a login lockout, set
//! a forgotten password (revoking the user's sessions), and the first-serve
//! admin bootstrap. Passwords are read from stdin (never from an argument,
//! which would land in shell history and `ps`) or generated and printed once.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::Accounts;
use crate::config::{Config, Profile};
use crate::domain::Role;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from stdin when piped, otherwise
    /// generated and printed once.
    Create(CreateArgs),
    /// Lift a login lockout: forget the user's failed logins, from every
    /// address, on every replica (takes effect at their next attempt).
    Unlock(UnlockArgs),
    /// Set a user's password (read from stdin when piped, otherwise
    /// generated and printed once). Revokes every session, refresh token and
    /// API key of the user and lifts their login lockout.
    ResetPassword(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The username.
    pub name: String,
    /// Generate a password even when stdin is not a terminal.
    #[arg(long)]
    pub generate_password: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The username.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub username: String,
    /// admin, analyst or viewer.
    #[arg(long, default_value = "viewer")]
    pub role: Role,
    /// Generate a password even when stdin is not a terminal.
    #[arg(long)]
    pub generate_password: bool,
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create(args) => create(config, args).await,
        UserCommand::Unlock(args) => unlock(config, args).await,
        UserCommand::ResetPassword(args) => reset_password(config, args).await,
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.store_url())
        .await
        .context("opening the app store")?;
    if store.pending_migrations().await.unwrap_or(0) > 0 {
        if config.profile == Profile::Dev {
            store.migrate().await.context("migrating the app store")?;
        } else {
            anyhow::bail!("the app store has pending migrations; run `insight migrate` first");
        }
    }
    Ok(store)
}

/// The password from piped stdin, or a generated one (returned twice: the
/// second to print once).
fn read_or_generate(generate: bool) -> anyhow::Result<(SecretString, Option<SecretString>)> {
    let stdin = std::io::stdin();
    if !generate && !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if !line.is_empty() {
            return Ok((SecretString::from(line), None));
        }
    }
    let p = crate::auth::passwords::generate();
    Ok((p.clone(), Some(p)))
}

async fn create(config: Config, args: CreateArgs) -> anyhow::Result<()> {
    let (password, generated) = read_or_generate(args.generate_password)?;
    let store = open_store(&config).await?;
    let user = Accounts::new(store.clone())
        .create_user(&args.username, password, args.role)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create user `{}`: {e}", args.username))?;
    store
        .record_audit(
            None,
            "user.create",
            Some(&user.id),
            serde_json::json!({ "username": user.username, "role": user.role, "via": "cli" }),
            None,
        )
        .await?;
    println!("created {} `{}` (id {})", user.role, user.username, user.id);
    if let Some(p) = generated {
        println!("password (shown once): {}", p.expose_secret());
    }
    store.close().await;
    Ok(())
}

async fn unlock(config: Config, args: UnlockArgs) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let user = match Accounts::new(store.clone()).unlock(&args.name).await {
        Ok(u) => u,
        Err(crate::auth::AuthError::Store(crate::store::StoreError::NotFound)) => {
            store.close().await;
            anyhow::bail!("no user named `{}`", args.name);
        }
        Err(e) => anyhow::bail!("cannot unlock `{}`: {e}", args.name),
    };
    store
        .record_audit(
            None,
            "user.unlock",
            Some(&user.id),
            serde_json::json!({ "username": user.username, "via": "cli" }),
            None,
        )
        .await?;
    println!(
        "unlocked `{}`: its failed logins are forgotten",
        user.username
    );
    store.close().await;
    Ok(())
}

async fn reset_password(config: Config, args: ResetArgs) -> anyhow::Result<()> {
    let (password, generated) = read_or_generate(args.generate_password)?;
    let store = open_store(&config).await?;
    let accounts = Accounts::new(store.clone());
    let result = async {
        let user = accounts.by_name(&args.name).await?;
        accounts.reset_password(&user.id, password).await
    }
    .await;
    let user = match result {
        Ok(u) => u,
        Err(crate::auth::AuthError::Store(crate::store::StoreError::NotFound)) => {
            store.close().await;
            anyhow::bail!("no user named `{}`", args.name);
        }
        Err(e) => {
            store.close().await;
            anyhow::bail!("cannot reset the password of `{}`: {e}", args.name);
        }
    };
    store
        .record_audit(
            None,
            "user.password_reset",
            Some(&user.id),
            serde_json::json!({ "username": user.username, "via": "cli" }),
            None,
        )
        .await?;
    println!(
        "password of `{}` set; its sessions and API keys are revoked",
        user.username
    );
    if let Some(p) = generated {
        println!("password (shown once): {}", p.expose_secret());
    }
    store.close().await;
    Ok(())
}

/// On the first `serve` (no users yet), create `admin`; a generated password
/// goes to the console once, never to the logs.
pub async fn bootstrap(accounts: &Accounts, config: &Config) -> anyhow::Result<()> {
    if let Some((username, generated)) = accounts.bootstrap_admin(config).await? {
        tracing::info!(user.name = %username, "first admin created");
        match generated {
            Some(p) => eprintln!(
                "Created the first admin `{username}` with password: {}\n(shown once: keep it; or set INSIGHT_ADMIN_PASSWORD before the first start)",
                p.expose_secret()
            ),
            None => eprintln!(
                "Created the first admin `{username}` with the password from INSIGHT_ADMIN_PASSWORD."
            ),
        }
    }
    Ok(())
}
