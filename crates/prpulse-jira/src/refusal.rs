//! Why ingest refuses a Jira delivery before looking at its body, in
//! Jira's terms: Data Center 10+ signs with `X-Hub-Signature` (not
//! GitHub's `X-Hub-Signature-256`), and older servers prove themselves
//! with the token in the webhook's URL, where there is no header at all.
//! Every refusal is a 401; the reasons are the labels GitHub's refusals
//! use for the same failure, so dashboards count them alike.

/// The header Jira signs its deliveries in: GitHub's format under
/// GitHub's old (SHA-1) name.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JiraRefusal {
    #[error("no Jira integration by this name")]
    UnknownIntegration,
    #[error(
        "no X-Hub-Signature header: this integration's deliveries are signed (sha256= and the HMAC of the body)"
    )]
    MissingSignature,
    #[error("X-Hub-Signature is not sha256= followed by 64 hex digits")]
    MalformedSignature,
    #[error("X-Hub-Signature does not match the body for this integration's secret")]
    SignatureMismatch,
    #[error(
        "this integration's webhook URL ends in its token (/webhooks/jira/NAME/TOKEN): none was given"
    )]
    MissingToken,
    #[error("the token in the URL is not this integration's")]
    WrongToken,
    #[error(
        "this integration's deliveries are signed with X-Hub-Signature: its webhook URL has no token"
    )]
    UnexpectedToken,
}

impl JiraRefusal {
    /// A stable, low-cardinality label for logs and metrics: the one a
    /// GitHub refusal of the same kind carries.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnknownIntegration => "no_secret",
            Self::MissingSignature | Self::MissingToken => "missing",
            Self::MalformedSignature => "malformed",
            Self::SignatureMismatch | Self::WrongToken | Self::UnexpectedToken => "mismatch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_jiras_header_and_never_githubs() {
        let all = [
            JiraRefusal::UnknownIntegration,
            JiraRefusal::MissingSignature,
            JiraRefusal::MalformedSignature,
            JiraRefusal::SignatureMismatch,
            JiraRefusal::MissingToken,
            JiraRefusal::WrongToken,
            JiraRefusal::UnexpectedToken,
        ];
        for refusal in all {
            let message = refusal.to_string();
            assert!(!message.contains("X-Hub-Signature-256"), "{message}");
            assert!(!message.to_lowercase().contains("github"), "{message}");
        }
        assert!(
            JiraRefusal::MissingSignature
                .to_string()
                .contains(SIGNATURE_HEADER)
        );
        assert_eq!(JiraRefusal::WrongToken.reason(), "mismatch");
        assert_eq!(JiraRefusal::MissingToken.reason(), "missing");
    }
}
