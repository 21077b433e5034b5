use std::time::Duration;

use prpulse_domain::BotPolicy;
use prpulse_github_api::origin::secure_url;
use prpulse_runtime::{ConfigError, Env, ServiceConfig};

/// How to reach GitHub's REST API.
#[derive(Clone, Debug)]
pub struct GitHubSettings {
    /// `PRPULSE_GITHUB_API_URL` (default `https://api.github.com`).
    pub api_url: String,
    /// `PRPULSE_GITHUB_MAX_WAIT_MS` (default 60000): the longest one GitHub
    /// call waits out rate limits, in total.
    pub max_wait: Duration,
}

/// What a hook prpulse installs looks like, and how its secret ages.
#[derive(Clone, Debug)]
pub struct HookSettings {
    /// `PRPULSE_PUBLIC_URL` (required): the URL GitHub posts to, e.g.
    /// `https://prpulse.example.com/webhooks/github`.
    pub hook_url: String,
    /// `PRPULSE_SECRET_ROTATION` (default `90d`): a hook's secret older
    /// than this is replaced.
    pub rotate_after: Duration,
    /// `PRPULSE_SECRET_OVERLAP` (default `24h`): the replaced secret stays
    /// valid this long.
    pub rotation_overlap: Duration,
}

/// What `prpulse repo …` and `prpulse integration remove` need to install,
/// repair or remove one hook: the services' settings, GitHub and the hook,
/// and none of the scheduler's own (intervals, retention), so a typo in
/// those cannot stop an operator's command.
#[derive(Debug)]
pub struct HookCommandSettings {
    pub service: ServiceConfig,
    pub github: GitHubSettings,
    pub hooks: HookSettings,
}

impl HookCommandSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let service = ServiceConfig::from_env(env, 9102)?;
        if service.secret_key.is_none() {
            return Err(ConfigError::Missing {
                name: "PRPULSE_SECRET_KEY",
            });
        }
        Ok(Self {
            github: GitHubSettings::from_env(env)?,
            hooks: HookSettings::from_env(env)?,
            service,
        })
    }
}

impl GitHubSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let api_url = env.string("PRPULSE_GITHUB_API_URL", "https://api.github.com");
        // Every request carries the integration's token.
        secure(&api_url, "PRPULSE_GITHUB_API_URL")?;
        Ok(Self {
            api_url,
            max_wait: env.millis("PRPULSE_GITHUB_MAX_WAIT_MS", 60_000)?,
        })
    }
}

impl HookSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hook_url = env
            .get("PRPULSE_PUBLIC_URL")
            .ok_or(ConfigError::Missing {
                name: "PRPULSE_PUBLIC_URL",
            })?
            .to_owned();
        // GitHub signs what it posts with the hook's secret, but the body
        // (and the org's data) would cross the network in clear.
        secure(&hook_url, "PRPULSE_PUBLIC_URL")?;
        Ok(Self {
            hook_url,
            rotate_after: duration(env, "PRPULSE_SECRET_ROTATION", "90d")?,
            rotation_overlap: duration(env, "PRPULSE_SECRET_OVERLAP", "24h")?,
        })
    }
}

#[derive(Debug)]
pub struct SchedulerConfig {
    pub service: ServiceConfig,
    pub github: GitHubSettings,
    pub hooks: HookSettings,
    /// Jira webhooks (`jobs::jira`).
    pub jira: crate::jobs::jira::JiraHookSettings,
    /// `PRPULSE_RECONCILE_INTERVAL_MS` (default 300000).
    pub reconcile_interval: Duration,
    /// `PRPULSE_LEADER_POLL_MS` (default 5000): how often a standby asks
    /// for the lock.
    pub leader_poll: Duration,
    /// `PRPULSE_BACKFILL_SINCE` (default `90d`): how far back a newly
    /// tracked repository is backfilled.
    pub backfill_since: Duration,
    /// `PRPULSE_REDELIVERY_MAX_PER_RUN` (default 100) per hook.
    pub redelivery_max_per_run: usize,
    /// `PRPULSE_TEAM_SYNC_INTERVAL` (default `1h`).
    pub team_sync_interval: Duration,
    /// `PRPULSE_PAYLOAD_RETENTION` (default `90d`): raw payloads older than
    /// this are dropped, hourly.
    pub payload_retention: Duration,
    /// `PRPULSE_META_INTERVAL` (default `24h`): refresh GitHub's hook ranges.
    pub meta_interval: Duration,
    /// `PRPULSE_BOT_LOGINS`, as for the worker (for members found by team sync).
    pub bots: BotPolicy,
}

impl SchedulerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let HookCommandSettings {
            service,
            github,
            hooks,
        } = HookCommandSettings::from_env(env)?;
        Ok(Self {
            github,
            hooks,
            jira: crate::jobs::jira::JiraHookSettings::from_env(env)?,
            reconcile_interval: env.millis("PRPULSE_RECONCILE_INTERVAL_MS", 300_000)?,
            leader_poll: env.millis("PRPULSE_LEADER_POLL_MS", 5_000)?,
            backfill_since: duration(env, "PRPULSE_BACKFILL_SINCE", "90d")?,
            redelivery_max_per_run: env.parse("PRPULSE_REDELIVERY_MAX_PER_RUN", 100)?,
            team_sync_interval: duration(env, "PRPULSE_TEAM_SYNC_INTERVAL", "1h")?,
            payload_retention: duration(env, "PRPULSE_PAYLOAD_RETENTION", "90d")?,
            meta_interval: duration(env, "PRPULSE_META_INTERVAL", "24h")?,
            bots: BotPolicy::from_list(env.get("PRPULSE_BOT_LOGINS").unwrap_or_default()),
            service,
        })
    }
}

/// A humantime duration (`90d`, `24h`) from `name`, else `default`.
pub(crate) fn duration(
    env: &Env,
    name: &'static str,
    default: &str,
) -> Result<Duration, ConfigError> {
    let raw = env.get(name).unwrap_or(default);
    humantime::parse_duration(raw).map_err(|error| ConfigError::Invalid {
        name,
        value: raw.to_owned(),
        reason: error.to_string(),
    })
}

/// https, or http to a loopback address (a local fake, tests).
pub(crate) fn secure(value: &str, name: &'static str) -> Result<(), ConfigError> {
    secure_url(value)
        .map(drop)
        .map_err(|reason| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn needs_a_public_url_and_a_secret_key() {
        let error =
            SchedulerConfig::from_env(&Env::from_pairs([("PRPULSE_SECRET_KEY", KEY)])).unwrap_err();
        assert_eq!(
            error,
            ConfigError::Missing {
                name: "PRPULSE_PUBLIC_URL"
            }
        );
        let env = Env::from_pairs([("PRPULSE_PUBLIC_URL", "https://p.example/webhooks/github")]);
        assert_eq!(
            SchedulerConfig::from_env(&env).unwrap_err(),
            ConfigError::Missing {
                name: "PRPULSE_SECRET_KEY"
            }
        );
    }

    #[test]
    fn defaults_follow_the_design() {
        let env = Env::from_pairs([
            ("PRPULSE_SECRET_KEY", KEY),
            ("PRPULSE_PUBLIC_URL", "https://p.example/webhooks/github"),
            ("PRPULSE_SECRET_OVERLAP", "2h"),
        ]);
        let config = SchedulerConfig::from_env(&env).unwrap();
        assert_eq!(config.github.api_url, "https://api.github.com");
        assert_eq!(config.hooks.rotate_after, Duration::from_secs(90 * 86_400));
        assert_eq!(config.hooks.rotation_overlap, Duration::from_secs(7_200));
        assert_eq!(config.service.metrics_addr.map(|a| a.port()), Some(9102));
    }

    #[test]
    fn github_and_the_public_url_must_be_https_except_on_loopback() {
        let with = |public: &'static str, api: &'static str| {
            SchedulerConfig::from_env(&Env::from_pairs([
                ("PRPULSE_SECRET_KEY", KEY),
                ("PRPULSE_PUBLIC_URL", public),
                ("PRPULSE_GITHUB_API_URL", api),
            ]))
        };
        let https = "https://p.example/webhooks/github";
        let error = with(https, "http://ghe.example.com/api/v3").unwrap_err();
        assert!(
            matches!(&error, ConfigError::Invalid { name: "PRPULSE_GITHUB_API_URL", reason, .. } if reason.contains("must be https")),
            "{error}"
        );
        let error = with("http://p.example/webhooks/github", "https://api.github.com").unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    name: "PRPULSE_PUBLIC_URL",
                    ..
                }
            ),
            "{error}"
        );
        assert!(with(https, "http://127.0.0.1:9999").is_ok());
        assert!(
            with(
                "http://localhost:8080/webhooks/github",
                "https://api.github.com"
            )
            .is_ok()
        );
    }
}
