#!/usr/bin/env bash
# Makes a Compose CLI available so `docker compose config` / `docker-compose config` can validate
# docker-compose.yml (tests/integration/compose-config.test.ts). Validation needs no Docker engine.
#
# Preference: the Compose v2 plugin (`docker compose`) if it is already installed; otherwise
# `docker-compose`. Debian bookworm ships no v2 plugin (no docker-compose-plugin / docker-compose-v2
# package), only docker-compose 1.29 (Python), which understands the Compose Specification we use.
# Idempotent, non-interactive and quiet: prints one line saying which CLI is in use. Needs root (CI is).
set -euo pipefail

have_compose() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"; return 0; fi
  if command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
    echo "docker-compose"
    return 0
  fi
  return 1
}

if cli=$(have_compose); then
  echo "ensure-compose: using '${cli}' ($(${cli} version --short 2>/dev/null || true))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-compose: no Compose CLI and no apt-get; install the Docker Compose v2 plugin by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-compose: no Compose CLI; run this script as root (it installs Debian's docker-compose)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# An empty package list (fresh image) cannot resolve the package: refresh it first.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-cache show docker-compose >/dev/null 2>&1; then
  apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
apt-get install -y -qq --no-install-recommends docker-compose >"$log" 2>&1 || { cat "$log" >&2; exit 1; }

if cli=$(have_compose); then
  echo "ensure-compose: installed '${cli}' ($(${cli} version --short 2>/dev/null || true))"
else
  echo "ensure-compose: docker-compose was installed but does not run" >&2
  exit 1
fi
