# shellcheck shell=bash
# PaveMaster local environment. Source it (do not execute it):
#
#   source scripts/env.sh
#
# It is sourced by every other script and by the integration tests. It only
# exports variables (and creates the empty local state folder and the CLI's
# disabled log folder, see PULUMI_HOME below, and sets the checkout's stack-file clean filter, see
# PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER below); it builds and starts nothing (see scripts/toolchain and
# scripts/cluster). Every path is computed here at run time.
#
#   PAVEMASTER_ROOT     the repository root
#   PAVEMASTER_CACHE    cache folder outside the repo (default ~/.cache/pavemaster);
#                       the toolchain's builds live in $PAVEMASTER_CACHE/toolchain
#                       (PAVEMASTER_TOOLCHAIN), one folder per build fingerprint
#   PAVEMASTER_TOOLCHAIN_BIN
#                       <repo>/.local/toolchain/bin: this checkout's links to the
#                       builds of its own toolchain/ wrappers (scripts/toolchain)
#   PATH                <repo>/.local/nodejs/bin first (Node.js 24 and npm, linked
#                       by scripts/nodejs), then PAVEMASTER_TOOLCHAIN_BIN (pulumi, its language
#                       host, kubectl, kwokctl, etcd, kube-*), then the shared
#                       $PAVEMASTER_TOOLCHAIN/bin (a fallback for scratch copies
#                       of a checkout that never ran scripts/toolchain)
#   PULUMI_HOME         <repo>/.pulumi-home   (plugins; gitignored)
#   PULUMI_BACKEND_URL  file://<repo>/.pulumi-state   (local state; gitignored)
#   PULUMI_CONFIG_PASSPHRASE
#                       kept if already set; otherwise "pavemaster-local-only".
#                       That default protects nothing: it exists only so the
#                       local file backend works without a prompt. Never use it
#                       for a stack whose secrets matter.
#   PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER
#                       kept if already set; otherwise true: the secrets provider
#                       comes from the stack's state (no salt is committed)
#   KUBECONFIG          kubeconfig of the local kwok cluster "pavemaster"
#   KWOK_WORKDIR        <repo>/.local/kwok   (kwokctl state; gitignored)

_pavemaster_env_src="${BASH_SOURCE[0]:-$0}"
PAVEMASTER_ROOT="$(cd "$(dirname "$_pavemaster_env_src")/.." && pwd -P)"
unset _pavemaster_env_src
export PAVEMASTER_ROOT

export PAVEMASTER_CACHE="${PAVEMASTER_CACHE:-${HOME}/.cache/pavemaster}"
export PAVEMASTER_TOOLCHAIN="${PAVEMASTER_CACHE}/toolchain"
export PAVEMASTER_TOOLCHAIN_BIN="${PAVEMASTER_ROOT}/.local/toolchain/bin"
export PAVEMASTER_CLUSTER_NAME="${PAVEMASTER_CLUSTER_NAME:-pavemaster}"

case ":${PATH}:" in
  *":${PAVEMASTER_TOOLCHAIN}/bin:"*) ;;
  *) export PATH="${PAVEMASTER_TOOLCHAIN}/bin:${PATH}" ;;
esac
case ":${PATH}:" in
  *":${PAVEMASTER_TOOLCHAIN_BIN}:"*) ;;
  *) export PATH="${PAVEMASTER_TOOLCHAIN_BIN}:${PATH}" ;;
esac
# Node.js 24 and its npm (scripts/nodejs installs them; absent until it has run, then the machine's node is used).
case ":${PATH}:" in
  *":${PAVEMASTER_ROOT}/.local/nodejs/bin:"*) ;;
  *) export PATH="${PAVEMASTER_ROOT}/.local/nodejs/bin:${PATH}" ;;
esac

export PULUMI_HOME="${PAVEMASTER_ROOT}/.pulumi-home"
# Speed (issue 15): every CLI command writes an automatic debug log of every engine event (JSON, gzip, resource
# inputs marshalled) into $PULUMI_HOME/logs, even at -v=0, and Pulumi 3.259 has no switch to turn it off; it costs
# about a sixth of a no-change preview or up of staging here (bench `--variant`, README "Benchmarks"). When `logs`
# is not a folder the CLI cannot create the file and runs without it, silently. PAVEMASTER_PULUMI_AUTO_LOG=1 keeps
# the log (for a bug report to Pulumi); explicit `--logtostderr -v=N` and `--logflow` work either way.
if [[ "${PAVEMASTER_PULUMI_AUTO_LOG:-}" == 1 ]]; then
  if [[ -L "${PULUMI_HOME}/logs" ]]; then rm -f "${PULUMI_HOME}/logs" || true; fi
elif [[ ! -L "${PULUMI_HOME}/logs" ]]; then
  { mkdir -p "${PULUMI_HOME}" && rm -rf "${PULUMI_HOME}/logs" && ln -sfn /dev/null "${PULUMI_HOME}/logs"; } || true
fi
export PULUMI_BACKEND_URL="file://${PAVEMASTER_ROOT}/.pulumi-state"
# The file backend refuses a state folder that does not exist (a fresh clone has none).
mkdir -p "${PAVEMASTER_ROOT}/.pulumi-state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-pavemaster-local-only}"
# The committed stack files carry no secrets-provider state (issue 17): a stack's provider (the passphrase salt, a
# KMS key) lives in its state, and with this the CLI uses that one when Pulumi.<stack>.yaml has none, instead of
# making a new salt that cannot decrypt the stack's secrets. The CLI then writes it into the working stack file;
# the clean filter of .gitattributes (set up below, the same command as release/git.ts STACK_FILE_CLEAN) keeps
# those lines out of git, so `git diff` shows no change and no commit carries them.
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER="${PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER-true}"
_pavemaster_clean="sed -E '/^(encryptionsalt|encryptedkey|secretsprovider):/d'"
if git -C "${PAVEMASTER_ROOT}" rev-parse --git-dir >/dev/null 2>&1 &&
  [[ "$(git -C "${PAVEMASTER_ROOT}" config --get filter.pulumi-stack.clean 2>/dev/null)" != "${_pavemaster_clean}" ]]; then
  git -C "${PAVEMASTER_ROOT}" config filter.pulumi-stack.clean "${_pavemaster_clean}" || true
fi
unset _pavemaster_clean
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true

export KWOK_WORKDIR="${PAVEMASTER_ROOT}/.local/kwok"
export KUBECONFIG="${KWOK_WORKDIR}/clusters/${PAVEMASTER_CLUSTER_NAME}/kubeconfig.yaml"
