//! The one permission table: what each [`Role`] may do.
//!
//! [`PERMISSIONS`] is the only place that says which role may do what; the
//! HTTP layer maps every route to one [`Action`] (see `api::access`), and
//! `docs/SECURITY.md` carries [`markdown_table`]'s output (a test keeps them
//! equal). Ownership (a viewer sees only their own history) is not a
//! permission: it is enforced by the handlers, answering `404`.

use crate::domain::Role;

/// What a role may do is decided here, beside the table; the role itself is
/// domain vocabulary ([`Role`]).
impl Role {
    pub fn can(self, action: Action) -> bool {
        PERMISSIONS
            .iter()
            .find(|(a, _, _)| *a == action)
            .is_some_and(|(_, min, _)| self >= *min)
    }
}

/// Something a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Any signed-in user: `auth/me`, own API keys, logout.
    Session,
    Ask,
    GenerateSql,
    ExecuteSql,
    /// List and read history (own only for viewers) and give feedback on it.
    ReadHistory,
    GiveFeedback,
    ListConnections,
    /// Save answers, build dashboards and share them (own only); open
    /// share links (rows under one's own grant).
    SaveAnswers,
    /// Upload CSV files as tables of the `uploads` connection.
    UploadData,
    ValidateSql,
    /// Read, add and delete training items.
    ManageTraining,
    /// Approve pending feedback into training.
    ApproveTraining,
    /// See every user's history on the connections one may reach.
    ReadAllHistory,
    ManageUsers,
    ManageConnections,
    ManageGrants,
    ManageSettings,
    ReadAudit,
    /// See and queue background jobs, take and list backups.
    ManageOperations,
}

/// The permission table: action, least role that may do it, description.
pub const PERMISSIONS: &[(Action, Role, &str)] = &[
    (
        Action::Session,
        Role::Viewer,
        "see own profile, manage own API keys, log out",
    ),
    (
        Action::Ask,
        Role::Viewer,
        "ask questions (`/ask`, `/ask/stream`)",
    ),
    (
        Action::GenerateSql,
        Role::Viewer,
        "generate SQL without running it",
    ),
    (
        Action::ExecuteSql,
        Role::Viewer,
        "execute validated SQL on granted connections",
    ),
    (
        Action::ReadHistory,
        Role::Viewer,
        "list and read own history",
    ),
    (
        Action::GiveFeedback,
        Role::Viewer,
        "give feedback on own history",
    ),
    (
        Action::ListConnections,
        Role::Viewer,
        "list granted connections",
    ),
    (
        Action::SaveAnswers,
        Role::Viewer,
        "save answers, build and share dashboards (own only); open share links under own grant",
    ),
    (Action::ValidateSql, Role::Analyst, "validate arbitrary SQL"),
    (
        Action::UploadData,
        Role::Analyst,
        "upload CSV files and Excel workbooks as tables of the `uploads` connection (with a full grant on it)",
    ),
    (
        Action::ManageTraining,
        Role::Analyst,
        "list, add and delete training data",
    ),
    (
        Action::ApproveTraining,
        Role::Analyst,
        "approve feedback for training",
    ),
    (
        Action::ReadAllHistory,
        Role::Analyst,
        "see all users' history on granted connections",
    ),
    (
        Action::ManageUsers,
        Role::Admin,
        "create, change and disable users",
    ),
    (
        Action::ManageConnections,
        Role::Admin,
        "create, change and delete connections",
    ),
    (
        Action::ManageGrants,
        Role::Admin,
        "grant connections and table allowlists",
    ),
    (Action::ManageSettings, Role::Admin, "change settings"),
    (Action::ReadAudit, Role::Admin, "read the audit log"),
    (
        Action::ManageOperations,
        Role::Admin,
        "see and queue background jobs, take and list backups",
    ),
];

/// The table as Markdown, as it appears in `docs/SECURITY.md`.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| action | what | viewer | analyst | admin |\n|---|---|---|---|---|\n");
    for (action, _, what) in PERMISSIONS {
        let cells: Vec<&str> = Role::ALL
            .iter()
            .map(|r| if r.can(*action) { "yes" } else { "no" })
            .collect();
        out.push_str(&format!(
            "| {action:?} | {what} | {} |\n",
            cells.join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_the_table_once() {
        let all = [
            Action::Session,
            Action::Ask,
            Action::GenerateSql,
            Action::ExecuteSql,
            Action::ReadHistory,
            Action::GiveFeedback,
            Action::ListConnections,
            Action::SaveAnswers,
            Action::ValidateSql,
            Action::UploadData,
            Action::ManageTraining,
            Action::ApproveTraining,
            Action::ReadAllHistory,
            Action::ManageUsers,
            Action::ManageConnections,
            Action::ManageGrants,
            Action::ManageSettings,
            Action::ReadAudit,
            Action::ManageOperations,
        ];
        for a in all {
            assert_eq!(
                PERMISSIONS.iter().filter(|(x, _, _)| *x == a).count(),
                1,
                "{a:?}"
            );
        }
        assert_eq!(PERMISSIONS.len(), all.len());
    }

    #[test]
    fn roles_follow_the_issue() {
        assert!(Role::Viewer.can(Action::Ask));
        assert!(!Role::Viewer.can(Action::ValidateSql));
        assert!(Role::Analyst.can(Action::ApproveTraining));
        assert!(!Role::Analyst.can(Action::ManageUsers));
        assert!(Role::Admin.can(Action::ReadAudit));
    }

    #[test]
    fn security_doc_carries_the_table() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SECURITY.md"),
        )
        .expect("docs/SECURITY.md");
        assert!(
            doc.contains(&markdown_table()),
            "docs/SECURITY.md is out of date; paste this table:\n{}",
            markdown_table()
        );
    }
}
