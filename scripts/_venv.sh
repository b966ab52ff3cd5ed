# Shared by scripts/run and scripts/test (sourced, not executed).
# Creates .venv when missing and installs a requirements file, skipping pip when a
# stamp file shows the requirements are unchanged since the last successful install.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="$ROOT/.venv"
VENV_PY="$VENV/bin/python"

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

ensure_venv() {
    if [[ -x "$VENV_PY" ]] && "$VENV_PY" -c '' 2>/dev/null; then
        return 0
    fi
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null 2>&1 || die "$python not found; install Python 3.11 (apt-get install python3 python3-venv)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "IGNY8 needs Python 3.11 or newer; $python is $("$python" -V 2>&1). Set PYTHON=/path/to/python3.11"
    "$python" -c 'import ensurepip, venv' 2>/dev/null \
        || die "$python cannot create virtual environments; install it with: apt-get install python3-venv"
    say "Creating virtual environment in .venv"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
}

# requirements_hash FILE... : one sha256 over the given files.
requirements_hash() {
    cat "$@" | sha256sum | cut -d' ' -f1
}

# install_requirements STAMP_NAME REQUIREMENTS_FILE [EXTRA_FILES_THAT_AFFECT_IT...]
install_requirements() {
    local stamp="$VENV/$1" req="$2"
    shift 2
    local want
    want="$(requirements_hash "$ROOT/$req" "${@/#/$ROOT/}")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    say "Installing $req into .venv"
    "$VENV_PY" -m pip install --disable-pip-version-check --quiet --upgrade pip
    "$VENV_PY" -m pip install --disable-pip-version-check -r "$ROOT/$req"
    printf '%s\n' "$want" > "$stamp"
}
