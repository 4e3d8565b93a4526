#!/usr/bin/env bash
# Fetch Debian's cloud kernel package without installing it and extract both
# the bzImage and the ELF vmlinux inside it (the payload is LZ4-compressed).
#
#   scripts/guest-linux.sh [OUTDIR]      (default: build/linux-debian)
#
# Prints the output directory. Needs apt lists (apt-get update) and lz4;
# installs lz4 when run as root and it is missing.
set -euo pipefail

out=${1:-build/linux-debian}
if [ -s "$out/vmlinux" ] && [ -s "$out/bzImage" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ! command -v lz4 >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq lz4 >/dev/null
  else
    echo "guest-linux.sh: lz4 is missing: apt-get install lz4" >&2
    exit 1
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The metapackage depends on the versioned image package; fetch that one.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -qq
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "guest-linux.sh: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
apt-get download "$pkg" >/dev/null
dpkg-deb -x ./*.deb root
vmlinuz=$(ls root/boot/vmlinuz-* | head -n1)
cp "$vmlinuz" "$out/bzImage.tmp"

# The compressed kernel starts at the LZ4 legacy-frame magic 02 21 4c 18.
off=$(grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | head -n1 | cut -d: -f1)
[ -n "$off" ] || { echo "guest-linux.sh: no LZ4 payload in $vmlinuz" >&2; exit 1; }
# lz4 complains about the bytes after the payload; the ELF check below is what counts.
tail -c +"$((off + 1))" "$vmlinuz" | lz4 -dc > "$out/vmlinux.tmp" 2>/dev/null || true
if [ "$(head -c 4 "$out/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" != "7f454c46" ]; then
  echo "guest-linux.sh: decompressed payload is not an ELF file" >&2
  exit 1
fi
echo "${pkg#linux-image-}" > "$out/version"
mv "$out/vmlinux.tmp" "$out/vmlinux"
mv "$out/bzImage.tmp" "$out/bzImage"
echo "$out"
