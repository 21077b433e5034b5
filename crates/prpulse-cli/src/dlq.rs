use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Subcommand};
use prpulse_queue::{
    dead_letters::{DeadLetter, DeadLetterQueue},
    lapin::types::AMQPValue,
};
use prpulse_runtime::ServiceConfig;
use secrecy::ExposeSecret;

use crate::table;

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// A table of dead letters: delivery ID, event, reason, attempts, age.
    List(Limit),
    /// Everything about one dead letter: headers and payload.
    Show {
        delivery_id: String,
        #[command(flatten)]
        limit: Limit,
    },
    /// Send dead letters back through the normal path (exchange → work
    /// queue → worker). Each leaves the DLQ only once the broker confirmed.
    Replay {
        /// Delivery IDs to replay.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        delivery_ids: Vec<String>,
        /// Replay every dead letter.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        limit: Limit,
    },
    /// Drop every dead letter. Asks first.
    Purge {
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct Limit {
    /// Look at no more than this many dead letters.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
}

pub async fn run(command: DlqCommand, service: &ServiceConfig) -> anyhow::Result<()> {
    let queue = DeadLetterQueue::open(
        service.amqp_url.expose_secret(),
        &service.topology,
        service.amqp_connect_timeout,
    )
    .await
    .context("opening the dead-letter queue")?;
    let result = execute(command, &queue, service).await;
    queue.close().await;
    result
}

async fn execute(
    command: DlqCommand,
    queue: &DeadLetterQueue,
    service: &ServiceConfig,
) -> anyhow::Result<()> {
    let dead_queue = service.topology.dead_queue();
    match command {
        DlqCommand::List(Limit { limit }) => {
            let letters = queue.list(limit).await?;
            if letters.is_empty() {
                println!("{dead_queue} is empty");
                return Ok(());
            }
            println!(
                "{}",
                table::render(
                    &["DELIVERY ID", "EVENT", "REASON", "ATTEMPTS", "AGE"],
                    &rows(&letters)
                )
            );
        }
        DlqCommand::Show {
            delivery_id,
            limit: Limit { limit },
        } => {
            let letters = queue.list(limit).await?;
            let Some(letter) = letters.iter().find(|l| l.delivery_id == delivery_id) else {
                bail!("no dead letter with delivery ID {delivery_id} in {dead_queue}");
            };
            print!("{}", describe(letter));
        }
        DlqCommand::Replay {
            delivery_ids,
            all,
            limit: Limit { limit },
        } => {
            let replayed = queue
                .replay(limit, |letter| {
                    all || delivery_ids.contains(&letter.delivery_id)
                })
                .await?;
            for letter in &replayed {
                println!("replayed {} ({})", letter.delivery_id, letter.event);
            }
            let missing: Vec<&String> = delivery_ids
                .iter()
                .filter(|id| !replayed.iter().any(|letter| &&letter.delivery_id == id))
                .collect();
            println!("{} replayed", replayed.len());
            if !missing.is_empty() {
                bail!("not found in {dead_queue}: {missing:?}");
            }
        }
        DlqCommand::Purge { yes } => {
            let count = queue.waiting().await?;
            if count == 0 {
                println!("{dead_queue} is empty");
                return Ok(());
            }
            if !yes && !confirm(&format!("Purge {count} dead letters from {dead_queue}?"))? {
                println!("nothing purged");
                return Ok(());
            }
            println!("purged {}", queue.purge().await?);
        }
    }
    Ok(())
}

fn rows(letters: &[DeadLetter]) -> Vec<Vec<String>> {
    letters
        .iter()
        .map(|letter| {
            let event = match &letter.action {
                Some(action) => format!("{}.{action}", letter.event),
                None => letter.event.clone(),
            };
            vec![
                letter.delivery_id.clone(),
                event,
                shorten(&letter.reason, 70),
                letter.attempts.map_or("-".into(), |a| a.to_string()),
                letter.dead_at.map_or("-".into(), |at| age(Utc::now() - at)),
            ]
        })
        .collect()
}

/// What a dead letter's body may expand to when shown (GitHub's cap is
/// 25 MiB); a corrupt one is shown as its bytes.
const SHOWN_PAYLOAD_LIMIT: usize = 64 * 1024 * 1024;

fn describe(letter: &DeadLetter) -> String {
    let mut out = format!(
        "delivery ID: {}\nevent:       {}\nreason:      {}\nrouting key: {}\nheaders:\n",
        letter.delivery_id, letter.event, letter.reason, letter.routing_key
    );
    if let Some(headers) = letter.properties.headers() {
        for (key, value) in headers {
            out.push_str(&format!("  {key}: {}\n", show_value(value)));
        }
    }
    // Compressed by its publisher (the `payload-encoding` header): shown as
    // the JSON it stands for.
    let decoded = prpulse_queue::envelope::payload_encoding(&letter.properties)
        .ok()
        .and_then(|encoding| encoding.decode(&letter.body, SHOWN_PAYLOAD_LIMIT).ok());
    let raw = decoded.as_deref().unwrap_or(&letter.body);
    let body = serde_json::from_slice::<serde_json::Value>(raw)
        .and_then(|json| serde_json::to_string_pretty(&json))
        .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned());
    out.push_str("payload:\n");
    out.push_str(&body);
    out.push('\n');
    out
}

/// A header value as text, nested ones too: the broker's `x-death` is a
/// list of tables (which queues the message left, why, how often), and
/// their strings would otherwise show as lists of byte values.
fn show_value(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
        AMQPValue::ShortString(text) => text.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::Timestamp(seconds) => {
            chrono::DateTime::from_timestamp(i64::try_from(*seconds).unwrap_or(i64::MAX), 0)
                .map_or_else(|| seconds.to_string(), |at| at.to_rfc3339())
        }
        AMQPValue::FieldArray(items) => {
            let items: Vec<String> = items.as_slice().iter().map(show_value).collect();
            format!("[{}]", items.join(", "))
        }
        AMQPValue::FieldTable(table) => {
            let fields: Vec<String> = table
                .inner()
                .iter()
                .map(|(key, value)| format!("{key}: {}", show_value(value)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}

fn age(elapsed: chrono::TimeDelta) -> String {
    let seconds = elapsed.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// Asks on the terminal; refuses rather than guessing when there is none.
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} Refusing without a terminal to ask on: pass --yes");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_unit() {
        assert_eq!(age(chrono::TimeDelta::seconds(42)), "42s");
        assert_eq!(age(chrono::TimeDelta::seconds(125)), "2m");
        assert_eq!(age(chrono::TimeDelta::hours(5)), "5h");
        assert_eq!(age(chrono::TimeDelta::days(3)), "3d");
    }

    #[test]
    fn the_broker_s_death_records_read_as_text() {
        let mut death = prpulse_queue::lapin::types::FieldTable::default();
        death.insert("queue".into(), AMQPValue::LongString("p.retry.1s".into()));
        death.insert("count".into(), AMQPValue::LongLongInt(2));
        death.insert("time".into(), AMQPValue::Timestamp(1_780_000_000));
        let deaths = AMQPValue::FieldArray(vec![AMQPValue::FieldTable(death)].into());
        assert_eq!(
            show_value(&deaths),
            "[{count: 2, queue: p.retry.1s, time: 2026-05-28T20:26:40+00:00}]"
        );
    }

    #[test]
    fn long_reasons_are_shortened_on_one_line() {
        assert_eq!(shorten("a\nb", 10), "a b");
        assert_eq!(shorten(&"x".repeat(20), 5), "xxxx…");
    }
}
