# Finds or starts what prpulse needs on this machine: a Rust toolchain,
# PostgreSQL and RabbitMQ. Sourced by scripts/test and scripts/demo.
# Each check says clearly what is missing when it cannot fix it.

PG_HOST="${PRPULSE_PG_HOST:-127.0.0.1}"
PG_PORT="${PRPULSE_PG_PORT:-5432}"
AMQP_HOST="${PRPULSE_AMQP_HOST:-127.0.0.1}"
AMQP_PORT="${PRPULSE_AMQP_PORT:-5672}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
    local host=$1 port=$2 seconds=$3
    for _ in $(seq "$((seconds * 4))"); do
        port_open "$host" "$port" && return 0
        sleep 0.25
    done
    return 1
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
    say "installing $* with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# rust-toolchain.toml pins the release by number. Where rustup has that
# release only under the name "stable" (and cannot download it: offline),
# link the name, so the pin costs no network.
pinned_toolchain() { sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml; }
ensure_pinned_toolchain() {
    command -v rustup >/dev/null || return 0
    local pinned
    pinned=$(pinned_toolchain)
    [ -n "$pinned" ] || return 0
    rustup toolchain list | grep -q "^$pinned" && return 0
    if rustc +stable --version 2>/dev/null | grep -q "^rustc $pinned "; then
        say "linking rustup toolchain $pinned to the installed stable ($pinned)"
        rustup toolchain link "$pinned" "$(rustc +stable --print sysroot)"
        return 0
    fi
    say "installing the pinned Rust $pinned with rustup"
    rustup toolchain install "$pinned" --profile minimal --component rustfmt,clippy \
        || die "Rust $pinned (rust-toolchain.toml) is not installed and rustup could not install it"
}

# A cargo subcommand from crates.io, installed when missing.
ensure_cargo_tool() { # crate subcommand
    cargo "$2" --version >/dev/null 2>&1 && return 0
    say "installing $1 from crates.io"
    cargo install --locked "$1" >/dev/null || die "$1 is missing and could not be installed (cargo install --locked $1)"
}

ensure_toolchain() {
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then run this again"
    ensure_pinned_toolchain
    ensure_cargo_tool cargo-nextest nextest
}

ensure_postgres() {
    if port_open "$PG_HOST" "$PG_PORT"; then return 0; fi
    if ! command -v pg_ctlcluster >/dev/null; then
        can_install || die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT and cannot be installed here: install PostgreSQL 15+ with trust auth for user postgres, or set PRPULSE_TEST_DATABASE_URL"
        apt_install postgresql
    fi
    say "starting PostgreSQL"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for_port "$PG_HOST" "$PG_PORT" 30 || die "PostgreSQL did not come up on $PG_HOST:$PG_PORT (see /var/log/postgresql)"
}

ensure_rabbitmq() {
    if port_open "$AMQP_HOST" "$AMQP_PORT"; then return 0; fi
    if ! command -v rabbitmq-server >/dev/null; then
        can_install || die "RabbitMQ is not reachable at $AMQP_HOST:$AMQP_PORT and cannot be installed here: install RabbitMQ 3.10+ (guest/guest on localhost), or set PRPULSE_TEST_AMQP_URL"
        apt_install rabbitmq-server
    fi
    say "starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_for_port "$AMQP_HOST" "$AMQP_PORT" 90 || die "RabbitMQ did not come up on $AMQP_HOST:$AMQP_PORT (see /var/log/rabbitmq)"
}

# promtool checks deploy/prometheus (the alert rules and their tests, the
# scrape config). Debian ships it in the prometheus package; Recommends
# are skipped so no node exporter comes with it.
ensure_promtool() {
    command -v promtool >/dev/null && return 0
    can_install || die "promtool not found: it checks deploy/prometheus; install Prometheus' promtool (Debian/Ubuntu: apt-get install prometheus), then run this again"
    say "installing promtool (Debian package prometheus) with apt-get"
    apt-get update -qq >/dev/null \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
        || die "promtool could not be installed with apt-get install prometheus"
    command -v promtool >/dev/null || die "the prometheus package did not provide promtool"
}

# What scripts/check-deploy needs, from PyPI into a virtualenv of its own:
# kubernetes-validate and check-jsonschema bundle the Kubernetes and
# Compose schemas, so checking needs no cluster and no network after this.
DEPLOY_TOOLS=(PyYAML==6.0.3 kubernetes-validate==1.37.0 check-jsonschema==0.39.0)
ensure_deploy_tools() {
    local venv="${CARGO_TARGET_DIR:-target}/deploy-tools"
    DEPLOY_PYTHON="$venv/bin/python"
    if "$DEPLOY_PYTHON" -c 'import yaml, kubernetes_validate, check_jsonschema' 2>/dev/null; then
        return 0
    fi
    command -v python3 >/dev/null || die "python3 not found: it runs scripts/check-deploy; install Python 3.11+"
    python3 -c 'import tomllib' 2>/dev/null || die "python3 is older than 3.11 (no tomllib, which scripts/check-deploy reads Cargo.toml with): install Python 3.11+"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        can_install || die "python3 cannot create a virtualenv: install python3-venv, then run this again"
        apt_install python3-venv
        python3 -m venv "$venv" || die "python3 cannot create a virtualenv in $venv"
    fi
    say "installing the deploy checkers (${DEPLOY_TOOLS[*]}) from PyPI"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${DEPLOY_TOOLS[@]}" \
        || die "could not install ${DEPLOY_TOOLS[*]} from PyPI; they check deploy/ and docker-compose.yml"
}

# cargo deny (deny.toml): licences, bans and sources need nothing but
# Cargo.lock; advisories need RustSec's database, fetched when the network
# allows, else the copy already on this machine, else skipped with a notice
# that says so (an offline machine cannot know today's advisories).
run_cargo_deny() {
    ensure_cargo_tool cargo-deny deny
    # deny reads `cargo metadata` offline, which needs every locked package
    # (other platforms' too) in the registry cache, not only what a build
    # here downloaded.
    cargo fetch --quiet || die "cargo fetch failed: cargo deny needs every locked package (crates.io unreachable?)"
    local db_root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
    if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
        cargo deny --offline check --hide-inclusion-graph
    elif compgen -G "$db_root/advisory-db-*/crates" >/dev/null; then
        local db
        db=$(compgen -G "$db_root/advisory-db-*" | head -1)
        say "advisory database not reachable: checking against the copy in $db (last change $(git -C "$db" log -1 --format=%cs 2>/dev/null || echo unknown))"
        cargo deny --offline check --hide-inclusion-graph
    else
        say "NOT CHECKED: advisories (no RustSec advisory database reachable or on this machine; 'cargo deny fetch' where the network allows)"
        cargo deny --offline check --hide-inclusion-graph bans licenses sources
    fi
}
