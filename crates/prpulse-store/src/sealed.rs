//! Where a sealed value lives. Every ciphertext is bound to its place (table,
//! column, row key) through AES-GCM associated data, so a value copied to
//! another row or column does not open there. The list of sealed columns is
//! this enum: `prpulse secrets rotate-key` and `check` walk it, so a new
//! sealed column is a new variant, not a query someone has to remember.

use std::fmt;

/// A column that holds values sealed under `PRPULSE_SECRET_KEY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SealedColumn {
    /// `webhook_secrets.current_secret` and `previous_secret`.
    Hook(HookSlot),
    /// `integrations.token` and `private_key`.
    Integration(Credential),
    /// `jira_integrations`' token, webhook secrets and URL token.
    Jira(JiraSecret),
}

/// Which of a Jira integration's sealed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JiraSecret {
    /// The personal access token prpulse calls Jira's REST API with.
    Token,
    /// The webhook's signing secret (DC 10+).
    CurrentSecret,
    /// Valid until `previous_valid_until` (a rotation's overlap).
    PreviousSecret,
    /// The random path segment of an unsigned webhook's URL.
    UrlToken,
}

/// Which of a hook's two secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookSlot {
    Current,
    /// Valid until `previous_valid_until` (a rotation's overlap).
    Previous,
}

/// Which of an integration's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    Token,
    /// A GitHub App's private key (PEM).
    AppPrivateKey,
}

impl SealedColumn {
    pub const ALL: [Self; 8] = [
        Self::Hook(HookSlot::Current),
        Self::Hook(HookSlot::Previous),
        Self::Integration(Credential::Token),
        Self::Integration(Credential::AppPrivateKey),
        Self::Jira(JiraSecret::Token),
        Self::Jira(JiraSecret::CurrentSecret),
        Self::Jira(JiraSecret::PreviousSecret),
        Self::Jira(JiraSecret::UrlToken),
    ];

    pub fn table(self) -> &'static str {
        match self {
            Self::Hook(_) => "webhook_secrets",
            Self::Integration(_) => "integrations",
            Self::Jira(_) => "jira_integrations",
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            Self::Hook(HookSlot::Current) => "current_secret",
            Self::Hook(HookSlot::Previous) => "previous_secret",
            Self::Integration(Credential::Token) => "token",
            Self::Integration(Credential::AppPrivateKey) => "private_key",
            Self::Jira(JiraSecret::Token) => "token",
            Self::Jira(JiraSecret::CurrentSecret) => "current_secret",
            Self::Jira(JiraSecret::PreviousSecret) => "previous_secret",
            Self::Jira(JiraSecret::UrlToken) => "url_token",
        }
    }

    /// The table's primary key, which names the row in the associated data.
    pub fn row_key_column(self) -> &'static str {
        match self {
            Self::Hook(_) => "hook_id",
            Self::Integration(_) => "account",
            Self::Jira(_) => "name",
        }
    }
}

impl fmt::Display for SealedColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table(), self.column())
    }
}

/// One sealed value's place: a column and the row's key. Built only through
/// the constructors, so a place cannot pair a hook column with an account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SealedPlace {
    column: SealedColumn,
    row: RowKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RowKey {
    HookId(i64),
    /// Lower-cased, as `integrations.account` stores it.
    Account(String),
}

impl SealedPlace {
    pub fn hook_secret(slot: HookSlot, hook_id: i64) -> Self {
        Self {
            column: SealedColumn::Hook(slot),
            row: RowKey::HookId(hook_id),
        }
    }

    /// `account` as given or as stored: it is lower-cased here the way the
    /// queries lower-case it (GitHub logins are ASCII).
    pub fn credential(credential: Credential, account: &str) -> Self {
        Self {
            column: SealedColumn::Integration(credential),
            row: RowKey::Account(account.to_lowercase()),
        }
    }

    /// A Jira integration's value; `name` as stored (lower case).
    pub fn jira(secret: JiraSecret, name: &str) -> Self {
        Self {
            column: SealedColumn::Jira(secret),
            row: RowKey::Account(name.to_lowercase()),
        }
    }

    pub fn column(&self) -> SealedColumn {
        self.column
    }

    /// The associated data. NUL separates the parts unambiguously: no name
    /// holds one, and a Postgres text key cannot.
    pub(crate) fn associated_data(&self) -> Vec<u8> {
        let row = match &self.row {
            RowKey::HookId(id) => id.to_string(),
            RowKey::Account(account) => account.clone(),
        };
        [
            "prpulse-sealed-v1",
            self.column.table(),
            self.column.column(),
            self.column.row_key_column(),
            &row,
        ]
        .join("\0")
        .into_bytes()
    }
}

impl fmt::Display for SealedPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.row {
            RowKey::HookId(id) => write!(f, "{} (hook_id {id})", self.column),
            RowKey::Account(account) => write!(
                f,
                "{} ({} {account})",
                self.column,
                self.column.row_key_column()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_has_its_own_associated_data() {
        let places = [
            SealedPlace::hook_secret(HookSlot::Current, 1),
            SealedPlace::hook_secret(HookSlot::Previous, 1),
            SealedPlace::hook_secret(HookSlot::Current, 2),
            SealedPlace::credential(Credential::Token, "acme"),
            SealedPlace::credential(Credential::AppPrivateKey, "acme"),
            SealedPlace::credential(Credential::Token, "acme-2"),
            SealedPlace::jira(JiraSecret::Token, "acme"),
            SealedPlace::jira(JiraSecret::CurrentSecret, "acme"),
            SealedPlace::jira(JiraSecret::UrlToken, "acme"),
        ];
        let data: std::collections::HashSet<_> =
            places.iter().map(SealedPlace::associated_data).collect();
        assert_eq!(data.len(), places.len());
    }

    #[test]
    fn accounts_are_case_insensitive_like_the_table() {
        assert_eq!(
            SealedPlace::credential(Credential::Token, "Acme").associated_data(),
            SealedPlace::credential(Credential::Token, "acme").associated_data()
        );
    }

    #[test]
    fn a_place_names_its_table_column_and_row() {
        assert_eq!(
            SealedPlace::hook_secret(HookSlot::Previous, 42).to_string(),
            "webhook_secrets.previous_secret (hook_id 42)"
        );
        assert_eq!(
            SealedPlace::credential(Credential::AppPrivateKey, "Acme").to_string(),
            "integrations.private_key (account acme)"
        );
    }
}
