//! The vocabulary of prpulse: what a delivery is, which events it handles,
//! who counts as a bot, and the pure rules that turn pull-request facts
//! into metrics. No I/O lives here.

pub mod action;
pub mod bots;
pub mod calendar;
pub mod delivery;
pub mod dora;
pub mod encoding;
pub mod event;
pub mod metrics;
pub mod repo;
pub mod rollup;

pub use action::{IssueAction, MembershipAction, PullRequestAction, ReviewAction, TeamAction};
pub use bots::BotPolicy;
pub use calendar::{CalendarError, DailyHours, WorkingCalendar, WorkingDays};
pub use delivery::{DeliveryId, DeliveryIdError};
pub use encoding::{EncodingError, PayloadEncoding};
pub use event::{EventDisposition, EventName, EventNameError};
pub use metrics::{
    GHOST_USER_ID, PrMetrics, PullRequestFacts, ReviewFact, ReviewState, compute_metrics,
};
pub use repo::{RepoFullName, RepoFullNameError};
