//! Jira sends no delivery id, so prpulse derives one from what identifies
//! the event, the same for every resend of it:
//!
//! `jira:<integration>:<event>:<issue id>:c<changelog id>` when the body
//! has a changelog (Jira numbers changelogs once per instance), else
//! `jira:<integration>:<event>:<issue id>:t<timestamp>` (Jira's own
//! `timestamp`, epoch milliseconds, which a resend repeats). `<event>` is
//! `webhookEvent` without `jira:`. The integration is part of it because
//! two Jira instances number issues and changelogs independently; the
//! worker reads the integration back from the id, so nothing beyond the
//! raw body and the envelope travels on the queue.

use prpulse_domain::{DeliveryId, DeliveryIdError};

use crate::{
    IntegrationName,
    payload::{IssueEvent, JiraEventKind},
};

const PREFIX: &str = "jira:";

/// Which part of the body identified the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryRule {
    Changelog(i64),
    Timestamp(i64),
}

pub fn derive_delivery_id(
    integration: &IntegrationName,
    kind: JiraEventKind,
    event: &IssueEvent,
) -> Result<DeliveryId, DeliveryIdError> {
    let rule = match event.changelog_id {
        Some(id) => DeliveryRule::Changelog(id),
        None => DeliveryRule::Timestamp(event.at_millis),
    };
    let identity = match rule {
        DeliveryRule::Changelog(id) => format!("c{id}"),
        DeliveryRule::Timestamp(millis) => format!("t{millis}"),
    };
    DeliveryId::parse(&format!(
        "{PREFIX}{integration}:{}:{}:{identity}",
        kind.as_str(),
        event.issue.id
    ))
}

/// The integration a Jira delivery id names; `None` for any other id.
pub fn integration_of(delivery_id: &DeliveryId) -> Option<IntegrationName> {
    let rest = delivery_id.as_str().strip_prefix(PREFIX)?;
    let (name, _) = rest.split_once(':')?;
    IntegrationName::parse(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(changelog: &str) -> IssueEvent {
        IssueEvent::parse(
            format!(
                r#"{{"webhookEvent":"jira:issue_updated","timestamp":1481183713759,
                    "issue":{{"id":"10011","key":"TEST-12","fields":{{}}}}{changelog}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn the_changelog_identifies_an_update_and_the_timestamp_anything_else() {
        let acme = IntegrationName::parse("acme").unwrap();
        let with = event(r#","changelog":{"id":"10004","items":[]}"#);
        let id = derive_delivery_id(&acme, JiraEventKind::Updated, &with).unwrap();
        assert_eq!(id.as_str(), "jira:acme:issue_updated:10011:c10004");
        let without = event("");
        let id = derive_delivery_id(&acme, JiraEventKind::Updated, &without).unwrap();
        assert_eq!(id.as_str(), "jira:acme:issue_updated:10011:t1481183713759");
        assert_eq!(integration_of(&id), Some(acme));
        let other = IntegrationName::parse("other").unwrap();
        assert_ne!(
            derive_delivery_id(&other, JiraEventKind::Updated, &with).unwrap(),
            derive_delivery_id(
                &IntegrationName::parse("acme").unwrap(),
                JiraEventKind::Updated,
                &with
            )
            .unwrap()
        );
    }

    #[test]
    fn github_ids_name_no_integration() {
        let github = DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958").unwrap();
        assert_eq!(integration_of(&github), None);
    }
}
