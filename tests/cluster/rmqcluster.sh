#!/usr/bin/env bash
# A private RabbitMQ cluster on loopback for tests/cluster, from Debian's
# rabbitmq-server, built on tests/lib/servers.sh:
#
#   rmqcluster.sh up DIR [N]     start N nodes (default 3) in parallel, then
#                                join nodes 2..N to node 1 (join_cluster)
#   rmqcluster.sh kill DIR I     SIGKILL node I's Erlang VM (its beam PID)
#   rmqcluster.sh start DIR I    start node I again on its old ports, keeping
#                                its data, so it rejoins the cluster
#   rmqcluster.sh down DIR       stop every node and the shared epmd; fails
#                                if any process we started is still alive
#
# Node I lives in DIR/nI (see servers.sh: env.sh, beam.pid, bin/rabbitmqctl)
# and is named wharfcI@localhost. All nodes share one epmd (DIR/epmd.pid, on a
# private port) and one Erlang cookie (DIR/cookie, written to each node's own
# HOME/.erlang.cookie). Everything listens on 127.0.0.1 only; only PIDs
# recorded under DIR (or carrying a node's WHARF_SERVER_TAG) are signalled.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/servers.sh
source "$here/../lib/servers.sh"

say() { printf '[rmqcluster] %s\n' "$*" >&2; }

# node_env DIR I VAR: a variable from node I's env.sh.
node_env() { sed -n "s/^export $3=//p" "$1/n$2/env.sh" 2>/dev/null; }

# start_node DIR I [AMQP MGMT]: one node against the shared epmd and cookie.
start_node() {
    local dir=$1 i=$2 amqp=${3:-} mgmt=${4:-}
    WHARF_RMQ_EPMD_PORT=$(cat "$dir/epmd.port") WHARF_RMQ_COOKIE=$(cat "$dir/cookie") \
        wharf_rabbit_start "$dir/n$i" "$amqp" "$mgmt" "wharfc$i"
}

up() {
    local dir=$1 n=${2:-3} i t0=$SECONDS
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    local epmd
    epmd=$(_wharf_free_ports) || return 1
    echo "$epmd" >"$dir/epmd.port"
    printf 'export WHARF_SERVER_TAG=%q\n' "rmqc-epmd-$$-$RANDOM$RANDOM" >"$dir/epmd.env"
    (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/cookie") || return 1
    _wharf_spawn "$dir/epmd.pid" "$dir/epmd.log" "$dir/epmd.env" epmd -port "$epmd" -address 127.0.0.1 >/dev/null ||
        return 1
    for ((i = 0; i < 50; i++)); do _wharf_port_open "$epmd" && break; sleep 0.1; done
    # Erlang boots slowly on small machines: start every node at once.
    local -a pids=()
    for ((i = 1; i <= n; i++)); do
        start_node "$dir" "$i" >"$dir/n$i.start.log" 2>&1 &
        pids+=($!)
    done
    local rc=0
    for ((i = 1; i <= n; i++)); do
        if ! wait "${pids[i - 1]}"; then
            say "node $i failed to start:"
            cat "$dir/n$i.start.log" >&2
            rc=1
        fi
    done
    ((rc == 0)) || return 1
    say "$n nodes up in $((SECONDS - t0))s; joining them"
    for ((i = 2; i <= n; i++)); do
        local ctl=$dir/n$i/bin/rabbitmqctl
        { timeout 120 "$ctl" stop_app && timeout 120 "$ctl" join_cluster wharfc1@localhost &&
            timeout 120 "$ctl" start_app; } >>"$dir/n$i/log/ctl.log" 2>&1 ||
            { say "node $i could not join node 1"; tail -n 20 "$dir/n$i/log/ctl.log" >&2; return 1; }
    done
    local running
    running=$(timeout 60 "$dir/n1/bin/rabbitmqctl" cluster_status --formatter json 2>/dev/null |
        "$WHARF_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')
    [[ $running == "$n" ]] || { say "cluster_status: $running of $n nodes running"; return 1; }
    say "cluster of $n nodes ready in $((SECONDS - t0))s"
}

kill_node() {
    local dir=$1 i=$2 pid
    pid=$(_wharf_read_pid "$dir/n$i/beam.pid")
    _wharf_pid_ok "$pid" beam || { say "node $i: no live beam (pid '$pid')"; return 1; }
    kill -KILL "$pid"
    _wharf_wait_gone 30 "$pid:beam" || { say "node $i: beam $pid survived SIGKILL"; return 1; }
    echo "$pid"
}

restart_node() {
    local dir=$1 i=$2
    WHARF_SERVERS_KEEP_DATA=1 start_node "$dir" "$i" "$(node_env "$dir" "$i" WHARF_RMQ_AMQP_PORT)" \
        "$(node_env "$dir" "$i" WHARF_RMQ_MGMT_PORT)"
}

down() {
    local dir=$1 d rc=0
    [[ -d $dir ]] || return 0
    local -a pids=()
    for d in "$dir"/n[0-9]*/; do
        [[ -f $d/env.sh ]] || continue
        wharf_rabbit_stop "$d" &
        pids+=($!)
    done
    for d in "${pids[@]}"; do wait "$d" || rc=1; done
    if [[ -f $dir/epmd.pid ]]; then
        _wharf_stop_pid "$(_wharf_read_pid "$dir/epmd.pid")" epmd 5
        local tag
        tag=$(sed -n 's/^export WHARF_SERVER_TAG=//p' "$dir/epmd.env")
        [[ -z $(_wharf_tagged_pids "$tag") ]] || { say "epmd still alive"; rc=1; }
        rm -f "$dir/epmd.pid"
    fi
    return $rc
}

case ${1:-} in
up) up "$2" "${3:-3}" ;;
kill) kill_node "$2" "$3" ;;
start) restart_node "$2" "$3" ;;
down) down "$2" ;;
*) echo "usage: $0 up DIR [N] | kill DIR I | start DIR I | down DIR" >&2; exit 2 ;;
esac
