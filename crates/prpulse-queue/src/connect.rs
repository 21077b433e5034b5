use std::time::Duration;

use lapin::{
    Channel, Connection, ConnectionProperties, Consumer,
    options::{BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
};
use rand::Rng;
use tracing::warn;

use crate::Topology;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("RabbitMQ did not answer within {0:?}")]
    Timeout(Duration),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    /// Every node of a comma-separated `PRPULSE_AMQP_URL` failed; names
    /// them without their credentials.
    #[error("no RabbitMQ node answered (tried {tried}); the last one: {last}")]
    EveryNode {
        tried: String,
        last: Box<ConnectError>,
    },
    #[error("PRPULSE_AMQP_URL names no broker")]
    NoNode,
}

/// The nodes of `PRPULSE_AMQP_URL`: one URL (a single broker or a load
/// balancer in front of a cluster) or several comma-separated ones, the
/// nodes of one cluster. Each connection attempt starts at a random node
/// and goes round the others in turn, so clients spread over the cluster
/// and a lost node costs one reconnect.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerNodes(Vec<String>);

impl BrokerNodes {
    pub fn parse(urls: &str) -> Self {
        Self(
            urls.split(',')
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The URLs in the order one attempt tries them, from `start`.
    fn in_turn_from(&self, start: usize) -> impl Iterator<Item = &str> {
        let count = self.0.len();
        (0..count).map(move |offset| self.0[(start + offset) % count].as_str())
    }

    fn random_start(&self) -> usize {
        match self.0.len() {
            0 | 1 => 0,
            count => rand::rng().random_range(0..count),
        }
    }
}

/// Shows the nodes without their credentials: URLs carry passwords.
impl std::fmt::Debug for BrokerNodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|url| node_name(url)))
            .finish()
    }
}

/// `host:port` of an AMQP URL, never its user or password.
pub fn node_name(url: &str) -> String {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host.to_owned()
    }
}

/// Opens a connection and one channel with the topology declared, each
/// node within `timeout` so an unreachable one costs a bounded wait.
/// `urls` is `PRPULSE_AMQP_URL`: one URL or several, comma-separated.
pub async fn open(
    urls: &str,
    connection_name: &str,
    topology: &Topology,
    timeout: Duration,
) -> Result<(Connection, Channel), ConnectError> {
    let nodes = BrokerNodes::parse(urls);
    in_turn(&nodes, nodes.random_start(), |url| async move {
        bounded(timeout, async {
            let (connection, channel) = connect(&url, connection_name).await?;
            topology.declare(&channel).await?;
            Ok((connection, channel))
        })
        .await
    })
    .await
}

/// Opens a connection and one channel without declaring anything: for
/// tools that must not change the topology the services declared.
pub async fn open_undeclared(
    urls: &str,
    connection_name: &str,
    timeout: Duration,
) -> Result<(Connection, Channel), ConnectError> {
    let nodes = BrokerNodes::parse(urls);
    in_turn(&nodes, nodes.random_start(), |url| async move {
        bounded(timeout, connect(&url, connection_name)).await
    })
    .await
}

/// Tries `attempt` on each node from `start` until one succeeds. With one
/// node its error is returned as it is, as before clusters were known.
async fn in_turn<T, Attempt>(
    nodes: &BrokerNodes,
    start: usize,
    attempt: impl Fn(String) -> Attempt,
) -> Result<T, ConnectError>
where
    Attempt: Future<Output = Result<T, ConnectError>>,
{
    let mut last = None;
    for url in nodes.in_turn_from(start) {
        match attempt(url.to_owned()).await {
            Ok(opened) => return Ok(opened),
            Err(error) => {
                if nodes.0.len() > 1 {
                    warn!(node = %node_name(url), %error, "RabbitMQ node unavailable; trying the next");
                }
                last = Some(error);
            }
        }
    }
    match (last, nodes.0.len()) {
        (None, _) => Err(ConnectError::NoNode),
        (Some(error), 1) => Err(error),
        (Some(error), _) => Err(ConnectError::EveryNode {
            tried: nodes
                .0
                .iter()
                .map(|url| node_name(url))
                .collect::<Vec<_>>()
                .join(", "),
            last: Box::new(error),
        }),
    }
}

/// Sets the prefetch and starts a consumer on `queue`, within `timeout`:
/// a link that dies during the exchange can leave lapin waiting on a reply
/// that never comes, and the caller must get back to reconnecting.
pub async fn consume(
    channel: &Channel,
    queue: &str,
    consumer_tag: &str,
    prefetch: u16,
    timeout: Duration,
) -> Result<Consumer, ConnectError> {
    bounded(timeout, async {
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        channel
            .basic_consume(
                queue.into(),
                consumer_tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
    })
    .await
}

async fn connect(url: &str, connection_name: &str) -> Result<(Connection, Channel), lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(connection_name.into());
    let connection = Connection::connect(url, properties).await?;
    let channel = connection.create_channel().await?;
    Ok((connection, channel))
}

async fn bounded<T>(
    timeout: Duration,
    attempt: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, ConnectError> {
    Ok(tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??)
}

/// True while both the connection and the channel can be used.
pub fn is_open(connection: &Connection, channel: &Channel) -> bool {
    connection.status().connected() && channel.status().connected()
}

/// Closes the channel, then its connection. Closing the connection alone
/// leaves lapin to fail the channel's own close, which it logs as a
/// connection error on every clean shutdown. Bounded, so a broker that
/// stopped answering cannot hold up shutdown.
pub async fn close(connection: Connection, channel: Channel, reason: &str) {
    let closing = async {
        if channel.status().connected() {
            let _ = channel.close(200, reason.into()).await;
        }
        let _ = connection.close(200, reason.into()).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
}

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, sync::Mutex};

    use super::*;

    const CLUSTER: &str = "amqp://prpulse:s3cret@rabbit-0:5672/%2f, amqp://prpulse:s3cret@rabbit-1:5672/%2f,amqp://prpulse:s3cret@rabbit-2/%2f";

    #[test]
    fn one_url_is_one_node_and_a_list_is_split_and_trimmed() {
        let single = BrokerNodes::parse("amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(single.0, ["amqp://guest:guest@127.0.0.1:5672/%2f"]);
        assert_eq!(single.random_start(), 0);
        let cluster = BrokerNodes::parse(CLUSTER);
        assert_eq!(
            cluster.0,
            [
                "amqp://prpulse:s3cret@rabbit-0:5672/%2f",
                "amqp://prpulse:s3cret@rabbit-1:5672/%2f",
                "amqp://prpulse:s3cret@rabbit-2/%2f"
            ]
        );
        assert!(BrokerNodes::parse(" , ").0.is_empty());
    }

    #[test]
    fn node_names_never_carry_credentials() {
        assert_eq!(
            node_name("amqps://prpulse:s3cret@rabbit-0.example.com:5671/prod?heartbeat=10"),
            "rabbit-0.example.com:5671"
        );
        assert_eq!(node_name("amqp://rabbit-1"), "rabbit-1");
        assert_eq!(node_name("amqp://u:p@w@rd@rabbit-2:5672"), "rabbit-2:5672");
        let shown = format!("{:?}", BrokerNodes::parse(CLUSTER));
        assert_eq!(shown, r#"["rabbit-0:5672", "rabbit-1:5672", "rabbit-2"]"#);
    }

    #[test]
    fn an_attempt_goes_round_every_node_from_its_start() {
        let nodes = BrokerNodes::parse("amqp://a,amqp://b,amqp://c");
        let order: Vec<&str> = nodes.in_turn_from(1).collect();
        assert_eq!(order, ["amqp://b", "amqp://c", "amqp://a"]);
        let order: Vec<&str> = nodes.in_turn_from(2).collect();
        assert_eq!(order, ["amqp://c", "amqp://a", "amqp://b"]);
    }

    #[test]
    fn the_starting_node_is_random() {
        let nodes = BrokerNodes::parse(CLUSTER);
        let starts: HashSet<usize> = (0..300).map(|_| nodes.random_start()).collect();
        assert_eq!(starts, HashSet::from([0, 1, 2]));
    }

    #[tokio::test]
    async fn a_lost_node_costs_one_try_of_the_next() {
        let nodes = BrokerNodes::parse(CLUSTER);
        let tried = Mutex::new(Vec::new());
        let tried = &tried;
        let opened = in_turn(&nodes, 0, |url| async move {
            tried.lock().unwrap().push(node_name(&url));
            if url.contains("rabbit-0") {
                Err(ConnectError::Timeout(Duration::from_secs(3)))
            } else {
                Ok(node_name(&url))
            }
        })
        .await
        .unwrap();
        assert_eq!(opened, "rabbit-1:5672");
        assert_eq!(*tried.lock().unwrap(), ["rabbit-0:5672", "rabbit-1:5672"]);
    }

    #[tokio::test]
    async fn every_node_failing_names_them_without_credentials() {
        let nodes = BrokerNodes::parse(CLUSTER);
        let error = in_turn(&nodes, 1, |_| async {
            Err::<(), _>(ConnectError::Timeout(Duration::from_secs(3)))
        })
        .await
        .unwrap_err();
        let message = error.to_string();
        assert_eq!(
            message,
            "no RabbitMQ node answered (tried rabbit-0:5672, rabbit-1:5672, rabbit-2); \
             the last one: RabbitMQ did not answer within 3s"
        );
        assert!(!message.contains("s3cret"));
    }

    #[tokio::test]
    async fn a_single_url_fails_as_it_always_did() {
        let nodes = BrokerNodes::parse("amqp://guest:guest@127.0.0.1:1/%2f");
        let error = in_turn(&nodes, 0, |_| async {
            Err::<(), _>(ConnectError::Timeout(Duration::from_secs(3)))
        })
        .await
        .unwrap_err();
        assert!(matches!(error, ConnectError::Timeout(_)), "{error}");
        let none = in_turn(&BrokerNodes::parse(""), 0, |_| async { Ok(()) })
            .await
            .unwrap_err();
        assert!(matches!(none, ConnectError::NoNode), "{none}");
    }

    /// Against the machine's RabbitMQ: a closed port listed first is
    /// skipped and the broker behind it connected.
    #[tokio::test]
    async fn a_closed_node_is_skipped_for_a_live_one() {
        let live = std::env::var("PRPULSE_TEST_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_url = format!("amqp://guest:guest@{}/%2f", closed.local_addr().unwrap());
        drop(closed);
        for _ in 0..5 {
            let (connection, channel) = open_undeclared(
                &format!("{closed_url},{live}"),
                "prpulse-queue-test",
                Duration::from_secs(3),
            )
            .await
            .unwrap();
            assert!(is_open(&connection, &channel));
            close(connection, channel, "done").await;
        }
    }
}
