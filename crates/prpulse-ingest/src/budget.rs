//! Bounded memory for bodies nobody has verified yet. Every body reserves
//! its bytes from one global budget (`PRPULSE_BODY_BUDGET_BYTES`) before
//! they are read: its declared `Content-Length` up front, a chunked body
//! as it arrives. What does not fit is answered 503 with `Retry-After`.
//! A body over [`LARGE_UPLOAD_BYTES`] also needs one of its source's
//! `PRPULSE_UPLOADS_PER_SOURCE` upload slots (429 when none is free) and
//! may use at most three quarters of the budget, so one source, or many
//! sending large bodies, can never leave no room for the small deliveries
//! GitHub sends almost all the time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{error::IngestError, source::SourceKey};

/// Bodies above this need an upload slot of their source. GitHub's
/// pull-request and review payloads are tens of kilobytes; a body this
/// large is rare from GitHub and cheap to make for anyone else.
pub const LARGE_UPLOAD_BYTES: usize = 1024 * 1024;

/// How long a refused sender is told to wait: bodies in flight finish or
/// time out within the body timeout, usually much sooner.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct BodySettings {
    /// `PRPULSE_BODY_BUDGET_BYTES`: body bytes held at once, all requests.
    pub budget_bytes: usize,
    /// `PRPULSE_UPLOADS_PER_SOURCE`: large bodies one source may send at once.
    pub uploads_per_source: usize,
}

pub struct BodyBudget {
    capacity: usize,
    all: Arc<Semaphore>,
    large: Arc<Semaphore>,
    uploads_per_source: usize,
    uploads: Arc<Mutex<HashMap<SourceKey, usize>>>,
}

impl BodyBudget {
    pub fn new(settings: &BodySettings) -> Self {
        let budget = settings.budget_bytes.min(Semaphore::MAX_PERMITS);
        Self {
            capacity: budget,
            all: Arc::new(Semaphore::new(budget)),
            large: Arc::new(Semaphore::new(budget / 4 * 3)),
            uploads_per_source: settings.uploads_per_source,
            uploads: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// An empty reservation for one body from `source`.
    pub fn reservation(&self, source: SourceKey) -> Reservation<'_> {
        Reservation {
            budget: self,
            source,
            bytes: 0,
            all: None,
            large: None,
            slot: None,
        }
    }

    /// Body bytes reserved right now, all requests together.
    pub fn in_flight(&self) -> usize {
        self.capacity - self.all.available_permits()
    }
}

/// The budget one body holds; released when dropped.
pub struct Reservation<'a> {
    budget: &'a BodyBudget,
    source: SourceKey,
    bytes: usize,
    all: Option<OwnedSemaphorePermit>,
    large: Option<OwnedSemaphorePermit>,
    slot: Option<UploadSlot>,
}

impl Reservation<'_> {
    /// Grows the reservation to `bytes` in all, or says why it cannot.
    pub fn grow_to(&mut self, bytes: usize) -> Result<(), IngestError> {
        if bytes <= self.bytes {
            return Ok(());
        }
        if bytes > LARGE_UPLOAD_BYTES && self.slot.is_none() {
            self.slot = Some(self.take_slot()?);
        }
        let more = permits(bytes - self.bytes)?;
        let all = self
            .budget
            .all
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| exhausted())?;
        if bytes > LARGE_UPLOAD_BYTES {
            // Once large, every byte of the body counts against the large share.
            let large_more = permits(bytes - self.large_bytes())?;
            let large = self
                .budget
                .large
                .clone()
                .try_acquire_many_owned(large_more)
                .map_err(|_| exhausted())?;
            merge(&mut self.large, large);
        }
        merge(&mut self.all, all);
        self.bytes = bytes;
        Ok(())
    }

    fn large_bytes(&self) -> usize {
        self.large
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }

    fn take_slot(&self) -> Result<UploadSlot, IngestError> {
        let mut uploads = lock(&self.budget.uploads);
        let busy = uploads.entry(self.source).or_insert(0);
        if *busy >= self.budget.uploads_per_source {
            return Err(IngestError::SourceUploadsBusy {
                retry_after: RETRY_AFTER,
            });
        }
        *busy += 1;
        Ok(UploadSlot {
            uploads: self.budget.uploads.clone(),
            source: self.source,
        })
    }
}

struct UploadSlot {
    uploads: Arc<Mutex<HashMap<SourceKey, usize>>>,
    source: SourceKey,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut uploads = lock(&self.uploads);
        if let Some(busy) = uploads.get_mut(&self.source) {
            *busy -= 1;
            if *busy == 0 {
                uploads.remove(&self.source);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn merge(held: &mut Option<OwnedSemaphorePermit>, more: OwnedSemaphorePermit) {
    match held {
        Some(held) => held.merge(more),
        None => *held = Some(more),
    }
}

fn permits(bytes: usize) -> Result<u32, IngestError> {
    u32::try_from(bytes).map_err(|_| exhausted())
}

fn exhausted() -> IngestError {
    IngestError::BodyBudgetExhausted {
        retry_after: RETRY_AFTER,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{
        ResponseError,
        http::{StatusCode, header::RETRY_AFTER as RETRY_AFTER_HEADER},
    };

    use super::*;
    use crate::source::Source;

    const MIB: usize = 1024 * 1024;

    fn budget(budget_bytes: usize, uploads_per_source: usize) -> BodyBudget {
        BodyBudget::new(&BodySettings {
            budget_bytes,
            uploads_per_source,
        })
    }

    fn source(text: &str) -> SourceKey {
        Source::of(text.parse().unwrap()).key
    }

    #[test]
    fn what_does_not_fit_the_budget_is_503_with_retry_after_and_is_given_back() {
        let budget = budget(4 * MIB, 8);
        let mut first = budget.reservation(source("203.0.113.1"));
        first.grow_to(MIB).unwrap();
        let mut second = budget.reservation(source("203.0.113.2"));
        second.grow_to(MIB).unwrap();
        assert_eq!(budget.in_flight(), 2 * MIB);
        // 3/4 of 4 MiB may be large: a 2.5 MiB body does not fit beside
        // two small ones, although 2 MiB are free in all.
        let mut large = budget.reservation(source("203.0.113.3"));
        let refused = large.grow_to(2 * MIB + MIB / 2).unwrap_err();
        assert!(matches!(refused, IngestError::BodyBudgetExhausted { .. }));
        assert_eq!(refused.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            refused
                .error_response()
                .headers()
                .contains_key(RETRY_AFTER_HEADER)
        );
        assert_eq!(budget.in_flight(), 2 * MIB, "a refusal holds nothing");
        drop(first);
        drop(second);
        assert_eq!(budget.in_flight(), 0);
        large.grow_to(3 * MIB).unwrap();
        assert!(
            budget
                .reservation(source("203.0.113.4"))
                .grow_to(MIB + 1)
                .is_err(),
            "the large share is spent"
        );
        let mut small = budget.reservation(source("203.0.113.4"));
        small.grow_to(MIB).unwrap();
        assert_eq!(budget.in_flight(), 4 * MIB);
    }

    #[test]
    fn a_source_may_send_only_so_many_large_bodies_at_once() {
        let budget = budget(64 * MIB, 2);
        let flooder = source("203.0.113.9");
        let mut held: Vec<_> = (0..2)
            .map(|_| {
                let mut upload = budget.reservation(flooder);
                upload.grow_to(2 * MIB).unwrap();
                upload
            })
            .collect();
        let refused = budget.reservation(flooder).grow_to(2 * MIB).unwrap_err();
        assert!(matches!(refused, IngestError::SourceUploadsBusy { .. }));
        assert_eq!(refused.status_code(), StatusCode::TOO_MANY_REQUESTS);
        // Small bodies from the same source, and large ones from others, go on.
        budget.reservation(flooder).grow_to(64 * 1024).unwrap();
        budget
            .reservation(source("203.0.113.10"))
            .grow_to(2 * MIB)
            .unwrap();
        held.pop();
        budget.reservation(flooder).grow_to(2 * MIB).unwrap();
        drop(held);
        assert!(lock(&budget.uploads).is_empty(), "slots are given back");
    }
}
