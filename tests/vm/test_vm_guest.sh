#!/usr/bin/env bash
# test_vm_guest - the stream transport from a real VM.
#
# Boots Debian's kernel under QEMU (TCG) with a busybox initramfs that holds
# the statically linked vAccel examples and a bundled accelringd, and:
#   1. runs noop and sgemm in the guest against the broker on this host,
#      over TCP through QEMU's guestfwd (restrict=on: the guest reaches
#      nothing else), checking sgemm against a local computation;
#   2. loads vsock_loopback in the guest and runs broker and examples there
#      over vsock to CID 1, so the vsock code path runs for real.
# No AF_VSOCK socket is ever opened on this host (PLATFORM.md).
#
# usage: test_vm_guest.sh BUILD_DIR SOURCE_DIR
# The kernel package is downloaded once (apt-get download) into
# $AR_VM_CACHE (default BUILD_DIR/vm-cache).
set -euo pipefail

build=$(realpath "$1")
src=$(realpath "$2")
cache=${AR_VM_CACHE:-$build/vm-cache}
guest_port=7000

say() { echo "test_vm_guest: $*"; }
die() { say "FAIL: $*" >&2; exit 1; }

for tool in qemu-system-x86_64 cpio dpkg-deb apt-get; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"
done
# The guest has no libc: busybox must be the static build.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
	die "busybox-static is missing (scripts/setup.sh installs it)"
busybox_bin=/bin/busybox
for f in accelringd examples/static/noop examples/static/sgemm \
	 plugins/libaccelring-noop.so plugins/libaccelring-blas.so; do
	[ -e "$build/$f" ] || die "$build/$f is not built"
done

# ---- the kernel: Debian's current one, from the package archive ----
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
       awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
	say "apt lists have no linux-image-amd64; running apt-get update"
	apt-get update -q >/dev/null
	kpkg=$(apt-cache depends linux-image-amd64 |
	       awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$kpkg" ] || die "cannot find Debian's kernel package"
kdir=$cache/$kpkg
if [ ! -e "$kdir/.done" ]; then
	say "downloading $kpkg (about 70 MB, once)"
	rm -rf "$kdir"
	mkdir -p "$kdir"
	(cd "$kdir" && apt-get download -q "$kpkg" >/dev/null) ||
		die "apt-get download $kpkg failed"
	dpkg-deb -x "$kdir"/*.deb "$kdir/root"
	rm -f "$kdir"/*.deb
	touch "$kdir/.done"
fi
kver=${kpkg#linux-image-}
vmlinuz=$kdir/root/boot/vmlinuz-$kver
mods=$kdir/root/lib/modules/$kver/kernel
[ -e "$vmlinuz" ] || die "no $vmlinuz in $kpkg"

work=$(mktemp -d /tmp/accelring-vm.XXXXXX)
broker_pid=
qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	if [ -n "$broker_pid" ]; then
		kill -TERM "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- the initramfs ----
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules,usr/bin,usr/lib/accelring}
cp "$busybox_bin" "$root/bin/busybox"
cp "$src/tests/vm/guest-init.sh" "$root/init"
chmod 755 "$root/init"
cp "$build/examples/static/noop" "$build/examples/static/sgemm" "$root/bin/"
for m in drivers/net/ethernet/intel/e1000/e1000.ko net/vmw_vsock/vsock.ko \
	 net/vmw_vsock/vmw_vsock_virtio_transport_common.ko \
	 net/vmw_vsock/vsock_loopback.ko; do
	f=$mods/$m
	[ -e "$f" ] || f=$(ls "$f".* 2>/dev/null | head -1)
	case "$f" in
	*.xz) xz -dc "$f" > "$root/lib/modules/$(basename "$m")" ;;
	*.zst) zstd -qdc "$f" > "$root/lib/modules/$(basename "$m")" ;;
	*.ko) cp "$f" "$root/lib/modules/" ;;
	*) die "module $m not in $kpkg" ;;
	esac
done
# The guest's broker: the binary, its plugins and every library they load,
# at the paths the dynamic loader looks for them.
cp "$build/accelringd" "$root/usr/bin/"
cp "$build/plugins/libaccelring-noop.so" "$build/plugins/libaccelring-blas.so" \
   "$root/usr/lib/accelring/"
"$src/scripts/bundle-libs.sh" "$root" "$build/accelringd" \
	"$build"/plugins/libaccelring-{noop,blas}.so
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initrd.cpio"
say "initramfs: $(du -m "$work/initrd.cpio" | cut -f1) MB"

# ---- the host's broker, on TCP loopback at a port of its choosing ----
mkfifo "$work/ready"
ACCELRING_READY_FD=3 "$build/accelringd" --socket="$work/accelring.sock" \
	--tcp=127.0.0.1:0 --allow-peers=127.0.0.1 --plugin-dir="$build/plugins" \
	--plugins=blas:noop --log-level=info 3>"$work/ready" 2>"$work/broker.log" &
broker_pid=$!
read -r -t 10 ready < "$work/ready" || die "the broker did not start: $(cat "$work/broker.log")"
port=${ready##*tcp=127.0.0.1:}
say "host broker pid $broker_pid on tcp 127.0.0.1:$port"

# ---- boot ----
# -cpu max: OpenBLAS dies of SIGILL in the guest on QEMU's default qemu64
# model. guestfwd's cmd: form starts a relay per guest connection (the
# tcp: form would be one connection, opened when QEMU starts).
start=$(date +%s)
timeout 300 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
	-netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:$guest_port-cmd:$busybox_bin nc 127.0.0.1 $port" \
	-device e1000,netdev=n0 -monitor none -serial stdio \
	< /dev/null > "$work/console.log" 2>&1 &
qemu_pid=$!
wait "$qemu_pid" || say "qemu exited with $?"
qemu_pid=
say "guest ran for $(( $(date +%s) - start )) s"
tr -d '\r' < "$work/console.log" | grep -E '^(VMTEST|  )' || true

# ---- verdict ----
fail=0
for t in tcp-noop tcp-sgemm vsock-broker vsock-noop vsock-sgemm; do
	if grep -q "^VMTEST ok $t" "$work/console.log"; then
		say "ok: $t"
	else
		say "FAIL: $t"
		fail=1
	fi
done
grep -q "sgemm 128x128x128.*" "$work/console.log" && 
	[ "$(grep -c 'checked against a local computation: .*: OK' "$work/console.log")" = 2 ] ||
	{ say "FAIL: sgemm results not checked OK twice"; fail=1; }
# The host broker saw the guest's connections as TCP stream clients.
grep -q "tcp 127.0.0.1:[0-9]* tenant [0-9]*: stream" "$work/broker.log" ||
	{ say "FAIL: the host broker logged no TCP stream client"; fail=1; }
grep -q "^VMTEST end" "$work/console.log" || { say "FAIL: the guest did not finish"; fail=1; }
if [ "$fail" -ne 0 ]; then
	echo "---- console ----"
	tr -d '\r' < "$work/console.log" | tail -80
	echo "---- host broker log ----"
	cat "$work/broker.log"
	exit 1
fi
say "passed"
