//! The optional source allow-list (`PRPULSE_SOURCE_ALLOWLIST`, off by
//! default): when on, only sources inside the stored networks (GitHub's
//! published hook ranges, kept by the scheduler or `prpulse sources`) are
//! served. It fails closed: an empty or unreadable list refuses everyone.

use std::{net::IpAddr, sync::RwLock, time::Duration};

use ipnet::IpNet;
use prpulse_store::{Pool, sources::all_networks};
use tracing::{info, warn};

pub struct SourceAllowlist {
    enabled: bool,
    networks: RwLock<Vec<IpNet>>,
}

impl SourceAllowlist {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            networks: RwLock::new(Vec::new()),
        }
    }

    /// A source without an address (a forwarded hop that did not parse)
    /// is never in the list.
    pub fn allows(&self, source: Option<IpAddr>) -> bool {
        !self.enabled
            || source.is_some_and(|source| {
                self.networks
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .iter()
                    .any(|network| network.contains(&source))
            })
    }

    /// Reloads the networks; on failure the last good list stays.
    pub async fn refresh(&self, pool: &Pool) {
        let loaded = async {
            let client = pool.get().await?;
            all_networks(&client).await
        }
        .await;
        let rows = match loaded {
            Ok(rows) => rows,
            Err(error) => {
                warn!(%error, "could not reload the source allow-list; keeping the last one");
                return;
            }
        };
        let networks: Vec<IpNet> = rows
            .iter()
            .filter_map(|(origin, network)| {
                let parsed = network.parse().ok();
                if parsed.is_none() {
                    warn!(
                        origin,
                        network, "ignoring an allow-list entry that is not a CIDR"
                    );
                }
                parsed
            })
            .collect();
        if networks.is_empty() {
            warn!("the source allow-list is on but empty: every delivery is refused");
        }
        let mut current = self
            .networks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *current != networks {
            info!(networks = networks.len(), "source allow-list loaded");
            *current = networks;
        }
    }

    /// Keeps the list in step with the database while it is on.
    pub async fn keep_fresh(&self, pool: Pool, every: Duration) {
        if !self.enabled {
            return;
        }
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            self.refresh(&pool).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_allows_everyone_on_allows_only_listed_networks() {
        let source: Option<IpAddr> = Some("140.82.115.245".parse().unwrap());
        assert!(SourceAllowlist::new(false).allows(source));
        assert!(SourceAllowlist::new(false).allows(None));
        let on = SourceAllowlist::new(true);
        assert!(!on.allows(source), "fails closed while empty");
        *on.networks.write().unwrap() = vec!["140.82.112.0/20".parse().unwrap()];
        assert!(on.allows(source));
        assert!(!on.allows(Some("203.0.113.9".parse().unwrap())));
        assert!(!on.allows(None), "no address, not listed");
    }
}
