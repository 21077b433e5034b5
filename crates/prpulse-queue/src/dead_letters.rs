//! What operators do with the dead-letter queue: look at it, replay what
//! they fixed through the normal path, purge it.
//!
//! Listing takes messages with `basic.get` and puts each back as a fresh
//! copy at the tail of the queue, confirmed before the original is acked.
//! Handing them back with a requeueing nack would count as a failed
//! delivery: RabbitMQ 4.x gives every quorum queue a delivery limit of 20
//! unless told otherwise, and the dead-letter queue has nowhere to
//! dead-letter to, so the 21st look would drop every letter. Setting the
//! limit on the queue instead is not possible in place: `x-delivery-limit`
//! is checked on redeclaration, and every running service would fail to
//! declare a queue that has one.
//!
//! A listing of the whole queue leaves it in its order; one with a
//! `limit` below the queue's length moves the letters it looked at behind
//! the others, so repeated listings page through the queue. A copy that
//! cannot be confirmed leaves its original to be requeued (counted, but
//! never lost); a lost ack after a confirmed copy leaves a duplicate,
//! which a replay applies once (the worker is idempotent by delivery id).

mod letter;
mod put_back;
mod queue;

pub use letter::{DeadLetter, header};
pub use queue::{DeadLetterError, DeadLetterQueue};
