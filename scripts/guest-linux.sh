#!/usr/bin/env bash
# Linux guest kernels for vmm.
#
#   scripts/guest-linux.sh [debian] [OUTDIR]   (default; OUTDIR: build/linux-debian)
#       Fetch Debian's cloud kernel package without installing it and extract
#       both the bzImage and the ELF vmlinux inside it (LZ4-compressed payload).
#       Prints the output directory.
#
#   scripts/guest-linux.sh build [--acpi] [ROOT]   (ROOT: build/linux-guest)
#       Build our own small kernel from Debian's linux-source-6.1: tinyconfig
#       (64-bit) + guest/linux/vmm.config, vmlinux only, plus a busybox
#       initramfs whose /init is guest/linux/init. Outputs go to
#       ROOT/<key>/{vmlinux,initramfs.cpio.gz,config,version,build-seconds}
#       where <key> is the first 16 hex digits of
#       sha256(guest/linux/vmm.config followed by guest/linux/init)
#       (cmd/vmm/linux_test.go computes the same key). ROOT/current links to
#       the newest <key>. A second run with the same inputs does nothing.
#       Prints the output directory.
#       --acpi builds the ACPI variant: guest/linux/acpi.config merged after
#       vmm.config, in an object tree of its own; <key> hashes vmm.config,
#       acpi.config and init, in that order; ROOT/current-acpi links to it.
#
#   scripts/guest-linux.sh rootfs [ROOT]       (ROOT: build/linux-rootfs)
#       An ext4 image holding the initramfs's files (static busybox, /init
#       from guest/linux/init), made with mkfs.ext4 -d as
#       guest/linux/rootfs.conf says: ROOT/<key>/rootfs.ext4, <key> from
#       sha256(guest/linux/rootfs.conf followed by guest/linux/init).
#       ROOT/current links to it. Prints the output directory.
#
# Installs what it needs with apt-get when run as root (CI starts from a
# machine with only Go, gcc and make).
set -euo pipefail

die() { echo "guest-linux.sh: $*" >&2; exit 1; }

# need PKG... installs the Debian packages that are not installed yet.
need() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]}: run as root or apt-get install ${missing[*]}"
  echo "guest-linux.sh: installing ${missing[*]}" >&2
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

repo=$(cd "$(dirname "$0")/.." && pwd)

debian() {
  local out=${1:-build/linux-debian}
  if [ -s "$out/vmlinux" ] && [ -s "$out/bzImage" ]; then
    echo "$out"
    return 0
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  command -v lz4 >/dev/null || need lz4

  local work
  work=$(mktemp -d)
  # Expanded now: $work is local and gone by the time the EXIT trap runs.
  trap "rm -rf '$work'" EXIT
  cd "$work"

  # The metapackage depends on the versioned image package; fetch that one.
  local pkg
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
  [ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 (run apt-get update)"
  apt-get download "$pkg" >/dev/null
  dpkg-deb -x ./*.deb root
  local vmlinuz
  vmlinuz=$(ls root/boot/vmlinuz-* | head -n1)
  cp "$vmlinuz" "$out/bzImage.tmp"

  # The compressed kernel starts at the LZ4 legacy-frame magic 02 21 4c 18.
  local off
  off=$(grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | head -n1 | cut -d: -f1)
  [ -n "$off" ] || die "no LZ4 payload in $vmlinuz"
  # lz4 complains about the bytes after the payload; the ELF check below is what counts.
  tail -c +"$((off + 1))" "$vmlinuz" | lz4 -dc > "$out/vmlinux.tmp" 2>/dev/null || true
  if [ "$(head -c 4 "$out/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" != "7f454c46" ]; then
    die "decompressed payload is not an ELF file"
  fi
  echo "${pkg#linux-image-}" > "$out/version"
  mv "$out/vmlinux.tmp" "$out/vmlinux"
  mv "$out/bzImage.tmp" "$out/bzImage"
  echo "$out"
}

# check_fragment CONFIG FRAGMENT [NAME] fails naming every option of
# FRAGMENT (called NAME in the message) that olddefconfig dropped or changed
# (a missing dependency, a typo, a default that wins).
check_fragment() {
  local config=$1 frag=$2 what=${3:-$2} bad=() line name
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*)
        grep -qxF "$line" "$config" || bad+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$config" || echo 'absent'))")
        ;;
      "# CONFIG_"*" is not set")
        name=${line#\# }
        name=${name%% *}
        if grep -q "^$name=" "$config"; then bad+=("$line (got: $(grep "^$name=" "$config"))"); fi
        ;;
    esac
  done < "$frag"
  if [ ${#bad[@]} -gt 0 ]; then
    echo "guest-linux.sh: options of $what that did not survive olddefconfig:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
  fi
}

# effective_fragment FRAGMENT... prints the fragments' option lines with a
# later fragment's line replacing an earlier one for the same option: what
# merge_config.sh makes of them, and what olddefconfig must keep.
effective_fragment() {
  awk '
    /^CONFIG_[A-Za-z0-9_]+=/ { name = $0; sub(/=.*/, "", name) }
    /^# CONFIG_[A-Za-z0-9_]+ is not set$/ { name = $2 }
    name != "" { if (!(name in line)) order[++n] = name; line[name] = $0; name = "" }
    END { for (i = 1; i <= n; i++) print line[order[i]] }
  ' "$@"
}

build() {
  local variant=""
  if [ "${1:-}" = --acpi ]; then
    variant=acpi
    shift
  fi
  local root=${1:-build/linux-guest}
  local frags=("$repo/guest/linux/vmm.config") init=$repo/guest/linux/init
  [ -n "$variant" ] && frags+=("$repo/guest/linux/$variant.config")
  local f
  for f in "${frags[@]}" "$init"; do
    [ -f "$f" ] || die "$f is missing"
  done
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  local key out link=current${variant:+-$variant}
  key=$(cat "${frags[@]}" "$init" | sha256sum | cut -c1-16)
  out=$root/$key
  if [ -s "$out/vmlinux" ] && [ -s "$out/initramfs.cpio.gz" ]; then
    ln -sfn "$key" "$root/$link"
    echo "$out"
    return 0
  fi

  need linux-source-6.1 bc bison flex libelf-dev libssl-dev cpio busybox-static xz-utils gzip
  local tarball=/usr/src/linux-source-6.1.tar.xz
  [ -f "$tarball" ] || die "$tarball is missing although linux-source-6.1 is installed"
  local srcver
  srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)

  local start=$SECONDS
  # One extracted tree per source package version; the object tree is
  # shared by every fragment so a changed fragment rebuilds incrementally.
  local src=$root/src/$srcver
  if [ ! -f "$src/.extracted" ]; then
    rm -rf "$src"
    mkdir -p "$src"
    echo "guest-linux.sh: extracting $tarball" >&2
    tar -xf "$tarball" -C "$src" --strip-components=1
    touch "$src/.extracted"
  fi
  # A variant has an object tree of its own: sharing one would rebuild
  # most of the kernel at every switch between them (ACPI and PCI change
  # headers that most files include). Starting it as a copy of the main
  # tree was measured to spare only 7% of its first build: not done.
  local obj=$root/obj/$srcver${variant:+-$variant}
  mkdir -p "$obj"
  local kmake=(make -C "$src" O="$obj" ARCH=x86_64 -s)

  echo "guest-linux.sh: configuring (tinyconfig + ${frags[*]})" >&2
  "${kmake[@]}" tinyconfig >/dev/null
  (cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "${frags[@]}" >/dev/null)
  "${kmake[@]}" olddefconfig >/dev/null
  local eff
  eff=$(mktemp)
  effective_fragment "${frags[@]}" > "$eff"
  check_fragment "$obj/.config" "$eff" "${frags[*]}"
  rm -f "$eff"

  echo "guest-linux.sh: building vmlinux (make -j2)" >&2
  "${kmake[@]}" -j2 vmlinux >&2

  # The initramfs: static busybox, /init from guest/linux/init, and the
  # nodes the kernel needs before devtmpfs is up. gen_init_cpio (built with
  # the kernel) writes device nodes without needing root.
  [ -x /bin/busybox ] || die "/bin/busybox is missing although busybox-static is installed"
  file_is_static /bin/busybox || die "/bin/busybox is not statically linked"
  local list
  list=$(mktemp)
  cat > "$list" <<EOF
dir /bin 0755 0 0
dir /dev 0755 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/null 0666 0 0 c 1 3
file /bin/busybox /bin/busybox 0755 0 0
slink /bin/sh busybox 0777 0 0
file /init $init 0755 0 0
EOF
  mkdir -p "$out"
  "$obj/usr/gen_init_cpio" "$list" | gzip -n -9 > "$out/initramfs.cpio.gz.tmp"
  rm -f "$list"

  cp "$obj/.config" "$out/config"
  echo "linux-source-6.1 $srcver, busybox-static $(dpkg-query -W -f='${Version}' busybox-static)" > "$out/version"
  cp "$obj/vmlinux" "$out/vmlinux.tmp"
  mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
  mv "$out/vmlinux.tmp" "$out/vmlinux"
  echo $((SECONDS - start)) > "$out/build-seconds"
  ln -sfn "$key" "$root/$link"
  echo "guest-linux.sh: built in $((SECONDS - start)) s: $out/vmlinux ($(du -h "$out/vmlinux" | cut -f1)), $out/initramfs.cpio.gz" >&2
  echo "$out"
}

rootfs() {
  local root=${1:-build/linux-rootfs}
  local conf=$repo/guest/linux/rootfs.conf init=$repo/guest/linux/init
  [ -f "$conf" ] || die "$conf is missing"
  [ -f "$init" ] || die "$init is missing"
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  local key out
  key=$(cat "$conf" "$init" | sha256sum | cut -c1-16)
  out=$root/$key
  if [ -s "$out/rootfs.ext4" ]; then
    ln -sfn "$key" "$root/current"
    echo "$out"
    return 0
  fi
  need e2fsprogs busybox-static
  PATH=$PATH:/usr/sbin:/sbin # mkfs.ext4 and e2fsck, for users whose PATH lacks them
  local ROOTFS_SIZE ROOTFS_MKFS_OPTIONS
  # shellcheck source=../guest/linux/rootfs.conf
  . "$conf"
  [ -n "${ROOTFS_SIZE:-}" ] || die "$conf does not set ROOTFS_SIZE"
  [ -x /bin/busybox ] && file_is_static /bin/busybox || die "/bin/busybox is missing or not statically linked"

  local start=$SECONDS tree
  tree=$(mktemp -d)
  # The same files as the initramfs. /dev stays empty: the kernel mounts
  # devtmpfs on it (DEVTMPFS_MOUNT) before it starts init.
  mkdir -p "$tree/bin" "$tree/dev" "$tree/proc" "$tree/sys" "$tree/tmp"
  chmod 0755 "$tree" "$tree/bin" "$tree/dev" "$tree/proc" "$tree/sys"
  chmod 1777 "$tree/tmp"
  install -m 0755 /bin/busybox "$tree/bin/busybox"
  ln -s busybox "$tree/bin/sh"
  install -m 0755 "$init" "$tree/init"
  mkdir -p "$out"
  # shellcheck disable=SC2086 # the options are words
  if ! mkfs.ext4 -q -F $ROOTFS_MKFS_OPTIONS -d "$tree" "$out/rootfs.ext4.tmp" "$ROOTFS_SIZE" >&2; then
    rm -rf "$tree" "$out/rootfs.ext4.tmp"
    die "mkfs.ext4 failed"
  fi
  rm -rf "$tree"
  e2fsck -fn "$out/rootfs.ext4.tmp" >/dev/null || die "the new image does not pass e2fsck -fn"
  echo "e2fsprogs $(dpkg-query -W -f='${Version}' e2fsprogs), busybox-static $(dpkg-query -W -f='${Version}' busybox-static)" > "$out/version"
  mv "$out/rootfs.ext4.tmp" "$out/rootfs.ext4"
  echo $((SECONDS - start)) > "$out/build-seconds"
  ln -sfn "$key" "$root/current"
  echo "guest-linux.sh: built $out/rootfs.ext4 ($ROOTFS_SIZE, $ROOTFS_MKFS_OPTIONS)" >&2
  echo "$out"
}

# file_is_static reports whether an ELF executable has no program interpreter.
file_is_static() {
  ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

case "${1:-}" in
  build) shift; build "$@" ;;
  rootfs) shift; rootfs "$@" ;;
  debian) shift; debian "$@" ;;
  -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) debian "$@" ;;
esac
