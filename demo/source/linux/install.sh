#!/bin/sh
# Seattle DEMO installer for linux. It installs nothing: it checks seattle_repy/vesselinfo the way
# the node would and prints the vessels a real install would create.
# Usage: ./install.sh [--dry-run]   (both forms only print; this is a demo)
here=$(cd "$(dirname "$0")" && pwd) || exit 1
if command -v python3 >/dev/null 2>&1; then
  exec python3 "$here/seattle_repy/demo_install.py" --platform linux "$@"
fi
echo "install.sh: this demo needs Python 3 (python3 was not found on PATH)." >&2
exit 1
