#!/usr/bin/env bash
# Boots a throwaway RabbitMQ node from the locally installed server with the project's rabbitmq/
# files (rabbitmq.conf, enabled_plugins, definitions.json + dev-users.json as the compose file mounts
# them), checks that the config is accepted and the definitions were loaded, then stops that node.
# Runs beside an existing broker: own node name, loopback-only, ports 5673/15673/15693/25673.
# Needs root (or the rabbitmq user) and a local RabbitMQ installation; the Docker image is not needed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rmq_bin=${RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}
node="wi-confcheck-$$@localhost"
tmp=$(mktemp -d /tmp/wi-confcheck.XXXXXX)
started=no

ctl() { run_as_rabbitmq "$rmq_bin/rabbitmqctl" -n "$node" -q "$@"; }
run_as_rabbitmq() {
  if [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1; then
    # HOME holds the Erlang cookie the CLI tools share with the node.
    runuser -u rabbitmq -- env HOME="$(getent passwd rabbitmq | cut -d: -f6)" "$@"
  else
    "$@"
  fi
}
cleanup() {
  if [ "$started" = yes ]; then ctl stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/definitions.d" "$tmp/conf.d" "$tmp/mnesia" "$tmp/log"
cp "$root/rabbitmq/definitions.json" "$tmp/definitions.d/10-topology.json"
cp "$root/rabbitmq/dev-users.json" "$tmp/definitions.d/20-dev-users.json"
cp "$root/rabbitmq/enabled_plugins" "$tmp/enabled_plugins"
sed "s#/etc/rabbitmq/definitions.d#$tmp/definitions.d#" "$root/rabbitmq/rabbitmq.conf" >"$tmp/rabbitmq.conf"
cat >>"$tmp/rabbitmq.conf" <<EOF
# --- check-rabbitmq-conf.sh: run beside the local broker ---
listeners.tcp.local = 127.0.0.1:5673
management.tcp.ip = 127.0.0.1
management.tcp.port = 15673
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = 15693
log.file = check.log
log.dir = $tmp/log
EOF
: >"$tmp/rabbitmq-env.conf"
if [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq: "$tmp"; fi

run_as_rabbitmq env \
  RABBITMQ_NODENAME="$node" \
  RABBITMQ_CONF_ENV_FILE="$tmp/rabbitmq-env.conf" \
  RABBITMQ_CONFIG_FILE="$tmp/rabbitmq.conf" \
  RABBITMQ_CONFIG_FILES="$tmp/conf.d" \
  RABBITMQ_ADVANCED_CONFIG_FILE="$tmp/advanced.config" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$tmp/enabled_plugins" \
  RABBITMQ_MNESIA_BASE="$tmp/mnesia" \
  RABBITMQ_LOG_BASE="$tmp/log" \
  RABBITMQ_PID_FILE="$tmp/node.pid" \
  RABBITMQ_DIST_PORT=25673 \
  ERL_EPMD_ADDRESS=127.0.0.1 \
  "$rmq_bin/rabbitmq-server" >"$tmp/log/server.out" 2>&1 &
started=yes
node_up() {
  for _ in $(seq 1 90); do
    ctl ping >/dev/null 2>&1 && ctl await_startup --timeout 60 >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}
if ! node_up; then
  echo "check-rabbitmq-conf: node did not start; its output:" >&2
  tail -n 40 "$tmp/log/server.out" "$tmp"/log/*.log >&2 || true
  exit 1
fi

fail=0
check() { # description, command...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then echo "ok   $what"; else echo "FAIL $what" >&2; fail=1; fi
}
expected_queues=$(node -e 'console.log(require(process.argv[1]).queues.length)' "$root/rabbitmq/definitions.json")
queues_loaded() {
  for _ in $(seq 1 30); do
    [ "$(ctl list_queues -p / name --no-table-headers | grep -c .)" = "$expected_queues" ] && return 0
    sleep 1
  done
  return 1
}
no_password_login() { ! ctl authenticate_user bank-support ''; }
no_guest() { ! ctl list_users --no-table-headers | grep -q '^guest'; }
max_message_size_set() { ctl eval 'application:get_env(rabbit, max_message_size).' | grep -q 33554432; }
plugins_running() {
  ctl eval 'lists:all(fun(A) -> lists:keymember(A, 1, application:which_applications()) end, [rabbitmq_management, rabbitmq_prometheus]).' | grep -q true
}
password_survives_restart() {
  ctl change_password bank-support confcheck-secret &&
    ctl stop_app && ctl start_app && ctl await_startup --timeout 60 &&
    ctl authenticate_user bank-support confcheck-secret
}
check "config accepted, node running" ctl status
check "all $expected_queues queues of definitions.json loaded" queues_loaded
check "workitem (dev) user authenticates" ctl authenticate_user workitem workitem-dev
check "bank-support cannot sign in (no password)" no_password_login
check "no guest user seeded" no_guest
check "max_message_size is 32 MiB" max_message_size_set
check "management and prometheus plugins running" plugins_running
check "unchanged definitions are not re-imported on restart (operator's password kept)" password_survives_restart
exit $fail
