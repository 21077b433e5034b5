use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};

use crate::Topology;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("RabbitMQ did not answer within {0:?}")]
    Timeout(Duration),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
}

/// Opens a connection and one channel with the topology declared, all
/// within `timeout` so an unreachable broker costs a bounded wait.
pub async fn open(
    url: &str,
    connection_name: &str,
    topology: &Topology,
    timeout: Duration,
) -> Result<(Connection, Channel), ConnectError> {
    bounded(timeout, async {
        let (connection, channel) = connect(url, connection_name).await?;
        topology.declare(&channel).await?;
        Ok((connection, channel))
    })
    .await
}

/// Opens a connection and one channel without declaring anything: for
/// tools that must not change the topology the services declared.
pub async fn open_undeclared(
    url: &str,
    connection_name: &str,
    timeout: Duration,
) -> Result<(Connection, Channel), ConnectError> {
    bounded(timeout, connect(url, connection_name)).await
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
