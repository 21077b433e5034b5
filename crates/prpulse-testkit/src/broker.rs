use prpulse_queue::{
    Topology,
    lapin::{
        BasicProperties, Confirmation, Connection, ConnectionProperties,
        options::{
            BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
            QueueDeclareOptions, QueueDeleteOptions,
        },
        types::FieldTable,
    },
};

pub fn amqp_url() -> String {
    std::env::var("PRPULSE_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub async fn connect() -> Connection {
    connect_to(&amqp_url()).await
}

/// Connects to the broker at `url`, or to the first node of a
/// comma-separated list that answers (a cluster some of whose nodes a
/// test has stopped).
pub async fn connect_to(url: &str) -> Connection {
    let mut failures = Vec::new();
    for node in url.split(',') {
        match Connection::connect(node, ConnectionProperties::default()).await {
            Ok(connection) => return connection,
            Err(error) => failures.push(format!("{node}: {error}")),
        }
    }
    panic!(
        "cannot reach RabbitMQ at {}  (scripts/test starts it)",
        failures.join("; ")
    )
}

/// Ready messages in `queue` (not counting those a consumer holds unacked).
pub async fn ready_messages(queue: &str) -> u32 {
    ready_messages_at(&amqp_url(), queue).await
}

/// Ready messages in `queue` on the broker at `url`.
pub async fn ready_messages_at(url: &str, queue: &str) -> u32 {
    let channel = connect_to(url).await.create_channel().await.unwrap();
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count()
}

/// Takes one message off `queue`, acking it; `None` if it is empty.
pub async fn take_one(queue: &str) -> Option<prpulse_queue::lapin::message::BasicGetMessage> {
    let connection = connect().await;
    let channel = connection.create_channel().await.unwrap();
    let message = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap();
    let _ = connection.close(200, "done".into()).await;
    message
}

/// The JSON a message's body stands for, decoded as its
/// `payload-encoding` header says (ingest compresses with lz4).
pub fn decoded_body(delivery: &prpulse_queue::lapin::message::Delivery) -> Vec<u8> {
    let encoding = prpulse_queue::envelope::payload_encoding(&delivery.properties)
        .expect("a known payload encoding");
    encoding
        .decode(&delivery.data, 64 << 20)
        .expect("a body that decodes")
        .into_owned()
}

/// Publishes each message to `exchange` with `routing_key`, mandatory, and
/// waits for the broker to confirm each as routed.
pub async fn publish_confirmed(
    exchange: &str,
    routing_key: &str,
    messages: impl IntoIterator<Item = (Vec<u8>, BasicProperties)>,
) {
    let connection = connect().await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for (body, properties) in messages {
        let confirmation = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            matches!(confirmation, Confirmation::Ack(None)),
            "{exchange} {routing_key}: not routed and confirmed: {confirmation:?}"
        );
    }
    let _ = connection.close(200, "done".into()).await;
}

/// Deletes a test's exchanges and queues.
pub async fn delete_topology(topology: &Topology) {
    delete_topology_at(&amqp_url(), topology).await;
}

/// Deletes a topology's exchanges and queues on the broker at `url`.
pub async fn delete_topology_at(url: &str, topology: &Topology) {
    let connection = connect_to(url).await;
    let channel = connection.create_channel().await.unwrap();
    for queue in topology.queues() {
        let _ = channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }
    for exchange in topology.exchanges() {
        let _ = channel
            .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
}
