#!/usr/bin/env bash
# Sets up everything pileflow needs on a fresh Debian/Ubuntu machine, idempotently:
#   - Debian packages the tests and benchmarks compare against: samtools, bcftools, tabix, and
#     the outside read simulators and aligners of the case study (ART, bwa, pbsim, minimap2)
#   - Debian chromium: the report tests open the HTML reports headless and screenshot them
#   - a virtual environment at .venv/ with pileflow installed editable, all extras
# Reruns are cheap: the pip step is skipped while setup.py/pyproject.toml are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need_apt=()
for tool in samtools bcftools tabix chromium bwa minimap2 pbsim; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
# ART's Debian package is named after the project, not its art_illumina command.
command -v art_illumina >/dev/null 2>&1 || need_apt+=(art-nextgen-simulation-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: error: ${need_apt[*]} missing and apt-get not found; install them with your package manager" >&2
    exit 1
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating virtual environment .venv/ with $($python --version)"
  "$python" -m venv .venv
fi

stamp=.venv/.pileflow-install-stamp
want=$(cat setup.py pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing pileflow and its dependencies into .venv/ (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  .venv/bin/python -m pip install -q -e ".[all]"
  echo "$want" > "$stamp"
fi
# Compile the .proto contract in the checkout (editable installs skip build_py).
.venv/bin/python -c "import schemas" >/dev/null
echo "setup: ready ($root/.venv)"
