#!/bin/sh
# Register ndviewer for the current user (no root): .nwb files get their own type
# (application/x-nwb, a kind of HDF5), an icon, and open in ndviewer on a double click.
#
#   sh install-linux.sh [PATH-TO-NDVIEWER]
#
# PATH-TO-NDVIEWER defaults to the `ndviewer` on PATH (a pip install) or, run from inside a
# bundle, the bundle's own executable. Undo with: sh install-linux.sh --uninstall
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
icons="$data/icons/hicolor/scalable"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$data/applications/ndviewer.desktop" "$data/mime/packages/ndviewer-mime.xml" \
        "$icons/apps/ndviewer.svg" "$icons/mimetypes/application-x-nwb.svg"
    update-mime-database "$data/mime" >/dev/null 2>&1 || true
    echo "ndviewer's file association removed."
    exit 0
fi

exe=${1:-}
if [ -z "$exe" ]; then
    for candidate in "$here/../../ndviewer" "$(command -v ndviewer || true)"; do
        if [ -n "$candidate" ] && [ -f "$candidate" ] && [ -x "$candidate" ]; then exe=$candidate; break; fi
    done
fi
if [ -z "$exe" ] || [ ! -f "$exe" ] || [ ! -x "$exe" ]; then
    echo "install-linux.sh: ndviewer was not found; give its path: sh $0 /path/to/ndviewer" >&2
    exit 2
fi
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")

mkdir -p "$data/applications" "$data/mime/packages" "$icons/apps" "$icons/mimetypes"
# Exec gets the absolute path, quoted as the Desktop Entry spec asks (spaces are allowed).
sed "s|^Exec=ndviewer |Exec=\"$exe\" |" "$here/ndviewer.desktop" > "$data/applications/ndviewer.desktop"
cp "$here/ndviewer-mime.xml" "$data/mime/packages/ndviewer-mime.xml"
icon="$here/../icons/ndviewer.svg"
cp "$icon" "$icons/apps/ndviewer.svg"
cp "$icon" "$icons/mimetypes/application-x-nwb.svg"
update-mime-database "$data/mime"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data/applications" >/dev/null 2>&1 || true
fi
if command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default ndviewer.desktop application/x-nwb
fi
echo "ndviewer now opens .nwb files (application/x-nwb) for $(id -un)."
