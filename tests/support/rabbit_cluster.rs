//! RabbitMQ nodes of the suite's own: `rabbitmq-server -detached` per
//! node, each with its own node name, ports, data, logs, config and Erlang
//! cookie, joined into one cluster with `rabbitmqctl join_cluster`. A test
//! can kill, stop and alarm them without touching the machine's broker.
//!
//! Every node is killed and its directory removed when the cluster is
//! dropped, so also when a test panics.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::{stack::free_port, unique_suffix};

/// The user the Debian package runs RabbitMQ as; a node's files belong to it.
const RABBITMQ_USER: &str = "rabbitmq";
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL: &str = "/usr/lib/rabbitmq/bin/rabbitmqctl";
const QUEUES: &str = "/usr/lib/rabbitmq/bin/rabbitmq-queues";

pub struct RabbitNode {
    /// `prpulse-<suffix>-<n>@localhost`.
    pub name: String,
    pub port: u16,
    dist_port: u16,
    dir: PathBuf,
}

impl RabbitNode {
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("mnesia").join(format!("{}.pid", self.name))
    }
}

pub struct RabbitCluster {
    pub nodes: Vec<RabbitNode>,
    /// Holds the cookie every node and every `rabbitmqctl` call shares.
    home: PathBuf,
}

impl RabbitCluster {
    /// Starts `size` nodes at once and joins the others to the first.
    /// Blocking: call it from `spawn_blocking`.
    pub fn start(size: usize) -> Self {
        assert!(
            Path::new(SERVER).exists(),
            "the cluster fault suite runs RabbitMQ nodes of its own and needs {SERVER}: \
             install rabbitmq-server"
        );
        sweep_abandoned();
        let suffix = unique_suffix();
        let root = std::env::temp_dir().join(format!("{ROOT_PREFIX}{suffix}"));
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(root.join(OWNER), std::process::id().to_string()).unwrap();
        std::fs::write(home.join(".erlang.cookie"), unique_suffix().repeat(2)).unwrap();
        let nodes = (1..=size)
            .map(|n| {
                let dir = root.join(format!("node{n}"));
                for sub in ["mnesia", "log"] {
                    std::fs::create_dir_all(dir.join(sub)).unwrap();
                }
                let port = free_port();
                std::fs::write(
                    dir.join("rabbitmq.conf"),
                    format!("listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n"),
                )
                .unwrap();
                std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
                RabbitNode {
                    name: format!("prpulse-{suffix}-{n}@localhost"),
                    port,
                    dist_port: free_port(),
                    dir,
                }
            })
            .collect();
        let cluster = Self { nodes, home };
        if running_as_root() {
            run(Command::new("chown")
                .args(["-R", &format!("{RABBITMQ_USER}:")])
                .arg(&root));
        }
        set_owner_only(&cluster.home.join(".erlang.cookie"));
        for node in 0..size {
            cluster.launch(node);
        }
        for node in 0..size {
            cluster.await_startup(node);
        }
        for node in 1..size {
            cluster.ctl(node, &["stop_app"]);
            cluster.ctl(node, &["join_cluster", &cluster.nodes[0].name]);
            cluster.ctl(node, &["start_app"]);
        }
        cluster
    }

    /// Every node's URL, comma-separated: `PRPULSE_AMQP_URL` for a cluster.
    pub fn amqp_urls(&self) -> String {
        self.nodes
            .iter()
            .map(RabbitNode::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts node `n` (again, after a kill: it keeps its data and rejoins).
    fn launch(&self, n: usize) {
        // The detached node would hold a pipe open for as long as it runs.
        let status = self
            .as_rabbitmq(SERVER, n)
            .arg("-detached")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running rabbitmq-server");
        assert!(
            status.success(),
            "{} did not start (its log: {})",
            self.nodes[n].name,
            self.nodes[n].dir.join("log").display()
        );
    }

    /// Waits until node `n` runs RabbitMQ (the CLI refuses to wait for a
    /// node that has not registered with epmd yet, so ask again).
    fn await_startup(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = self.try_ctl(n, &["await_startup", "--timeout", "30"]);
            if output.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start in 60 s: {}",
                self.nodes[n].name,
                String::from_utf8_lossy(&output.stdout)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts node `n` again after [`Self::kill`] and waits until it runs.
    pub fn restart(&self, n: usize) {
        self.launch(n);
        self.await_startup(n);
    }

    /// kill -9 of node `n`: a crash, nothing flushed or handed over.
    pub fn kill(&self, n: usize) {
        if let Some(pid) = self.pid(n) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            // The node is gone once its process is.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            // A stale pid could name someone else's process by the end.
            let _ = std::fs::remove_file(self.nodes[n].pid_file());
        }
    }

    /// Stops node `n` the way an operator does (`rabbitmqctl stop`: its
    /// queue members hand over first) and waits until its process is gone.
    pub fn stop(&self, n: usize) {
        let pid = self.pid(n);
        self.ctl(n, &["stop"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(pid) = &pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop in 30 s",
                self.nodes[n].name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until stopping node `n` leaves every quorum queue a majority
    /// (`rabbitmq-queues check_if_node_is_quorum_critical`): what a rolling
    /// restart waits for between nodes.
    pub fn wait_until_safe_to_stop(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut command = self.as_rabbitmq(QUEUES, n);
            let output = command
                .env_remove("RABBITMQ_DIST_PORT")
                .args([
                    "-n",
                    &self.nodes[n].name,
                    "check_if_node_is_quorum_critical",
                ])
                .output()
                .expect("running rabbitmq-queues");
            if output.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "stopping {} stayed critical for a quorum queue for 60 s: {}",
                self.nodes[n].name,
                String::from_utf8_lossy(&output.stdout)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs `rabbitmqctl args…` on every node.
    pub fn ctl_all(&self, args: &[&str]) {
        for n in 0..self.nodes.len() {
            self.ctl(n, args);
        }
    }

    fn pid(&self, n: usize) -> Option<String> {
        std::fs::read_to_string(self.nodes[n].pid_file())
            .ok()
            .map(|pid| pid.trim().to_owned())
            .filter(|pid| !pid.is_empty())
    }

    /// The node that leads quorum queue `queue` right now.
    pub fn leader_of(&self, queue: &str, asking: usize) -> usize {
        let output = self.ctl(
            asking,
            &["list_queues", "name", "leader", "--no-table-headers", "-q"],
        );
        let listing = String::from_utf8_lossy(&output.stdout).into_owned();
        let leader = listing
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .find(|(name, _)| name.trim() == queue)
            .map(|(_, leader)| leader.trim().to_owned())
            .unwrap_or_else(|| panic!("{queue} is not in {listing}"));
        self.nodes
            .iter()
            .position(|node| node.name == leader)
            .unwrap_or_else(|| panic!("{leader} leads {queue} but is no node of this cluster"))
    }

    /// Runs `rabbitmqctl -n <node n> args…`, which must succeed.
    pub fn ctl(&self, n: usize, args: &[&str]) -> Output {
        let output = self.try_ctl(n, args);
        assert!(
            output.status.success(),
            "rabbitmqctl {args:?} on {}: {}{}",
            self.nodes[n].name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn try_ctl(&self, n: usize, args: &[&str]) -> Output {
        let mut command = self.as_rabbitmq(CTL, n);
        command
            .env_remove("RABBITMQ_DIST_PORT")
            .env_remove("RABBITMQ_NODE_PORT")
            .args(["-n", &self.nodes[n].name])
            .args(args);
        command.output().expect("running rabbitmqctl")
    }

    /// A RabbitMQ script as the `rabbitmq` user (when run as root), with
    /// node `n`'s environment.
    fn as_rabbitmq(&self, program: &str, n: usize) -> Command {
        let node = &self.nodes[n];
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", RABBITMQ_USER, "--", program]);
            command
        } else {
            Command::new(program)
        };
        command
            .current_dir(&node.dir)
            .env("HOME", &self.home)
            .env("RABBITMQ_NODENAME", &node.name)
            .env("RABBITMQ_NODE_PORT", node.port.to_string())
            .env("RABBITMQ_DIST_PORT", node.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", node.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", node.dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", node.dir.join("rabbitmq.conf"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                node.dir.join("enabled_plugins"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        for n in 0..self.nodes.len() {
            self.kill(n);
        }
        if let Some(root) = self.home.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

const ROOT_PREFIX: &str = "prpulse-rabbit-";
/// The file naming the test process a cluster belongs to.
const OWNER: &str = "owner.pid";

/// Kills the nodes of clusters whose test process is gone without
/// dropping them (a test runner's timeout kills it outright), and removes
/// their directories.
fn sweep_abandoned() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for root in entries.filter_map(|entry| Some(entry.ok()?.path())) {
        let is_cluster = root
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(ROOT_PREFIX));
        let Some(owner) = is_cluster
            .then(|| std::fs::read_to_string(root.join(OWNER)).ok())
            .flatten()
        else {
            continue;
        };
        if Path::new(&format!("/proc/{}", owner.trim())).exists() {
            continue;
        }
        let nodes = std::fs::read_dir(&root).into_iter().flatten().flatten();
        for mnesia in nodes.map(|node| node.path().join("mnesia")) {
            let pids = std::fs::read_dir(mnesia).into_iter().flatten().flatten();
            for pid_file in pids.map(|entry| entry.path()) {
                if pid_file.extension().is_some_and(|ext| ext == "pid")
                    && let Ok(pid) = std::fs::read_to_string(&pid_file)
                {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// Erlang refuses a cookie others can read.
fn set_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400)).unwrap();
}

pub(crate) fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn run(command: &mut Command) {
    let status = command.status().expect("running a command");
    assert!(status.success(), "{command:?} failed");
}
