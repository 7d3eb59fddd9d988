# shellcheck shell=bash disable=SC2034
# (SC2034: the WHARF_RMQ_*/WHARF_REDIS_* variables set here are for callers.)
# Private RabbitMQ and Redis instances for wharf tests and local runs.
# Source this file from bash, then:
#
#   wharf_servers_trap                      # stop everything started here on EXIT/INT/TERM/HUP
#   wharf_rabbit_start STATE_DIR [AMQP_PORT] [MGMT_PORT] [NODE_BASENAME]
#       (MGMT_PORT is only a wish: a busy one is replaced by a free port)
#   wharf_redis_start  STATE_DIR [PORT]
#   ...
#   wharf_rabbit_stop STATE_DIR ; wharf_redis_stop STATE_DIR   (or wharf_servers_stop_all)
#
# Each instance lives entirely inside its STATE_DIR: config, data, logs,
# pidfiles, its own Erlang cookie (HOME) and, for RabbitMQ, its own epmd on a
# private port. Everything listens on 127.0.0.1 only. Ports not given are
# picked free in 20000-32000. Stop functions work from STATE_DIR alone (so
# another shell, e.g. deploy/local/down, can stop what this one started);
# they signal only PIDs recorded in STATE_DIR (checked against
# /proc/PID/cmdline) and processes carrying this instance's private
# WHARF_SERVER_TAG environment value, i.e. descendants of what we started.
# Nothing is ever killed by name, and no system daemon is touched.
#
# After wharf_rabbit_start these are set in the calling shell:
#   WHARF_RMQ_DIR WHARF_RMQ_NODE WHARF_RMQ_AMQP_PORT WHARF_RMQ_MGMT_PORT
#   WHARF_RMQ_CTL (wrapper script: rabbitmqctl for this node) WHARF_RMQ_START_SECONDS
# After wharf_redis_start:
#   WHARF_REDIS_DIR WHARF_REDIS_PORT
#
# Cluster nodes (tests/cluster): with WHARF_RMQ_EPMD_PORT set, the node uses
# that (shared, already running) epmd instead of starting its own, and with
# WHARF_RMQ_COOKIE set its HOME gets that Erlang cookie, so nodes started this
# way can join one another (rabbitmqctl join_cluster).

WHARF_SERVERS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WHARF_PY=${WHARF_PY:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
WHARF_RABBIT_START_TIMEOUT=${WHARF_RABBIT_START_TIMEOUT:-180}
WHARF_REDIS_START_TIMEOUT=${WHARF_REDIS_START_TIMEOUT:-30}
declare -ga WHARF_STARTED=()

_wharf_say() { printf '[servers] %s\n' "$*" >&2; }

_wharf_now() { date +%s.%N; }

_wharf_elapsed() { awk -v a="$1" -v b="$(_wharf_now)" 'BEGIN { printf "%.1f", b - a }'; }

# _wharf_pid_ok PID PATTERN: PID is alive and its command line contains PATTERN.
_wharf_pid_ok() {
    local pid=$1 pat=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ -n $cmd && $cmd == *"$pat"* ]]
}

_wharf_read_pid() { [[ -s $1 ]] && tr -dc '0-9' <"$1"; }

# PIDs of live processes whose environment holds WHARF_SERVER_TAG=TAG.
_wharf_tagged_pids() {
    local tag=$1 p
    [[ -n $tag ]] || return 0
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" || $p == "$BASHPID" ]] && continue
        if grep -qzxF "WHARF_SERVER_TAG=$tag" "/proc/$p/environ" 2>/dev/null; then
            printf '%s\n' "$p"
        fi
    done
}

# _wharf_stop_pid PID PATTERN [GRACE_SECONDS]: SIGTERM, wait, then SIGKILL.
_wharf_stop_pid() {
    local pid=$1 pat=$2 grace=${3:-10} i
    _wharf_pid_ok "$pid" "$pat" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        _wharf_pid_ok "$pid" "$pat" || return 0
        sleep 0.1
    done
    _wharf_say "pid $pid ($pat) ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        _wharf_pid_ok "$pid" "$pat" || return 0
        sleep 0.1
    done
}

# Wait until none of the PIDs (with their patterns) is alive: _wharf_wait_gone SECONDS pid:pat ...
_wharf_wait_gone() {
    local secs=$1 i spec alive
    shift
    for ((i = 0; i < secs * 10; i++)); do
        alive=0
        for spec in "$@"; do
            _wharf_pid_ok "${spec%%:*}" "${spec#*:}" && alive=1
        done
        ((alive)) || return 0
        sleep 0.1
    done
    return 1
}

# _wharf_spawn PIDFILE LOGFILE ENVFILE CMD...: start CMD in its own session
# (immune to the terminal's Ctrl-C/hangup), stdin from /dev/null, output
# appended to LOGFILE, environment from ENVFILE on top of ours minus any
# RABBITMQ_*/ERL_* variables. The child writes its own PID to PIDFILE before
# exec'ing CMD, so the PID is right whether or not setsid had to fork.
_wharf_spawn() {
    local pidfile=$1 log=$2 envfile=$3 i v
    shift 3
    rm -f "$pidfile"
    (
        for v in $(compgen -e); do
            case $v in RABBITMQ_* | ERL_*) unset "$v" ;; esac
        done
        if [[ -n $envfile ]]; then
            set -a
            # shellcheck disable=SC1090
            . "$envfile"
            set +a
        fi
        # shellcheck disable=SC2016
        exec setsid -f /bin/sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
            "$pidfile" "$@" </dev/null >>"$log" 2>&1
    ) || return 1
    for ((i = 0; i < 100; i++)); do
        [[ -s $pidfile ]] && { _wharf_read_pid "$pidfile"; return 0; }
        sleep 0.05
    done
    _wharf_say "process for $pidfile did not start: $*"
    return 1
}

_wharf_tail() {
    local f
    for f in "$@"; do
        [[ -f $f ]] || continue
        printf -- '----- last lines of %s -----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}

_wharf_free_ports() { "$WHARF_PY" "$WHARF_SERVERS_LIB/freeport.py" "$@"; }

# TCP connect test: _wharf_port_open PORT
_wharf_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _wharf_amqp_answers PORT: an AMQP 0-9-1 broker answers on 127.0.0.1:PORT.
_wharf_amqp_answers() {
    "$WHARF_PY" - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.settimeout(3)
s.sendall(b"AMQP\x00\x00\x09\x01")
data = s.recv(7)
sys.exit(0 if len(data) >= 1 and data[0] == 1 else 1)
PY
}

# _wharf_redis_answers PORT: a Redis server answers PING on 127.0.0.1:PORT.
_wharf_redis_answers() {
    [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
}

_wharf_track() {
    local e
    for e in "${WHARF_STARTED[@]}"; do [[ $e == "$1" ]] && return 0; done
    WHARF_STARTED+=("$1")
}

_wharf_untrack() {
    local e keep=()
    for e in "${WHARF_STARTED[@]}"; do [[ $e == "$1" ]] || keep+=("$e"); done
    WHARF_STARTED=("${keep[@]}")
}

# Directory holding the real RabbitMQ scripts. On Debian /usr/sbin/rabbitmq-*
# are wrappers that su to the rabbitmq user and reset HOME; we must call the
# real scripts so our environment (HOME, ports, dirs) reaches the node.
_wharf_rmq_bindir() {
    if [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
        echo /usr/lib/rabbitmq/bin
    else
        local p
        p=$(command -v rabbitmq-server) || { _wharf_say "rabbitmq-server not found"; return 1; }
        dirname "$(readlink -f "$p")"
    fi
}

# ---------------------------------------------------------------- RabbitMQ

# wharf_rabbit_start STATE_DIR [AMQP_PORT] [MGMT_PORT] [NODE_BASENAME]
wharf_rabbit_start() {
    local sd=$1 amqp=${2:-} mgmt=${3:-} base=${4:-wharft$$}
    [[ -n $sd ]] || { _wharf_say "usage: wharf_rabbit_start STATE_DIR [AMQP_PORT] [MGMT_PORT] [NODE]"; return 2; }
    mkdir -p "$sd" && sd=$(cd "$sd" && pwd) || return 1
    if [[ -f $sd/env.sh ]] && wharf_rabbit_running "$sd"; then
        _wharf_say "rabbitmq in $sd already running"
        _wharf_rabbit_export "$sd"
        return 0
    fi
    local bindir
    bindir=$(_wharf_rmq_bindir) || return 1
    # A fresh node each time, unless WHARF_SERVERS_KEEP_DATA=1 (deploy/local
    # keeps queued messages across restarts; the node name must stay the same).
    # A mount point (tests/soak puts one node's data on a small tmpfs of its
    # own) is emptied instead, as it cannot be removed.
    if [[ ${WHARF_SERVERS_KEEP_DATA:-0} != 1 ]]; then
        if mountpoint -q "$sd/mnesia"; then
            find "$sd/mnesia" -mindepth 1 -delete
        else
            rm -rf "${sd:?}/mnesia"
        fi
    fi
    rm -rf "${sd:?}/log" "${sd:?}/home" "${sd:?}/bin" "${sd:?}/conf.d"
    mkdir -p "$sd/mnesia" "$sd/log" "$sd/home" "$sd/bin" "$sd/conf.d" || return 1
    chmod 700 "$sd/home"
    if [[ -n ${WHARF_RMQ_COOKIE:-} ]]; then
        (umask 077 && printf '%s' "$WHARF_RMQ_COOKIE" >"$sd/home/.erlang.cookie") || return 1
        chmod 400 "$sd/home/.erlang.cookie"
    fi

    local -a ex=() picked
    [[ -n $amqp ]] && ex+=("$amqp")
    if [[ -n $mgmt ]] && ! _wharf_free_ports --check "$mgmt"; then
        _wharf_say "management port $mgmt is busy; picking another"
        mgmt=
    fi
    [[ -n $mgmt ]] && ex+=("$mgmt")
    mapfile -t picked < <(_wharf_free_ports --count 4 --exclude "${ex[@]}" 0) || return 1
    ((${#picked[@]} == 4)) || { _wharf_say "could not pick free ports"; return 1; }
    [[ -n $amqp ]] || amqp=${picked[0]}
    [[ -n $mgmt ]] || mgmt=${picked[1]}
    local dist=${picked[2]} epmd=${WHARF_RMQ_EPMD_PORT:-${picked[3]}} ctl
    ctl=$(_wharf_free_ports --block 10 --exclude "$amqp" "$mgmt" "$dist" "$epmd") || return 1
    local node="${base}@localhost"
    local tag="rmq-$$-$RANDOM$RANDOM"

    cat >"$sd/rabbitmq.conf" <<EOF
# generated by tests/lib/servers.sh
listeners.tcp.default = 127.0.0.1:$amqp
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt
collect_statistics_interval = 500
log.console = false
log.file.level = info
EOF
    # Extra settings from the caller, e.g. a TLS listener (tests/security).
    if [[ -n ${WHARF_RMQ_EXTRA_CONF:-} ]]; then
        cat "$WHARF_RMQ_EXTRA_CONF" >>"$sd/rabbitmq.conf" || return 1
    fi
    # Quorum queues publish their message counts (what the management API
    # reports) once per tick: 5 s by default, too slow for tests.
    # WHARF_RMQ_RABBIT_ENV: more {Key, Value} terms for the rabbit
    # application, from the caller (tests/soak).
    cat >"$sd/advanced.config" <<EOF
%% generated by tests/lib/servers.sh
[{rabbit, [{quorum_tick_interval, 1000}${WHARF_RMQ_RABBIT_ENV:+, $WHARF_RMQ_RABBIT_ENV}]},
 {rabbitmq_management_agent,
  [{sample_retention_policies, [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{10, 1}]}]}]}].
EOF
    echo '[rabbitmq_management].' >"$sd/enabled_plugins"
    : >"$sd/rabbitmq-env.conf"
    {
        echo "# generated by tests/lib/servers.sh; sourced by the wrappers in bin/"
        printf 'export %s=%q\n' \
            WHARF_SERVER_TAG "$tag" \
            HOME "$sd/home" \
            LC_ALL C.UTF-8 \
            LANG C.UTF-8 \
            RABBITMQ_NODENAME "$node" \
            RABBITMQ_USE_LONGNAME false \
            RABBITMQ_NODE_IP_ADDRESS 127.0.0.1 \
            RABBITMQ_NODE_PORT "$amqp" \
            RABBITMQ_DIST_PORT "$dist" \
            ERL_EPMD_PORT "$epmd" \
            ERL_EPMD_ADDRESS 127.0.0.1 \
            RABBITMQ_CTL_DIST_PORT_MIN "$ctl" \
            RABBITMQ_CTL_DIST_PORT_MAX "$((ctl + 9))" \
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS "-kernel inet_dist_use_interface {127,0,0,1}" \
            RABBITMQ_CTL_ERL_ARGS "-kernel inet_dist_use_interface {127,0,0,1}" \
            RABBITMQ_MNESIA_BASE "$sd/mnesia" \
            RABBITMQ_LOG_BASE "$sd/log" \
            RABBITMQ_PID_FILE "$sd/beam.pid" \
            RABBITMQ_CONFIG_FILE "$sd/rabbitmq.conf" \
            RABBITMQ_CONFIG_FILES "$sd/conf.d" \
            RABBITMQ_ADVANCED_CONFIG_FILE "$sd/advanced.config" \
            RABBITMQ_CONF_ENV_FILE "$sd/rabbitmq-env.conf" \
            RABBITMQ_ENABLED_PLUGINS_FILE "$sd/enabled_plugins" \
            WHARF_RMQ_AMQP_PORT "$amqp" \
            WHARF_RMQ_MGMT_PORT "$mgmt" \
            WHARF_RMQ_BINDIR "$bindir"
    } >"$sd/env.sh"

    # CLI wrappers bound to this node: bin/rabbitmqctl, bin/rabbitmq-diagnostics, ...
    cat >"$sd/bin/rabbitmqctl" <<EOF
#!/bin/sh
# rabbitmq CLI for the private node in $sd (generated by tests/lib/servers.sh)
set -a
. "$sd/env.sh"
set +a
tool=\$(basename "\$0")
exec "\$WHARF_RMQ_BINDIR/\$tool" -n "\$RABBITMQ_NODENAME" "\$@"
EOF
    chmod +x "$sd/bin/rabbitmqctl"
    local t
    for t in rabbitmq-diagnostics rabbitmq-plugins rabbitmq-queues; do
        ln -sf rabbitmqctl "$sd/bin/$t"
    done

    _wharf_say "starting rabbitmq node $node: amqp 127.0.0.1:$amqp mgmt :$mgmt dist :$dist epmd :$epmd (state $sd)"
    local t0 epid spid
    t0=$(_wharf_now)
    _wharf_track "rabbitmq:$sd"
    if [[ -n ${WHARF_RMQ_EPMD_PORT:-} ]]; then
        epid="shared :$epmd"
    else
        epid=$(_wharf_spawn "$sd/epmd.pid" "$sd/log/epmd.log" "$sd/env.sh" \
            epmd -port "$epmd" -address 127.0.0.1) || return 1
    fi
    # let epmd bind before the node looks for it
    local i
    for ((i = 0; i < 50; i++)); do _wharf_port_open "$epmd" && break; sleep 0.05; done
    spid=$(_wharf_spawn "$sd/server.pid" "$sd/log/startup.log" "$sd/env.sh" \
        "$bindir/rabbitmq-server") || return 1

    # Wait: AMQP port and management API answer, then await_startup confirms boot finished.
    local deadline=$((SECONDS + WHARF_RABBIT_START_TIMEOUT)) ready=0
    while ((SECONDS < deadline)); do
        if ! _wharf_pid_ok "$spid" rabbitmq-server; then
            _wharf_say "rabbitmq-server (pid $spid) exited during startup"
            _wharf_tail "$sd/log/startup.log" "$sd/log/$node.log"
            wharf_rabbit_stop "$sd" >/dev/null 2>&1
            return 1
        fi
        if _wharf_port_open "$amqp" &&
            curl -sf -o /dev/null -u guest:guest "http://127.0.0.1:$mgmt/api/overview"; then
            ready=1
            break
        fi
        sleep 0.2
    done
    if ((ready)) && ! timeout 120 "$sd/bin/rabbitmqctl" await_startup --timeout 60 \
        >>"$sd/log/ctl.log" 2>&1; then
        ready=0
        _wharf_tail "$sd/log/ctl.log"
    fi
    if ((!ready)); then
        _wharf_say "rabbitmq node $node not ready after $(_wharf_elapsed "$t0")s (timeout ${WHARF_RABBIT_START_TIMEOUT}s)"
        _wharf_tail "$sd/log/startup.log" "$sd/log/$node.log"
        wharf_rabbit_stop "$sd" >/dev/null 2>&1
        return 1
    fi
    WHARF_RMQ_START_SECONDS=$(_wharf_elapsed "$t0")
    echo "$WHARF_RMQ_START_SECONDS" >"$sd/start-seconds"
    _wharf_rabbit_export "$sd"
    _wharf_say "rabbitmq node $node ready in ${WHARF_RMQ_START_SECONDS}s (pid $spid, beam $(_wharf_read_pid "$sd/beam.pid"), epmd $epid)"
}

_wharf_rabbit_export() {
    local sd=$1
    WHARF_RMQ_DIR=$sd
    WHARF_RMQ_NODE=$(sed -n 's/^export RABBITMQ_NODENAME=//p' "$sd/env.sh")
    WHARF_RMQ_AMQP_PORT=$(sed -n 's/^export WHARF_RMQ_AMQP_PORT=//p' "$sd/env.sh")
    WHARF_RMQ_MGMT_PORT=$(sed -n 's/^export WHARF_RMQ_MGMT_PORT=//p' "$sd/env.sh")
    WHARF_RMQ_CTL=$sd/bin/rabbitmqctl
    [[ -n ${WHARF_RMQ_START_SECONDS:-} ]] || WHARF_RMQ_START_SECONDS=$(cat "$sd/start-seconds" 2>/dev/null || echo "?")
}

# wharf_rabbit_running STATE_DIR: the node's beam (or its launcher) is alive.
wharf_rabbit_running() {
    local sd=$1
    _wharf_pid_ok "$(_wharf_read_pid "$sd/beam.pid")" beam ||
        _wharf_pid_ok "$(_wharf_read_pid "$sd/server.pid")" rabbitmq-server
}

# wharf_rabbit_stop STATE_DIR
wharf_rabbit_stop() {
    local sd=$1
    [[ -n $sd && -f $sd/env.sh ]] || return 0
    sd=$(cd "$sd" && pwd)
    local spid bpid epid tag node
    spid=$(_wharf_read_pid "$sd/server.pid")
    bpid=$(_wharf_read_pid "$sd/beam.pid")
    epid=$(_wharf_read_pid "$sd/epmd.pid")
    tag=$(sed -n 's/^export WHARF_SERVER_TAG=//p' "$sd/env.sh")
    node=$(sed -n 's/^export RABBITMQ_NODENAME=//p' "$sd/env.sh")
    local p left
    left=$(_wharf_tagged_pids "$tag")
    if ! wharf_rabbit_running "$sd" && [[ -z $left ]]; then
        _wharf_untrack "rabbitmq:$sd"
        rm -f "$sd/server.pid" "$sd/beam.pid" "$sd/epmd.pid"
        _wharf_say "rabbitmq node $node (state $sd): not running"
        return 0
    fi
    if wharf_rabbit_running "$sd"; then
        _wharf_say "stopping rabbitmq node $node"
        timeout 60 "$sd/bin/rabbitmqctl" stop >>"$sd/log/ctl.log" 2>&1 ||
            _wharf_say "rabbitmqctl stop failed (see $sd/log/ctl.log); signalling the PIDs"
        if ! _wharf_wait_gone 30 "$bpid:beam" "$spid:rabbitmq-server"; then
            _wharf_stop_pid "$spid" rabbitmq-server 10
            _wharf_stop_pid "$bpid" beam 10
        fi
    fi
    _wharf_stop_pid "$epid" epmd 5
    # Anything else still carrying our tag (erl_child_setup, inet_gethost, a
    # stray epmd -daemon, ...) was started by this node: end it too.
    for p in $(_wharf_tagged_pids "$tag"); do
        _wharf_stop_pid "$p" "" 5
    done
    left=$(_wharf_tagged_pids "$tag" | tr '\n' ' ')
    _wharf_untrack "rabbitmq:$sd"
    rm -f "$sd/server.pid" "$sd/beam.pid" "$sd/epmd.pid"
    if [[ -n $left ]]; then
        _wharf_say "rabbitmq node $node: processes still alive: $left"
        return 1
    fi
    _wharf_say "rabbitmq node $node stopped"
}

# ---------------------------------------------------------------- Redis

# wharf_redis_start STATE_DIR [PORT]
wharf_redis_start() {
    local sd=$1 port=${2:-}
    [[ -n $sd ]] || { _wharf_say "usage: wharf_redis_start STATE_DIR [PORT]"; return 2; }
    mkdir -p "$sd" && sd=$(cd "$sd" && pwd) || return 1
    if [[ -f $sd/redis.conf ]] && wharf_redis_running "$sd"; then
        _wharf_say "redis in $sd already running"
        _wharf_redis_export "$sd"
        return 0
    fi
    local srv
    srv=$(command -v redis-server) || { _wharf_say "redis-server not found"; return 1; }
    [[ -n $port ]] || port=$(_wharf_free_ports) || return 1
    rm -rf "${sd:?}/data"
    mkdir -p "$sd/data"
    local tag="redis-$$-$RANDOM$RANDOM"
    cat >"$sd/redis.conf" <<EOF
# generated by tests/lib/servers.sh
port $port
bind 127.0.0.1
protected-mode yes
dir $sd/data
pidfile $sd/redis-own.pid
logfile $sd/redis.log
daemonize no
supervised no
save ""
appendonly no
databases 16
EOF
    printf 'export %s=%q\n' WHARF_SERVER_TAG "$tag" WHARF_REDIS_PORT "$port" >"$sd/env.sh"
    _wharf_track "redis:$sd"
    local t0 pid
    t0=$(_wharf_now)
    pid=$(_wharf_spawn "$sd/server.pid" "$sd/stdout.log" "$sd/env.sh" "$srv" "$sd/redis.conf") || return 1
    local deadline=$((SECONDS + WHARF_REDIS_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! _wharf_pid_ok "$pid" redis-server; then
            _wharf_say "redis-server (pid $pid) exited during startup"
            _wharf_tail "$sd/stdout.log" "$sd/redis.log"
            return 1
        fi
        if _wharf_redis_answers "$port"; then
            _wharf_redis_export "$sd"
            _wharf_say "redis ready on 127.0.0.1:$port in $(_wharf_elapsed "$t0")s (pid $pid, state $sd)"
            return 0
        fi
        sleep 0.05
    done
    _wharf_say "redis on port $port not ready after ${WHARF_REDIS_START_TIMEOUT}s"
    _wharf_tail "$sd/stdout.log" "$sd/redis.log"
    wharf_redis_stop "$sd" >/dev/null 2>&1
    return 1
}

_wharf_redis_export() {
    WHARF_REDIS_DIR=$1
    WHARF_REDIS_PORT=$(sed -n 's/^export WHARF_REDIS_PORT=//p' "$1/env.sh")
}

wharf_redis_running() {
    _wharf_pid_ok "$(_wharf_read_pid "$1/server.pid")" redis-server
}

# wharf_redis_stop STATE_DIR
wharf_redis_stop() {
    local sd=$1
    [[ -n $sd && -f $sd/env.sh ]] || return 0
    sd=$(cd "$sd" && pwd)
    local pid tag port p left
    pid=$(_wharf_read_pid "$sd/server.pid")
    tag=$(sed -n 's/^export WHARF_SERVER_TAG=//p' "$sd/env.sh")
    port=$(sed -n 's/^export WHARF_REDIS_PORT=//p' "$sd/env.sh")
    left=$(_wharf_tagged_pids "$tag")
    if ! _wharf_pid_ok "$pid" redis-server && [[ -z $left ]]; then
        _wharf_untrack "redis:$sd"
        rm -f "$sd/server.pid"
        _wharf_say "redis on port $port (state $sd): not running"
        return 0
    fi
    if _wharf_pid_ok "$pid" redis-server; then
        _wharf_say "stopping redis on port $port (pid $pid)"
        _wharf_stop_pid "$pid" redis-server 10
    fi
    for p in $(_wharf_tagged_pids "$tag"); do
        _wharf_stop_pid "$p" "" 5
    done
    left=$(_wharf_tagged_pids "$tag" | tr '\n' ' ')
    _wharf_untrack "redis:$sd"
    rm -f "$sd/server.pid"
    if [[ -n $left ]]; then
        _wharf_say "redis on port $port: processes still alive: $left"
        return 1
    fi
    _wharf_say "redis on port $port stopped"
}

# ---------------------------------------------------------------- all

# Stop every instance started by this shell (in reverse order).
wharf_servers_stop_all() {
    local i e rc=0
    for ((i = ${#WHARF_STARTED[@]} - 1; i >= 0; i--)); do
        e=${WHARF_STARTED[i]}
        case $e in
        rabbitmq:*) wharf_rabbit_stop "${e#rabbitmq:}" || rc=1 ;;
        redis:*) wharf_redis_stop "${e#redis:}" || rc=1 ;;
        esac
    done
    WHARF_STARTED=()
    return $rc
}

# Install a trap that stops everything on exit, Ctrl-C, TERM or hangup.
# WHARF_SERVERS_ON_EXIT, if set, is eval'ed after the servers are stopped
# (with $rc = the exit status), e.g. to remove the state directory.
wharf_servers_trap() {
    trap '_wharf_on_exit' EXIT
    trap '_wharf_on_signal 130' INT
    trap '_wharf_on_signal 143' TERM
    trap '_wharf_on_signal 129' HUP
}

_wharf_on_exit() {
    local rc=$?
    trap - EXIT INT TERM HUP
    wharf_servers_stop_all || true
    if [[ -n ${WHARF_SERVERS_ON_EXIT:-} ]]; then eval "$WHARF_SERVERS_ON_EXIT" || true; fi
    exit "$rc"
}

_wharf_on_signal() {
    _wharf_say "interrupted; stopping servers"
    exit "$1" # runs the EXIT trap
}

# ---------------------------------------------------------------- test env

# wharf_test_servers_up TMPDIR: start private RabbitMQ + Redis under TMPDIR
# and export the WHARF_TEST_* variables (plus sanitizer options) that the
# tests and tests/lib/wharftest.py read. WHARF_SRC is the repo root (by
# default the one this file lives in).
wharf_test_servers_up() {
    local tmp=$1
    # the repo root, unless the caller says otherwise (tests/run does)
    export WHARF_SRC=${WHARF_SRC:-$(cd "$WHARF_SERVERS_LIB/../.." && pwd)}
    wharf_rabbit_start "$tmp/rabbitmq" || return 1
    wharf_redis_start "$tmp/redis" || return 1
    mkdir -p "$tmp/work"
    export WHARF_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$WHARF_RMQ_AMQP_PORT/%2f"
    export WHARF_TEST_REDIS_URL="redis://127.0.0.1:$WHARF_REDIS_PORT/0"
    export WHARF_TEST_MGMT_URL="http://127.0.0.1:$WHARF_RMQ_MGMT_PORT"
    export WHARF_TEST_RABBITMQCTL="$WHARF_RMQ_CTL"
    export WHARF_TEST_TMP="$tmp/work"
    export WHARF_TEST_PYTHON=/usr/bin/python3
    export PYTHONPATH="$WHARF_SRC/tests/lib${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONDONTWRITEBYTECODE=1
    # ours first, so anything the caller already set wins
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=0:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    if [[ -f $WHARF_SRC/tests/lib/lsan.supp ]]; then
        export LSAN_OPTIONS="suppressions=$WHARF_SRC/tests/lib/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    fi
    cat >&2 <<EOT
[servers] test environment:
  WHARF_TEST_AMQP_URL=$WHARF_TEST_AMQP_URL
  WHARF_TEST_REDIS_URL=$WHARF_TEST_REDIS_URL
  WHARF_TEST_MGMT_URL=$WHARF_TEST_MGMT_URL
  WHARF_TEST_RABBITMQCTL=$WHARF_TEST_RABBITMQCTL
  WHARF_TEST_TMP=$WHARF_TEST_TMP
  RabbitMQ start time: ${WHARF_RMQ_START_SECONDS}s
EOT
}
