#!/usr/bin/env bash
# Boot the same Linux kernel under vmm and under QEMU's microvm machine, one
# after the other, and print how far each got: the last kernel line, whether
# it reached init, and why it stopped.
#
#   scripts/compare-qemu.sh [--timeout SECONDS] [--cpus N] [KERNEL [INITRD]]
#
# KERNEL/INITRD default to our own kernel (scripts/guest-linux.sh build).
# QEMU gets the command line the kernel saw under vmm (including the
# parameters vmm adds on kvm_pvm), so the two differ only in the VMM.
# Logs stay in build/compare-qemu/. Installs qemu-system-x86 when missing
# (as root).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
timeout_s=300
cpus=1
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
if [ $# -ge 1 ]; then
  kernel=$1
  initrd=${2:-}
else
  dir=$(scripts/guest-linux.sh build)
  kernel=$dir/vmlinux
  initrd=$dir/initramfs.cpio.gz
fi
[ -f "$kernel" ] || { echo "compare-qemu.sh: no kernel at $kernel" >&2; exit 1; }
cmdline="console=ttyS0 reboot=k panic=-1"

if ! command -v qemu-system-x86_64 >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "compare-qemu.sh: qemu-system-x86_64 missing: apt-get install qemu-system-x86" >&2; exit 1; }
  apt-get install -y -qq qemu-system-x86 >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-system-x86 >/dev/null; }
fi
[ -x bin/vmm ] || make build >/dev/null

logs=$repo/build/compare-qemu
mkdir -p "$logs"

# run NAME CMD... runs CMD with output in $logs/NAME.out until it exits, the
# timeout passes, or (QEMU) a KVM internal error appears: QEMU pauses the
# guest there instead of exiting. Sets rc, secs and why.
run() {
  local name=$1
  shift
  local out=$logs/$name.out start=$EPOCHREALTIME
  "$@" </dev/null >"$out" 2>&1 &
  local pid=$! deadline=$((SECONDS + timeout_s))
  why=
  while kill -0 "$pid" 2>/dev/null; do
    if grep -q 'KVM internal error' "$out"; then
      sleep 0.5 # let QEMU finish its register dump
      why="KVM internal error ($(grep -o 'Suberror: [0-9]*' "$out" | head -n1); $(grep -m1 -o 'emulation failure' "$out" || echo 'see log')), guest paused; killed"
      kill "$pid"
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      why="no end within ${timeout_s}s; killed"
      kill "$pid"
      break
    fi
    sleep 0.2
  done
  rc=0
  wait "$pid" || rc=$?
  secs=$(echo "$EPOCHREALTIME - $start" | bc)
}

# lastkernel FILE prints the last printk line (they start with a timestamp).
lastkernel() {
  grep -a -E '^\[ *[0-9]+\.[0-9]+\]' "$1" | tail -n1 | tr -d '\r' || true
}

report() {
  local name=$1 out=$logs/$1.out
  printf '%-5s %6.1fs  exit %-3s  %s\n' "$name" "$secs" "$rc" "$why"
  printf '      reached init: %s\n' "$(grep -q 'Run /init as init process' "$out" && echo yes || echo no)"
  printf '      last kernel line: %s\n' "$(lastkernel "$out")"
  printf '      log: %s\n' "$out"
}

vmm_args=(run --kernel "$kernel" --mem 512M --cpus "$cpus" --cmdline "$cmdline" --log-level info)
[ -n "$initrd" ] && vmm_args+=(--initrd "$initrd")
run vmm bin/vmm "${vmm_args[@]}"
if [ -z "$why" ]; then
  why=$(grep -a -o 'vmm: .*' "$logs/vmm.out" | tail -n1 || true)
  grep -q 'reset through the i8042' "$logs/vmm.out" && why="guest reset through the i8042 (reboot=k)"
fi
report vmm
grep -a -o 'emulation repairs: [^"]*' "$logs/vmm.out" | sed 's/^/      /' || true

# The command line the kernel actually saw under vmm.
seen=$(grep -a -m1 -o 'Command line: .*' "$logs/vmm.out" | sed 's/^Command line: //' | tr -d '\r' || true)
[ -n "$seen" ] && cmdline=$seen
qemu_args=(-M microvm -enable-kvm -cpu host -m 512 -smp "$cpus" -nographic -no-reboot
  -kernel "$kernel" -append "$cmdline")
[ -n "$initrd" ] && qemu_args+=(-initrd "$initrd")
run qemu qemu-system-x86_64 "${qemu_args[@]}"
if [ -z "$why" ]; then
  why="exited by itself"
  grep -q 'Run /init as init process' "$logs/qemu.out" && why="exited by itself (guest reset, -no-reboot)"
fi
report qemu
echo "      command line: $cmdline"
