#!/usr/bin/env bash
# Installs every Debian package accelring's build, tests and benchmarks use.
# Idempotent: packages already installed are left alone, and apt-get is not
# run at all when nothing is missing. Needs root (or sudo) to install.
set -euo pipefail

PACKAGES=(
	bubblewrap		# the sandbox tests (tests/sandbox)
	build-essential		# gcc, g++, make; gcc's ASan/UBSan/TSan runtimes
	busybox-static		# the VM test's initramfs (tests/vm)
	ca-certificates
	clang-14		# libFuzzer campaigns (scripts/test.sh --long)
	cmake
	cpio			# the VM test's initramfs
	debootstrap		# scripts/test.sh --long: the packages in a clean Debian root (tests/packages)
	dpkg-dev		# cpack -G DEB: dpkg-shlibdeps computes the packages' Depends
	babeltrace2		# scripts/accelring-trace reads traces
	flatbuffers-compiler	# flatc: C++ from schemas/accelring.fbs
	golang-go		# the Go bindings (libclient/go) and their test (tests/bindings)
	hyperfine		# bench/run: whole-process comparisons
	libclang-rt-14-dev	# libFuzzer runtime
	libcmocka-dev		# unit tests
	libflatbuffers-dev	# FlatBuffers runtime headers, JSON parser
	libnuma-dev		# broker: region and worker placement
	libopenblas-dev		# blas plugin, sgemm checks
	libsystemd-dev		# broker: systemd socket activation
	liblttng-ust-dev	# tracepoints (include/accelring/tp.h)
	liburing-dev		# broker: event loop
	libssl-dev		# broker: SHA-256 of resources (libcrypto)
	libseccomp-dev		# broker: the exec plugin host's seccomp filter
	libtorch-dev		# torch plugin: TorchScript on CPU (plugins/torch)
	libjpeg-dev		# torch plugin: JPEG decoding for the image ops
	libpng-dev		# torch plugin: PNG decoding for the image ops
	python3-torch		# the torch tests make their models (tests/models)
	libstb-dev		# the torch tests' reference decodes PNG apart from libpng (tests/torch_ref.cc)
	python3-torchvision	# resnet18 / mobilenet_v3_small architectures
	lttng-tools		# lttng-sessiond, lttng: recording traces
	man-db			# the install test renders the man pages (man -l)
	pkg-config
	python3-matplotlib	# accelring-trace --png, bench/run --plot (Debian's /usr/bin/python3)
	python3-yaml		# the container test reads the Kubernetes manifests
	podman			# the sandbox tests: podman --rootfs (with runc)
	qemu-system-x86		# the VM test: a real guest under TCG
	runc			# podman's runtime here (crun fails on hybrid cgroups)
	spin			# model checking of the ring protocol
	systemd			# the container test: systemd-analyze, systemd-socket-activate
	valgrind		# scripts/test.sh --long: the broker under memcheck's leak check
	xz-utils		# the VM test: compressed kernel modules, if any
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all ${#PACKAGES[@]} packages present"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup: need root to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
