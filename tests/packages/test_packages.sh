#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# test_packages - the Debian packages the project builds (CPack's DEB
# generator, the top-level CMakeLists.txt), checked as an archive would:
#   quick (the normal suite), from the build tree as configured:
#     1 cpack        `cpack -G DEB` makes accelringd, libaccelring1,
#                    libvaccel0, libaccelring-dev, accelring-plugin-blas
#                    (and accelring-plugin-torch when it is built)
#     2 contents     each file where it belongs (dpkg-deb -c): the broker
#                    and light plugins, units, man pages and tools in
#                    accelringd, each library in the package named after its
#                    soname, headers, .so links, archives and .pc files in
#                    -dev, each heavy plugin alone; no file in two packages
#     3 depends      dpkg-shlibdeps' Depends (liburing2, libnuma1, ... for
#                    the broker, libopenblas0 for blas, libtorch1.13 for
#                    torch), the project's own at this version; shlibs and
#                    an ldconfig trigger in the libraries' packages
#   --long (scripts/test.sh --long; minutes, and the Debian archive):
#     4 build        a tree configured for /usr, as a distribution builds,
#                    and its packages (in AR_USR_BUILD_DIR if set, to reuse)
#     5 clean root   a Debian 12 minbase root (debootstrap, cached in
#                    AR_ROOTFS_CACHE, default /var/cache/accelring/rootfs-
#                    bookworm) gets every package with apt-get, which brings
#                    their Depends and nothing else of this machine
#     6 run          in that root: the broker loads every packaged plugin
#                    from /usr/lib/<arch>/accelring, and the installed
#                    examples, built with `pkg-config vaccel`, run against
#                    it (sgemm checked numerically), as does a static one
# Each step says PASS, FAIL (and why) or SKIP; the exit status is 1 if any
# failed, 77 if the quick steps cannot run here.
#
# usage: test_packages.sh BUILD_DIR SOURCE_DIR [--long]
set -uo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR [--long]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
long=0
[ "${3:-}" = --long ] && long=1
for tool in cpack dpkg-deb dpkg-shlibdeps; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed (scripts/setup.sh installs it)"
		exit 77
	fi
done

tmp=$(mktemp -d /tmp/accelring-packages.XXXXXX)
cleanup() {
	# The root's mounts live in a mount namespace of their own (unshare
	# below): nothing to unmount here, whatever failed.
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\{0,1\}\([^")]*\).*/\1/p' "$build/CPackConfig.cmake")
torch=0
[ -e "$build/plugins/libaccelring-torch.so" ] && torch=1
failed=()
nr=0
step() {
	local name=$1 fn=$2 rc
	nr=$((nr + 1))
	(set -e; "$fn") >"$tmp/step.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS step $nr: $name"
	elif [ $rc -eq 77 ]; then
		echo "SKIP step $nr: $name"
	else
		echo "FAIL step $nr: $name"
		failed+=("$nr ($name)")
	fi
	sed 's/^/    /' "$tmp/step.log"
	return $rc
}
die() {
	echo "why: $*"
	exit 1
}

# make_debs BUILD OUT: the packages of BUILD in OUT.
make_debs() {
	mkdir -p "$2"
	(cd "$1" && cpack -G DEB -B "$2") >"$2.log" 2>&1 || {
		tail -n 30 "$2.log"
		die "cpack -G DEB failed"
	}
}
pkgs=(accelringd libaccelring1 libvaccel0 libaccelring-dev accelring-plugin-blas)
[ $torch -eq 1 ] && pkgs+=(accelring-plugin-torch)
deb() { echo "$1/$2_${version}_$(dpkg --print-architecture).deb"; }

# ---- 1 ----
s_cpack() {
	local p
	[ -n "$version" ] || die "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"
	make_debs "$build" "$tmp/debs"
	for p in "${pkgs[@]}"; do
		[ -f "$(deb "$tmp/debs" "$p")" ] || die "no $(basename "$(deb "$tmp/debs" "$p")")"
	done
	echo "$(cd "$tmp/debs" && ls ./*.deb | tr '\n' ' ')"
}
step "cpack -G DEB: ${pkgs[*]}" s_cpack || {
	echo "FAILED: no packages to check"
	exit 1
}

# ---- 2 ----
# has PACKAGE REGEX...: each REGEX matches a file of PACKAGE.
has() {
	local p=$1 re
	shift
	for re in "$@"; do
		grep -qE "$re" "$tmp/$p.files" || why+=("$p lacks $re")
	done
}
s_contents() {
	local p why=() lib
	for p in "${pkgs[@]}"; do
		dpkg-deb -c "$(deb "$tmp/debs" "$p")" | awk '$1 !~ /^d/ { print $6 }' |
			sed 's|^\./|/|' >"$tmp/$p.files"
	done
	lib='/lib(/[a-z0-9_-]+-linux-gnu)?'
	has accelringd '/sbin/accelringd$' "$lib/accelring/libaccelring-(noop|exec|mbench)\.so$" \
		'/bin/accelring-dump$' '/bin/accelring-trace$' \
		'/lib/systemd/system/accelringd\.service$' '/lib/systemd/system/accelringd\.socket$' \
		'/man8/accelringd\.8' '/man5/accelringd\.conf\.5' '/accelringd\.conf\.sample$' \
		'/cdi/accelring\.yaml$' '/seccomp/accelringd\.json$'
	[ "$(grep -c 'libaccelring-.*\.so$' "$tmp/accelringd.files")" -eq 3 ] ||
		why+=("accelringd holds plugins other than noop, exec, mbench: $(grep 'accelring-' "$tmp/accelringd.files" | tr '\n' ' ')")
	# Debian names a library's package after its soname.
	has libaccelring1 "$lib/libaccelring\.so\.1$"
	has libvaccel0 "$lib/libvaccel\.so\.0$"
	grep -qE '\.so$|\.a$|/include/' "$tmp/libaccelring1.files" "$tmp/libvaccel0.files" &&
		why+=("a runtime library package holds development files")
	has libaccelring-dev '/include/vaccel\.h$' '/include/accelring/client\.h$' \
		"$lib/libaccelring\.so$" "$lib/libvaccel\.so$" "$lib/libaccelring\.a$" "$lib/libvaccel\.a$" \
		"$lib/pkgconfig/accelring\.pc$" "$lib/pkgconfig/vaccel\.pc$" '/man3/libaccelring\.3' \
		'/examples/sgemm\.c$'
	has accelring-plugin-blas "$lib/accelring/libaccelring-blas\.so$"
	[ $torch -eq 1 ] && has accelring-plugin-torch "$lib/accelring/libaccelring-torch\.so$"
	for p in accelring-plugin-blas accelring-plugin-torch; do
		[ -f "$tmp/$p.files" ] && [ "$(wc -l <"$tmp/$p.files")" -ne 1 ] &&
			why+=("$p holds more than its plugin: $(tr '\n' ' ' <"$tmp/$p.files")")
	done
	dup=$(cat "$tmp"/*.files | sort | uniq -d)
	[ -z "$dup" ] || why+=("in two packages: $dup")
	for p in "${pkgs[@]}"; do echo "$p: $(wc -l <"$tmp/$p.files") files"; done
	[ ${#why[@]} -eq 0 ] || die "$(printf '%s; ' "${why[@]}")"
}
step "contents (dpkg-deb -c): each file in its package, none in two" s_contents

# ---- 3 ----
# depends PACKAGE REGEX...: PACKAGE's Depends has an entry matching each.
depends() {
	local p=$1 d re
	shift
	d=$(dpkg-deb -f "$(deb "$tmp/debs" "$p")" Depends)
	echo "$p: Depends: $d"
	for re in "$@"; do
		grep -qE "(^|, )$re( |,|$)" <<<"$d" || why+=("$p's Depends lacks $re")
	done
}
s_depends() {
	local why=() p
	# dpkg-shlibdeps' work: what the binaries are linked with.
	depends accelringd 'libc6' 'liburing2' 'libnuma1' 'libssl3' 'libseccomp2' 'libsystemd0'
	depends accelring-plugin-blas "accelringd \(= $version\)" 'libopenblas0[a-z0-9-]*'
	[ $torch -eq 1 ] && depends accelring-plugin-torch "accelringd \(= $version\)" \
		'libtorch1\.13' 'libjpeg62-turbo' 'libpng16-16'
	depends libaccelring1 'libc6' 'libstdc\+\+6'
	depends libvaccel0 'libc6' 'libstdc\+\+6'
	depends libaccelring-dev "libaccelring1 \(= $version\)" "libvaccel0 \(= $version\)"
	for p in libaccelring1 libvaccel0; do
		dpkg-deb --ctrl-tarfile "$(deb "$tmp/debs" "$p")" | tar -xO ./shlibs 2>/dev/null |
			grep -qE "^[a-z]+ [01] $p " || why+=("$p has no shlibs entry for its soname")
		dpkg-deb --ctrl-tarfile "$(deb "$tmp/debs" "$p")" | tar -xO ./triggers 2>/dev/null |
			grep -qx 'activate-noawait ldconfig' || why+=("$p does not trigger ldconfig")
	done
	[ ${#why[@]} -eq 0 ] || die "$(printf '%s; ' "${why[@]}")"
}
step "Depends (dpkg-shlibdeps and the project's own), shlibs, ldconfig trigger" s_depends

if [ $long -eq 0 ]; then
	echo "(the clean-root install and run are scripts/test.sh --long's: $0 BUILD SRC --long)"
else
	# ---- 4 ----
	s_usr_build() {
		local b=${AR_USR_BUILD_DIR:-$tmp/build-usr}
		cmake -S "$src" -B "$b" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DAR_BUILD_TESTS=OFF -DAR_BUILD_BENCH=OFF >"$tmp/usr-cfg.log" 2>&1 ||
			{ tail -n 20 "$tmp/usr-cfg.log"; die "cmake (prefix /usr) failed"; }
		cmake --build "$b" -j"$(nproc)" >"$tmp/usr-build.log" 2>&1 ||
			{ grep -E 'error' "$tmp/usr-build.log" | head -n 20; die "the /usr build failed"; }
		make_debs "$b" "$tmp/debs-usr"
		ls "$tmp/debs-usr"/*.deb
	}
	step "a tree configured for /usr, and its packages" s_usr_build
	usr_rc=$?

	# ---- 5 ----
	cache=${AR_ROOTFS_CACHE:-/var/cache/accelring/rootfs-bookworm}
	root=$tmp/root
	# in_root CMD...: CMD chrooted into the root, with /proc, a /tmp, and
	# this machine's apt cache (debs it downloaded once), in a mount
	# namespace of its own: no mount outlives the command.
	in_root() {
		unshare --mount --propagation private --fork -- sh -c '
			r=$1; shift
			mount -t proc proc "$r/proc" && mount -t tmpfs tmpfs "$r/tmp" &&
			mount --bind /var/cache/apt/archives "$r/var/cache/apt/archives" &&
			exec chroot "$r" "$@"' sh "$root" "$@"
	}
	s_root() {
		[ $usr_rc -eq 0 ] || die "no /usr packages (step 4)"
		[ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot)"; exit 77; }
		command -v debootstrap >/dev/null || { echo "no debootstrap"; exit 77; }
		if [ ! -x "$cache/usr/bin/cc" ]; then
			echo "+ debootstrap --variant=minbase bookworm $cache (once; cached)"
			rm -rf "$cache.new" && mkdir -p "$(dirname "$cache")"
			debootstrap --variant=minbase --include=gcc,libc6-dev,pkg-config,libstdc++-12-dev \
				--cache-dir=/var/cache/apt/archives bookworm "$cache.new" \
				"$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
				   head -n1 | grep . || echo http://deb.debian.org/debian)" \
				>"$tmp/debootstrap.log" 2>&1 || { tail -n 20 "$tmp/debootstrap.log"; die "debootstrap failed"; }
			mv "$cache.new" "$cache"
		fi
		cp -a "$cache" "$root"
		cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
		mkdir -p "$root/debs" && cp "$tmp"/debs-usr/*.deb "$root/debs/"
		in_root apt-get update -q >"$tmp/apt.log" 2>&1 &&
		# shellcheck disable=SC2046
		in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$(cd "$root" && ls debs/*.deb | sed 's|^|/|') >>"$tmp/apt.log" 2>&1 ||
			{ tail -n 30 "$tmp/apt.log"; die "apt-get install of the packages failed"; }
		in_root dpkg-query -W -f='${Package} ${Version}\n' "${pkgs[@]}"
	}
	step "a clean Debian 12 root: apt-get install of every package" s_root
	root_rc=$?

	# ---- 6 ----
	s_run() {
		[ $root_rc -eq 0 ] || die "no root (step 5)"
		local plugins=blas:noop:exec
		[ $torch -eq 1 ] && plugins=torch:$plugins
		cat >"$root/test.sh" <<-EOF
		set -e
		ex=/usr/share/doc/accelring/examples
		ACCELRING_READY_FD=3 /usr/sbin/accelringd --plugins=$plugins --log-level=info \\
			3>/tmp/ready 2>/tmp/broker.log &
		pid=\$!
		for i in \$(seq 200); do grep -q ready /tmp/ready 2>/dev/null && break; sleep 0.05; done
		cat /tmp/broker.log
		grep -q ready /tmp/ready
		for p in \$(echo $plugins | tr : ' '); do
			grep -q "loaded plugin \$p .* from /usr/lib/.*/accelring/libaccelring-\$p.so" /tmp/broker.log
		done
		cc \$ex/sgemm.c \$(pkg-config --cflags --libs vaccel) -lm -o /tmp/sgemm
		cc \$ex/noop.c \$(pkg-config --cflags --libs vaccel) -o /tmp/noop
		cc -static \$ex/noop.c \$(pkg-config --cflags vaccel) \$(pkg-config --static --libs vaccel) \\
			-o /tmp/noop-static 2>/dev/null
		/tmp/sgemm 2 64 | tee /tmp/sgemm.out
		grep -q 'local computation: .*: OK' /tmp/sgemm.out
		/tmp/noop 1000
		/tmp/noop-static 100
		kill -TERM \$pid
		wait \$pid
		echo "broker stopped: exit 0"
		EOF
		in_root /bin/sh /test.sh || die "the broker or an example failed in the root (above)"
	}
	step "in that root: the broker with every packaged plugin, the installed examples against it" s_run
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED steps: ${failed[*]}"
	exit 1
fi
echo "all steps passed"
