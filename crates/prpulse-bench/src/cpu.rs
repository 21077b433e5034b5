//! CPU time of processes, from `/proc`: what a receiver spends per
//! request, and what RabbitMQ spends per message, over one phase.

use std::{collections::HashMap, fs};

use serde::Serialize;

/// Linux reports `utime`/`stime` in `USER_HZ` ticks, fixed at 100 in the
/// kernel's ABI whatever the internal tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

/// A process whose CPU time is read: alone, or with every descendant (a
/// pre-forking server's workers).
#[derive(Clone, Copy, Debug)]
pub enum Meter {
    Process(u32),
    Tree(u32),
}

impl Meter {
    /// utime + stime so far, in seconds; `None` if the process is gone.
    pub fn seconds(self) -> Option<f64> {
        match self {
            Self::Process(pid) => Some(stat(pid)?.cpu_seconds),
            Self::Tree(root) => tree_seconds(root),
        }
    }
}

/// CPU time spent between two readings.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    meter: Meter,
    at_start: Option<f64>,
}

impl Reading {
    pub fn start(meter: Meter) -> Self {
        Self {
            meter,
            at_start: meter.seconds(),
        }
    }

    /// Microseconds of CPU per operation since [`Self::start`].
    pub fn per_operation(&self, operations: u64) -> Option<f64> {
        let spent = self.meter.seconds()? - self.at_start?;
        (operations > 0).then(|| spent * 1e6 / operations as f64)
    }
}

/// CPU microseconds per request of a receiver, of RabbitMQ and of the
/// load generator (this process), over one throughput phase.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CpuPerRequest {
    pub receiver_us: Option<f64>,
    pub broker_us: Option<f64>,
    pub load_generator_us: Option<f64>,
}

/// Readings of the three over one phase.
pub struct PhaseCpu {
    receiver: Option<Reading>,
    broker: Option<Reading>,
    load_generator: Reading,
}

impl PhaseCpu {
    pub fn start(receiver: Option<Meter>, broker: Option<u32>) -> Self {
        Self {
            receiver: receiver.map(Reading::start),
            broker: broker.map(|pid| Reading::start(Meter::Process(pid))),
            load_generator: Reading::start(Meter::Process(std::process::id())),
        }
    }

    pub fn finish(&self, operations: u64) -> CpuPerRequest {
        let per = |reading: &Option<Reading>| reading.and_then(|r| r.per_operation(operations));
        CpuPerRequest {
            receiver_us: per(&self.receiver),
            broker_us: per(&self.broker),
            load_generator_us: self.load_generator.per_operation(operations),
        }
    }
}

struct Stat {
    parent: u32,
    cpu_seconds: f64,
}

fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `/proc/<pid>/stat`: the command name is in parentheses and may hold
/// spaces, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<Stat> {
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        parent: fields.get(1)?.parse().ok()?,
        cpu_seconds: (ticks(11)? + ticks(12)?) as f64 / TICKS_PER_SECOND,
    })
}

fn tree_seconds(root: u32) -> Option<f64> {
    let stats: HashMap<u32, Stat> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect();
    stats.get(&root)?;
    let descends = |mut pid: u32| loop {
        if pid == root {
            return true;
        }
        match stats.get(&pid) {
            Some(stat) if stat.parent != 0 && stat.parent != pid => pid = stat.parent,
            _ => return false,
        }
    };
    Some(
        stats
            .iter()
            .filter(|(pid, _)| descends(**pid))
            .map(|(_, stat)| stat.cpu_seconds)
            .sum(),
    )
}

/// The process listening on TCP `port` (the broker behind the AMQP URL:
/// several RabbitMQ nodes may run on one machine), found by the inode of
/// its listening socket.
pub fn listener_pid(port: u16) -> Option<u32> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    let wanted: Vec<String> = inodes
        .iter()
        .map(|inode| format!("socket:[{inode}]"))
        .collect();
    fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
                .any(|link| wanted.iter().any(|w| link.as_os_str() == w.as_str()))
        })
}

/// Inodes of sockets in LISTEN state (`0A`) on `port`, from a
/// `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let port = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            (local_port == port && *fields.get(3)? == "0A")
                .then(|| fields.get(9).map(|s| (*s).to_owned()))?
        })
        .collect()
}

/// The port of a URL such as `amqp://user:pass@host:port/vhost`, or
/// `default` when it names none.
pub fn url_port(url: &str, default: u16) -> u16 {
    let authority = url.split("://").nth(1).unwrap_or(url);
    let host = authority.split('/').next().unwrap_or(authority);
    let host = host.rsplit('@').next().unwrap_or(host);
    host.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_after_a_name_with_spaces() {
        let line = "42 (beam (smp) x) S 7 42 42 0 -1 4194560 1 0 0 0 250 150 0 0 20 0 30 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.parent, 7);
        assert!((stat.cpu_seconds - 4.0).abs() < 1e-9);
    }

    #[test]
    fn finds_the_listening_socket_of_a_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1628 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 31337 1\n   1: 0100007F:1628 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   107        0 31338 1\n";
        assert_eq!(listening_inodes(table, 5672), vec!["31337".to_owned()]);
        assert!(listening_inodes(table, 5673).is_empty());
    }

    #[test]
    fn the_listener_of_a_port_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
        drop(listener);
        assert_eq!(listener_pid(port), None);
    }

    #[test]
    fn amqp_urls_name_their_port() {
        assert_eq!(
            url_port("amqp://guest:guest@127.0.0.1:5673/%2f", 5672),
            5673
        );
        assert_eq!(url_port("amqp://guest:guest@localhost/%2f", 5672), 5672);
        assert_eq!(url_port("postgres://postgres@127.0.0.1:5432/x", 1), 5432);
    }

    #[test]
    fn a_process_tree_counts_this_process() {
        let me = std::process::id();
        let alone = Meter::Process(me).seconds().unwrap();
        assert!(Meter::Tree(me).seconds().unwrap() >= alone);
    }
}
