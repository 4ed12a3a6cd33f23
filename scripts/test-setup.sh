#!/usr/bin/env bash
# What `npm test` needs on a fresh machine of ours, set up idempotently before the tests run:
#   - RabbitMQ on 127.0.0.1:5672 and Redis on 127.0.0.1:6379 (started the machine's way if they do not answer);
#   - a Compose CLI, so the compose tests can run `docker compose config` (no Docker engine needed for that);
#   - Debian's Chromium, which the dashboard's browser tests drive through playwright-core.
#   - for the example senders: a JDK (javac), Debian's RabbitMQ Java client and slf4j jars, and python3-pika.
# Each step prints one line. Installing needs root and Debian's package lists (apt-get); without them the step says
# what to install by hand and the tests that need it fail with the same hint.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test-setup] %s\n' "$*"; }
as_root() { [ "$(id -u)" -eq 0 ]; }
apt_install() {
  local pkg=$1 out
  out=$(mktemp)
  if ! as_root || ! command -v apt-get >/dev/null 2>&1; then
    log "cannot install $pkg (needs root and apt-get): install it by hand"
    return 1
  fi
  # A fresh image has empty package lists: refresh them once when the package is unknown.
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then apt-get update -qq >"$out" 2>&1 || true; fi
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >"$out" 2>&1; then
    rm -f "$out"
    return 0
  fi
  log "apt-get install $pkg failed:"
  tail -n 20 "$out"
  rm -f "$out"
  return 1
}

if rabbitmqctl -q status >/dev/null 2>&1; then
  log "RabbitMQ answers"
else
  log "starting RabbitMQ"
  rabbitmq-server -detached
  rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1 || rabbitmqctl -q wait --timeout 120 /var/lib/rabbitmq/mnesia/rabbit@localhost.pid
fi
# The management API makes per-test vhosts cheap (tests fall back to rabbitmqctl without it).
rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || log "management plugin not enabled (tests use rabbitmqctl)"

if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "Redis answers"
else
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

bash scripts/ensure-compose.sh || log "no Compose CLI: the compose tests will fail"

chromium_path=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$chromium_path" ]; then
  log "Chromium at $chromium_path"
else
  log "installing Debian's chromium for the dashboard's browser tests (once)"
  apt_install chromium && log "Chromium installed" || log "no Chromium: the browser tests will fail"
fi

# The example senders (tests/integration/sender-examples.test.ts): Java with Debian's RabbitMQ client and slf4j jars,
# compiled with javac; Python with Debian's pika (for Debian's /usr/bin/python3).
if command -v javac >/dev/null 2>&1; then
  log "javac at $(command -v javac)"
else
  log "installing a JDK for the Java example sender (once)"
  apt_install default-jdk-headless && log "JDK installed" || log "no javac: the Java sender test will fail"
fi
if [ -f /usr/share/java/amqp-client.jar ]; then
  log "RabbitMQ Java client at /usr/share/java/amqp-client.jar"
else
  log "installing Debian's librabbitmq-client-java for the Java example sender (once)"
  apt_install librabbitmq-client-java && log "RabbitMQ Java client installed" || log "no RabbitMQ Java client: the Java sender test will fail"
fi
if [ -f /usr/share/java/slf4j-api.jar ] && [ -f /usr/share/java/slf4j-simple.jar ]; then
  log "slf4j jars in /usr/share/java"
else
  log "installing Debian's libslf4j-java for the Java example sender (once)"
  apt_install libslf4j-java && log "slf4j installed" || log "no slf4j jars: the Java sender test will fail"
fi
if /usr/bin/python3 -c 'import pika' >/dev/null 2>&1; then
  log "pika importable by /usr/bin/python3"
else
  log "installing Debian's python3-pika for the Python example sender (once)"
  apt_install python3-pika && log "pika installed" || log "no pika: the Python sender test will fail"
fi
exit 0
