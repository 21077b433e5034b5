//! A Jira issue webhook body, reduced to what prpulse projects. Traps the
//! real payloads show (`../shared/fixtures/jira/README.md`): ids and
//! changelog ids are JSON strings; Server changelog items have no
//! `fieldId` and Cloud ones do, with `Status` on a create and `status`
//! after; times carry offsets without a colon (`-0800`); people are
//! `name`/`key` on Server and `accountId` on Cloud; an assignee may be null
//! in `fields` and in the changelog.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The issue events prpulse subscribes to; the others are answered 204.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JiraEventKind {
    Created,
    Updated,
    Deleted,
}

impl JiraEventKind {
    /// The events a webhook prpulse registers subscribes to.
    pub const SUBSCRIBED: [&'static str; 3] = [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
    ];

    pub fn parse(webhook_event: &str) -> Option<Self> {
        match webhook_event {
            "jira:issue_created" => Some(Self::Created),
            "jira:issue_updated" => Some(Self::Updated),
            "jira:issue_deleted" => Some(Self::Deleted),
            _ => None,
        }
    }

    /// The routing-key word: `jira.<this>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "issue_created",
            Self::Updated => "issue_updated",
            Self::Deleted => "issue_deleted",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("not a Jira webhook body: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("{0} is missing or not usable")]
    Field(&'static str),
}

/// What one issue delivery says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueEvent {
    /// `None` for events prpulse does not project (answered 204).
    pub kind: Option<JiraEventKind>,
    /// The raw `webhookEvent`.
    pub webhook_event: String,
    /// Jira's `timestamp`: when the event happened (epoch milliseconds).
    pub at: DateTime<Utc>,
    pub at_millis: i64,
    pub issue: IssueSnapshot,
    pub changelog_id: Option<i64>,
    /// Status and assignee changes from `changelog.items`, in their order.
    pub changes: Vec<Change>,
}

/// The issue as the delivery shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueSnapshot {
    pub id: i64,
    pub key: String,
    pub project_key: String,
    pub issue_type: Option<String>,
    pub summary: Option<String>,
    pub status_id: Option<String>,
    pub status: Option<String>,
    /// `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    /// `accountId` on Cloud, else `name`, else `key`.
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeField {
    Status,
    Assignee,
}

impl ChangeField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Assignee => "assignee",
        }
    }

    /// `fieldId` when the item has one (Cloud), else the lower-cased
    /// `field` (Server, and Cloud's `Status` on a create).
    fn of(item: &RawItem) -> Option<Self> {
        let name = item
            .field_id
            .clone()
            .or_else(|| item.field.as_ref().map(|field| field.to_lowercase()))?;
        match name.as_str() {
            "status" => Some(Self::Status),
            "assignee" => Some(Self::Assignee),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: ChangeField,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Option<String>,
    pub to_name: Option<String>,
    /// The target status's category, when the snapshot shows that status.
    pub to_category: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    webhook_event: String,
    timestamp: Option<i64>,
    issue: Option<RawIssue>,
    changelog: Option<RawChangelog>,
}

#[derive(Deserialize)]
struct RawIssue {
    id: Value,
    key: String,
    #[serde(default)]
    fields: RawFields,
}

#[derive(Default, Deserialize)]
struct RawFields {
    project: Option<Named>,
    issuetype: Option<Named>,
    summary: Option<String>,
    status: Option<RawStatus>,
    assignee: Option<RawUser>,
    created: Option<String>,
    resolutiondate: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    key: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    id: Option<Value>,
    name: Option<String>,
    status_category: Option<Named>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUser {
    account_id: Option<String>,
    name: Option<String>,
    key: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct RawChangelog {
    id: Option<Value>,
    #[serde(default)]
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    field: Option<String>,
    field_id: Option<String>,
    from: Option<Value>,
    from_string: Option<String>,
    to: Option<Value>,
    to_string: Option<String>,
}

/// Jira writes ids as strings (`"10004"`); numbers are accepted too.
fn id_of(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Jira's `2019-02-15T19:01:52.971-0800` (no colon in the offset), or RFC 3339.
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(raw))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

impl IssueEvent {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        let raw: Raw = serde_json::from_slice(body)?;
        let at_millis = raw.timestamp.ok_or(PayloadError::Field("timestamp"))?;
        let at = Utc
            .timestamp_millis_opt(at_millis)
            .single()
            .ok_or(PayloadError::Field("timestamp"))?;
        let issue = raw.issue.ok_or(PayloadError::Field("issue"))?;
        let id = id_of(&issue.id).ok_or(PayloadError::Field("issue.id"))?;
        let fields = issue.fields;
        let project_key = fields
            .project
            .as_ref()
            .and_then(|project| project.key.clone())
            .or_else(|| {
                issue
                    .key
                    .rsplit_once('-')
                    .map(|(project, _)| project.to_owned())
            })
            .ok_or(PayloadError::Field("issue.fields.project.key"))?;
        let status_id = fields.status.as_ref().and_then(|s| text_of(s.id.as_ref()));
        let status_category = fields
            .status
            .as_ref()
            .and_then(|s| s.status_category.as_ref())
            .and_then(|category| category.key.clone());
        let snapshot = IssueSnapshot {
            id,
            key: issue.key,
            project_key,
            issue_type: fields.issuetype.and_then(|kind| kind.name),
            summary: fields.summary,
            status: fields.status.as_ref().and_then(|s| s.name.clone()),
            status_id: status_id.clone(),
            status_category: status_category.clone(),
            assignee: fields.assignee.as_ref().and_then(|user| {
                user.account_id
                    .clone()
                    .or_else(|| user.name.clone())
                    .or_else(|| user.key.clone())
            }),
            assignee_name: fields.assignee.and_then(|user| user.display_name),
            created_at: fields.created.as_deref().and_then(parse_time),
            resolved_at: fields.resolutiondate.as_deref().and_then(parse_time),
        };
        let (changelog_id, changes) = match raw.changelog {
            None => (None, Vec::new()),
            Some(changelog) => {
                let changelog_id = match &changelog.id {
                    None | Some(Value::Null) => None,
                    Some(value) => Some(id_of(value).ok_or(PayloadError::Field("changelog.id"))?),
                };
                let changes = changelog
                    .items
                    .iter()
                    .filter_map(|item| {
                        let field = ChangeField::of(item)?;
                        let to = text_of(item.to.as_ref());
                        let to_category =
                            (field == ChangeField::Status && to.is_some() && to == status_id)
                                .then(|| status_category.clone())
                                .flatten();
                        Some(Change {
                            field,
                            from: text_of(item.from.as_ref()),
                            from_name: item.from_string.clone(),
                            to,
                            to_name: item.to_string.clone(),
                            to_category,
                        })
                    })
                    .collect();
                (changelog_id, changes)
            }
        };
        Ok(Self {
            kind: JiraEventKind::parse(&raw.webhook_event),
            webhook_event: raw.webhook_event,
            at,
            at_millis,
            issue: snapshot,
            changelog_id,
            changes,
        })
    }
}

/// Just enough of a body to know whether ingest enqueues it, before the
/// whole parse (which the worker does).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOnly {
    pub webhook_event: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_status_change_with_resolution_in_either_order() {
        for items in [
            r#"[{"field":"status","from":"3","fromString":"In Progress","to":"5","toString":"Resolved"},
                {"field":"resolution","from":null,"to":"10000"}]"#,
            r#"[{"field":"resolution","from":null,"to":"10000"},
                {"field":"status","from":"3","fromString":"In Progress","to":"5","toString":"Resolved"}]"#,
        ] {
            let body = format!(
                r#"{{"webhookEvent":"jira:issue_updated","timestamp":1565652182025,
                    "issue":{{"id":"10300","key":"TES-4","fields":{{
                        "project":{{"key":"TES"}},
                        "status":{{"id":"5","name":"Resolved","statusCategory":{{"key":"done"}}}},
                        "assignee":null,
                        "created":"2019-08-13T06:14:23.580+0800",
                        "resolutiondate":"2019-08-13T07:23:01.890+0800"}}}},
                    "changelog":{{"id":"10414","items":{items}}}}}"#
            );
            let event = IssueEvent::parse(body.as_bytes()).unwrap();
            assert_eq!(event.kind, Some(JiraEventKind::Updated));
            assert_eq!(event.changelog_id, Some(10414));
            assert_eq!(event.issue.id, 10300);
            assert_eq!(event.issue.assignee, None);
            assert_eq!(
                event.issue.created_at.unwrap().to_rfc3339(),
                "2019-08-12T22:14:23.580+00:00"
            );
            assert_eq!(event.changes.len(), 1);
            assert_eq!(event.changes[0].field, ChangeField::Status);
            assert_eq!(event.changes[0].to.as_deref(), Some("5"));
            assert_eq!(event.changes[0].to_category.as_deref(), Some("done"));
        }
    }

    #[test]
    fn cloud_field_ids_win_and_a_capital_status_on_create_counts() {
        let body = br#"{"webhookEvent":"jira:issue_created","timestamp":1550286113023,
            "issue":{"id":"10040","key":"TES-41","fields":{"project":{"key":"TES"},
              "assignee":{"accountId":"5c5f","name":"admin","displayName":"Test User"}}},
            "changelog":{"id":"10222","items":[
              {"field":"Status","fieldId":"status","from":null,"to":"10001","toString":"To Do"},
              {"field":"Assignee","fieldId":"description","to":null},
              {"field":"Reporter","fieldId":"reporter","to":"admin"}]}}"#;
        let event = IssueEvent::parse(body).unwrap();
        assert_eq!(event.issue.assignee.as_deref(), Some("5c5f"));
        assert_eq!(event.changes.len(), 1);
        assert_eq!(event.changes[0].field, ChangeField::Status);
        assert_eq!(
            event.changes[0].to_category, None,
            "the snapshot has no status"
        );
    }

    #[test]
    fn bodies_without_what_identifies_them_are_refused() {
        assert!(IssueEvent::parse(br#"{"webhookEvent":"jira:issue_created"}"#).is_err());
        assert!(
            IssueEvent::parse(
                br#"{"webhookEvent":"x","timestamp":1,"issue":{"id":"n","key":"A-1"}}"#
            )
            .is_err()
        );
        assert!(IssueEvent::parse(b"[]").is_err());
        let other = IssueEvent::parse(
            br#"{"webhookEvent":"comment_created","timestamp":1,"issue":{"id":1,"key":"AB-1"}}"#,
        )
        .unwrap();
        assert_eq!(other.kind, None);
        assert_eq!(other.issue.project_key, "AB");
    }
}
