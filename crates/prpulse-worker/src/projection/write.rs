//! A projection's writes: the kinds applied one delivery at a time (teams,
//! memberships, Jira, DORA), a delivery's facts for a rebuild, and the rows
//! kept beside pull requests (`Links`).

use prpulse_domain::{DeliveryId, MembershipAction, TeamAction};
use prpulse_github::payload::{Organization, Team};
use prpulse_store::{
    GenericClient, StoreError,
    dora::{MergeRow, upsert_merges},
    jira::{MentionRow, record_mentions},
    projection::{upsert_pull_request, upsert_review},
    teams::{add_member, mark_team_deleted, remove_member, upsert_team},
};

use super::Projection;

impl Projection {
    /// The kinds applied per delivery rather than set-based (rare, or with
    /// tables of their own): writes what such a delivery changes, after the
    /// entities. A new kind (a DORA deployment, a Jira issue) gets its arm
    /// here; pull requests and reviews go through [`Self::rows`] instead.
    pub async fn apply_alone(
        &self,
        client: &impl GenericClient,
        delivery_id: &DeliveryId,
    ) -> Result<(), StoreError> {
        match self {
            Self::RawOnly | Self::PullRequest(_) | Self::Review(_) => Ok(()),
            Self::Jira(event) => crate::jira::apply(client, event, delivery_id).await,
            Self::Dora(event) => event.apply(client, delivery_id).await,
            // Membership events carry no time, so the last applied wins; the
            // scheduler's periodic team listing corrects any misordering.
            Self::Team(event) => {
                let team = &event.team;
                record_team(client, team, &event.organization).await?;
                if TeamAction::parse(&event.action) == TeamAction::Deleted {
                    mark_team_deleted(client, team.id).await?;
                }
                Ok(())
            }
            Self::Membership(event) => {
                let team = &event.team;
                if record_team(client, team, &event.organization).await? {
                    return Ok(());
                }
                match MembershipAction::parse(&event.action) {
                    MembershipAction::Added => add_member(client, team.id, event.member.id).await,
                    MembershipAction::Removed => {
                        remove_member(client, team.id, event.member.id).await
                    }
                    MembershipAction::Other(_) => Ok(()),
                }
            }
        }
    }

    /// Writes everything but [`Self::entities`] and the metrics, for one
    /// delivery: how a rebuild re-applies every delivery of a pull request
    /// and then recomputes once. The entities must be upserted first.
    pub async fn apply_facts_only(
        &self,
        client: &impl GenericClient,
        delivery_id: &DeliveryId,
    ) -> Result<(), StoreError> {
        self.apply_alone(client, delivery_id).await?;
        if let Some((pull_request, review)) = self.rows(delivery_id) {
            upsert_pull_request(client, &pull_request).await?;
            if let Some(review) = review {
                upsert_review(client, &review).await?;
            }
        }
        let mut links = Links::default();
        links.add(self, delivery_id);
        links.write(client).await
    }
}

/// The rows kept beside pull requests, as of each payload: the Jira issue
/// keys its title, head branch and body name, and its merge commit (DORA),
/// gathered over a batch and written with one statement per table. Written
/// after the pull requests' rows are locked, so these rows follow the same
/// global lock order.
#[derive(Default)]
pub struct Links<'a> {
    mentions: Vec<MentionRow<'a>>,
    merges: Vec<MergeRow<'a>>,
}

impl<'a> Links<'a> {
    pub fn add(&mut self, projection: &'a Projection, delivery_id: &'a DeliveryId) {
        if let Projection::PullRequest(event) = projection {
            let number = i32::try_from(event.pull_request.number)
                .expect("check_ranges refused numbers out of range");
            self.mentions
                .push(crate::jira::mention_row(event, number, delivery_id));
            self.merges.extend(crate::dora::merge_row(event, number));
        }
    }

    pub async fn write(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        record_mentions(client, &self.mentions).await?;
        upsert_merges(client, &self.merges).await
    }
}

/// Upserts the team as the payload shows it; true if it is deleted.
async fn record_team(
    client: &impl GenericClient,
    team: &Team,
    organization: &Organization,
) -> Result<bool, StoreError> {
    upsert_team(
        client,
        team.id,
        &organization.login,
        team.slug.as_deref(),
        &team.name,
    )
    .await?;
    let deleted = team.deleted == Some(true);
    if deleted {
        mark_team_deleted(client, team.id).await?;
    }
    Ok(deleted)
}
