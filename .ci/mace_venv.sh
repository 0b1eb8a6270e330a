#!/usr/bin/env bash
# Build (or reuse) the separate venv that runs mace-torch for `litraj finetune --model mace-mp-0 --python`
# and for `litraj bench umlip --model mace-mp-0` (LITRAJ_MACE_PYTHON / --python).
#
#   .ci/mace_venv.sh [DIR]      default DIR: ${LITRAJ_MACE_VENV:-$HOME/.cache/litraj-ci/mace-venv}
#
# mace-torch pins e3nn 0.4.4 while sevenn/nequip need e3nn >= 0.5, so it can never join the main env.
# The venv holds mace-torch and its own dependencies only: litraj-data is NOT installed there. The main
# env drives mace's own CLIs (`python -m mace.cli.run_train`, `mace.cli.eval_configs`) and the small
# stand-alone calculator server (leaderboard/reference/umlip/mace_server.py, stdlib + mace + ase + numpy)
# as child processes.
#
# Idempotent: a venv whose python imports mace's CLIs and reports the pinned torch is reused as is
# (prints its python and exits 0). Prints the venv's python on the last line of stdout.
# Exit 2 (with the reason) when pip cannot reach its index (offline) or the install fails.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${LITRAJ_MACE_VENV:-$HOME/.cache/litraj-ci/mace-venv}}"
py="$dir/bin/python"
torch_pin=$(grep -E '^torch==' "$here/constraints-cpu.txt" | head -n1)
torch_pin="${torch_pin:-torch==2.13.0}"
want_torch="${torch_pin#torch==}"

probe() {
  [ -x "$py" ] && "$py" - "$want_torch" <<'EOF' >/dev/null 2>&1
import sys
import torch, mace.cli.run_train, mace.cli.eval_configs, mace.calculators  # noqa: F401
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
EOF
}

if probe; then
  echo "mace venv: reusing $dir ($("$py" -c 'import mace; print("mace-torch", mace.__version__)'))" >&2
  echo "$py"
  exit 0
fi

echo "mace venv: building $dir" >&2
t0=$(date +%s)
mkdir -p "$(dirname "$dir")"
# a venv is not relocatable (its scripts name their folder): rebuild in place; a failed build is removed
rm -rf "$dir"
python3 -m venv "$dir"
pip_() {
  local out rc
  # few retries, short timeout: offline fails in about a minute, not after pip's default back-off
  out=$("$py" -m pip install -q --retries 2 --timeout 30 "$@" 2>&1) && rc=0 || rc=$?
  # this machine's pip lists extra local indexes that lack most names: drop those lines, keep the rest
  printf '%s\n' "$out" | grep -v "^WARNING: Location '.*' is ignored" >&2 || true
  if [ "$rc" -ne 0 ]; then
    echo "mace venv: 'pip install $*' failed: is the package index reachable (offline?) -- see pip's message above" >&2
    rm -rf "$dir"
    exit 2
  fi
}
# the CPU wheel first, as README's set-up line does (this machine's pip serves the CPU build of the pin)
pip_ "$torch_pin"
# then mace-torch, torch held at the pin
pip_ -c "$here/constraints-cpu.txt" mace-torch
if ! probe; then
  echo "mace venv: $py cannot import mace's CLIs with $torch_pin after the install" >&2
  exit 2
fi
echo "mace venv: built in $(( $(date +%s) - t0 )) s ($("$py" -c 'import mace, e3nn; print("mace-torch", mace.__version__, "e3nn", e3nn.__version__)'))" >&2
echo "$py"
