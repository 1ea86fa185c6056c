# Shared set-up for scripts/test and scripts/conformance (sourced, not run):
# a virtualenv in .venv, the project installed into it (editable, pinned by constraints.txt),
# and the external tools from the bootstrap. Quiet unless something fails.
# shellcheck shell=bash

MC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MC_VENV="$MC_ROOT/.venv"
MC_SCRIPT="${MC_SCRIPT:-$(basename "$0")}"
export MC_ROOT

mc_die() {
    echo "$MC_SCRIPT: $*" >&2
    exit 1
}

mc_can_apt() {
    [[ "$(id -u)" == 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null
}

# Install Debian packages quietly (root on Debian only); runs apt-get update first when the lists are empty.
mc_apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! compgen -G '/var/lib/apt/lists/*Packages*' >/dev/null; then
        timeout 600 apt-get update -qq >/dev/null || mc_die "apt-get update failed; fix: check the Debian mirror"
    fi
    timeout 900 apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || mc_die "apt-get install $* failed; fix: run it by hand to see why"
}

mc_python() {
    local py="${MC_PYTHON:-python3}"
    command -v "$py" >/dev/null || mc_die "MC_PYTHON=$py not found; fix: install Python 3.11+ or set MC_PYTHON"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || mc_die "MC_PYTHON=$py is $("$py" -V 2>&1), need 3.11+; fix: set MC_PYTHON to a Python 3.11+"
    echo "$py"
}

mc_venv() {
    local py err
    if [[ -x "$MC_VENV/bin/python" ]] && "$MC_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        return
    fi
    py="$(mc_python)"
    if ! err="$("$py" -m venv --clear "$MC_VENV" 2>&1)"; then
        if mc_can_apt; then
            mc_apt_install python3-venv
            err="$("$py" -m venv --clear "$MC_VENV" 2>&1)" \
                || mc_die "python3 -m venv .venv failed after installing python3-venv: ${err##*$'\n'}"
        else
            mc_die "'$py -m venv' is unavailable (${err##*$'\n'}); fix: as root run apt-get install python3-venv"
        fi
    fi
}

# pip install -e '.[dev]' with the pins, skipped when pyproject.toml and constraints.txt are unchanged.
mc_install() {
    local stamp="$MC_VENV/.mc-install-stamp" log="$MC_VENV/pip-install.log" want
    want="$(cat "$MC_ROOT/pyproject.toml" "$MC_ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$MC_VENV/bin/tox" ]]; then
        return
    fi
    if ! timeout 900 "$MC_VENV/bin/python" -m pip install --disable-pip-version-check -q \
        -c "$MC_ROOT/constraints.txt" -e "${MC_ROOT}[dev]" >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        mc_die "pip install -e '.[dev]' failed (full log: $log); fix: check PyPI access and constraints.txt"
    fi
    echo "$want" >"$stamp"
}

# Usage: mc_setup [bootstrap args...]
mc_setup() {
    mc_venv
    mc_install
    MC_PYTHON="$MC_VENV/bin/python" "$MC_ROOT/scripts/bootstrap" "$@"
    export PATH="$MC_ROOT/.tools/bin:$MC_VENV/bin:$PATH"
}
