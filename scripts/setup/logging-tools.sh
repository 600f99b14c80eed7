#!/usr/bin/env bash
# Installs what the logging tests check the generated configuration with (see docs/logging.md):
# - logstash-pipeline-parser (PyPI), a parser of Logstash's pipeline grammar, in a virtualenv under the cache;
# - shellcheck, curl and awk (Debian), which lint and run the setup Jobs' scripts against a local server;
# - a JDK (Debian), whose TLS stack (JSSE, what Logstash runs on) checks Logstash's output settings for an external
#   Elasticsearch against a local HTTPS endpoint (test/support/java/EsOutputClient.java).
# Idempotent: quick when everything is there already.
set -euo pipefail

CACHE="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}"
VENV="$CACHE/logging-venv"
PARSER_VERSION=0.0.3
PYPARSING_VERSION=3.3.2

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v awk >/dev/null 2>&1 || missing+=(mawk)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

installed_version() {
  "$VENV/bin/python3" -c 'import importlib.metadata as m; print(m.version("logstash-pipeline-parser"))' 2>/dev/null || true
}

if [ "$(installed_version)" != "$PARSER_VERSION" ]; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/python3" -m pip install -q --disable-pip-version-check \
    "logstash-pipeline-parser==$PARSER_VERSION" "pyparsing==$PYPARSING_VERSION"
fi

echo "logstash-pipeline-parser $(installed_version) in $VENV; $(shellcheck --version | sed -n 2p); $(javac -version 2>&1)"
