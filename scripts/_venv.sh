# Shared by scripts/demo, scripts/test and bench/run: make .venv and install tagwire into it.
# Usage: . scripts/_venv.sh EXTRAS   (EXTRAS: "" or "[test]")
#
# The install is editable, so a change to the code needs no reinstall. The install is
# skipped when .venv/.tagwire-install says this pyproject.toml was installed by this Python
# with these extras (an install with extras also serves a call without); a changed
# pyproject.toml, a new Python or a removed `tagwire` command installs again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "tagwire needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
_tw_stamp=.venv/.tagwire-install
_tw_hash="$(
    { .venv/bin/python -c 'import sys; print(sys.version)'; cat pyproject.toml; } |
        .venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
)"
_tw_installed() {
    [ -x .venv/bin/tagwire ] && [ -f "$_tw_stamp" ] &&
        [ "$(head -n 1 "$_tw_stamp")" = "$_tw_hash" ] &&
        { [ -z "$1" ] || grep -qxF "extras $1" "$_tw_stamp"; }
}
if ! _tw_installed "$1"; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$1"
    if [ -f "$_tw_stamp" ] && [ "$(head -n 1 "$_tw_stamp")" = "$_tw_hash" ]; then
        echo "extras $1" >> "$_tw_stamp"
    else
        printf '%s\nextras %s\n' "$_tw_hash" "$1" > "$_tw_stamp"
    fi
fi
unset -f _tw_installed
unset _tw_stamp _tw_hash
