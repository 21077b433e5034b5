//! Putting looked-at letters back: a fresh copy at the tail, confirmed
//! before the original is acked; requeued when that fails.

use lapin::{
    BasicProperties, message::BasicGetMessage, options::BasicPublishOptions, types::FieldTable,
};

use super::{DeadLetter, DeadLetterError, DeadLetterQueue, header};
use crate::settle;

impl DeadLetterQueue {
    /// Puts `held` back as fresh copies (in their order), each original
    /// acked once its copy is confirmed; an original whose copy was not
    /// confirmed is requeued instead.
    pub(super) async fn put_back(&self, held: Vec<BasicGetMessage>) -> Result<(), DeadLetterError> {
        let mut pending = Vec::with_capacity(held.len());
        let mut failure = None;
        for message in held {
            if failure.is_some() {
                pending.push((message, None));
                continue;
            }
            let published = self
                .channel
                .basic_publish(
                    "".into(),
                    self.topology.dead_queue().as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.delivery.data,
                    fresh_copy_properties(&message.delivery.properties),
                )
                .await;
            match published {
                Ok(confirm) => pending.push((message, Some(confirm))),
                Err(error) => {
                    failure = Some(DeadLetterError::Broker(error));
                    pending.push((message, None));
                }
            }
        }
        let mut requeue = Vec::new();
        for (message, confirm) in pending {
            let confirmed = match confirm {
                Some(confirm) => matches!(
                    tokio::time::timeout(self.confirm_timeout, confirm).await,
                    Ok(Ok(lapin::Confirmation::Ack(None)))
                ),
                None => false,
            };
            if confirmed {
                settle::ack(&message.delivery.acker).await?;
            } else {
                if failure.is_none() {
                    failure = Some(DeadLetterError::NotKeptAside(delivery_id_of(&message)));
                }
                requeue.push(message);
            }
        }
        give_back(requeue).await;
        failure.map_or(Ok(()), Err)
    }
}

/// The properties a letter is put back with: as it was, without the
/// broker's delivery count (which counted this queue's redeliveries, not
/// the worker's attempts), so the copy starts uncounted.
fn fresh_copy_properties(properties: &BasicProperties) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(original) = properties.headers() {
        for (key, value) in original {
            if key.as_str() != header::DELIVERY_COUNT {
                headers.insert(key.clone(), value.clone());
            }
        }
    }
    properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2)
}

fn delivery_id_of(message: &BasicGetMessage) -> String {
    DeadLetter::from_message(message).delivery_id
}

/// Requeues what could not be put back as a copy.
async fn give_back(held: Vec<BasicGetMessage>) {
    for message in held {
        // If this fails the channel is gone, and the broker requeues
        // whatever it had handed out anyway.
        let _ = settle::requeue(&message.delivery.acker).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        envelope::header as envelope_header,
        headers::{get_i64, get_str, put_i64, put_str},
    };

    #[test]
    fn a_copy_put_back_starts_uncounted() {
        let mut headers = FieldTable::default();
        put_str(&mut headers, envelope_header::DELIVERY, "abc");
        put_i64(&mut headers, header::ATTEMPTS, 5);
        put_i64(&mut headers, header::DELIVERY_COUNT, 4);
        let copy = fresh_copy_properties(
            &BasicProperties::default()
                .with_headers(headers)
                .with_message_id("abc".into()),
        );
        let headers = copy.headers().as_ref().unwrap();
        assert!(!headers.inner().contains_key(header::DELIVERY_COUNT));
        assert_eq!(get_i64(headers, header::ATTEMPTS), Some(5));
        assert_eq!(get_str(headers, envelope_header::DELIVERY), Some("abc"));
        assert_eq!(
            copy.message_id().as_ref().map(|id| id.as_str()),
            Some("abc")
        );
        assert_eq!(copy.delivery_mode(), &Some(2));
    }
}
