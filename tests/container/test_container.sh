#!/usr/bin/env bash
# test_container - the deployment files in container/ work as shipped:
#   - systemd: the units as `cmake --install` puts them (the prefix's
#     broker in ExecStart, no flags) pass `systemd-analyze verify`, and
#     accelringd started the way accelringd.socket starts it (socket
#     activation, here by systemd-socket-activate on the unit's
#     ListenStream, with its settings in a config file) serves ops and
#     tells systemd READY=1 (the service is Type=notify);
#   - seccomp: container/seccomp/accelringd.json is podman's default
#     profile (/usr/share/containers/seccomp.json) plus one rule, for the
#     three io_uring calls (container/seccomp/make-profile.py);
#   - images: container/build-images.sh builds the broker and example images
#     FROM scratch; the broker image runs read-only under that profile with
#     the socket directory mounted, and the example image, as another uid,
#     runs sgemm and noop against it; SIGTERM stops the broker cleanly;
#     under podman's default profile the broker stops at start and says
#     that io_uring is blocked;
#   - CDI: a container given only --device accelring.io/broker=default
#     (container/cdi/accelring.yaml) reaches the broker;
#   - Kubernetes: the DaemonSet, the example pod and the CDI spec agree on
#     the socket directory, the address and the image names.
# podman parts are skipped, with the reason, where podman cannot run.
#
# usage: test_container.sh BUILD_DIR SOURCE_DIR   (as root, like CI)
set -euo pipefail

build=$(realpath "$1")
src=$(realpath "$2")
say() { echo "test_container: $*"; }
die() { say "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { say "SKIP: needs root (podman, socket directories)"; exit 77; }
for tool in systemd-analyze systemd-socket-activate python3; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"
done

work=$(mktemp -d /tmp/accelring-container.XXXXXX)
chmod 755 "$work"
tag=test$$
pids=()
ctrs=()
cleanup() {
	for c in "${ctrs[@]}"; do podman rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	podman rmi -f "accelring/broker:$tag" "accelring/example:$tag" >/dev/null 2>&1 || true
	[ -n "${cdi_spec:-}" ] && rm -f "$cdi_spec"
	rm -rf "$work"
}
trap cleanup EXIT
fail=0
ok() { say "ok: $*"; }
bad() { say "FAIL: $*"; fail=1; }
sgemm_ok() { grep -q 'local computation: .*: OK'; }

# ---- systemd: the units as installed ----
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
	die "cmake --install: $(tail -n 5 "$work/install.log")"
units=$prefix/lib/systemd/system
if out=$(systemd-analyze verify --man=no "$units/accelringd.socket" \
	 "$units/accelringd.service" 2>&1); then
	ok "systemd-analyze verify (the installed units)"
else
	bad "systemd-analyze verify: $out"
fi
listen=$(sed -n 's/^ListenStream=//p' "$units/accelringd.socket")
[ "$listen" = /run/accelring/accelring.sock ] || bad "ListenStream is $listen"
exec_start=$(sed -n 's/^ExecStart=//p' "$units/accelringd.service")
[ "$exec_start" = "$prefix/sbin/accelringd" ] ||
	bad "the installed unit's ExecStart is '$exec_start', not $prefix/sbin/accelringd and no flags"
grep -qx 'Type=notify' "$units/accelringd.service" || bad "the service is not Type=notify"
# What systemd would do: the socket passed on the first connection, the
# unit's command line, the settings from the config file (here its
# --config, as /etc/accelring/accelringd.conf on a host), and a notify
# socket to say READY=1 on.
mkdir -m 755 "$work/act"
printf 'plugins = blas:noop\nlog-level = info\n' >"$work/accelringd.conf"
python3 - "$work/notify.sock" "$work/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as log:
    try:
        while True:
            msg = s.recv(4096).decode(errors="replace")
            log.write(msg.replace("\n", " ") + "\n")
            log.flush()
            if "READY=1" in msg.split("\n"):
                break
    except socket.timeout:
        pass
PY
pids+=($!)
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done
systemd-socket-activate -l "$work/act/accelring.sock" -E NOTIFY_SOCKET="$work/notify.sock" \
	$exec_start --config="$work/accelringd.conf" 2>"$work/act.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/act/accelring.sock" ] && break; sleep 0.1; done
# The broker starts on the first connection.
if ACCELRING_ADDRESS="unix://$work/act/accelring.sock" "$build/examples/static/sgemm" 2 64 |
   sgemm_ok && grep -q "listening on the socket systemd passed" "$work/act.log"; then
	ok "socket activation: the first client started the installed broker and was served"
else
	bad "socket activation: $(cat "$work/act.log")"
fi
for _ in $(seq 50); do grep -qw 'READY=1' "$work/notify.log" 2>/dev/null && break; sleep 0.1; done
if grep -qw 'READY=1' "$work/notify.log" 2>/dev/null; then
	ok "Type=notify: the broker said READY=1 on NOTIFY_SOCKET"
else
	bad "Type=notify: no READY=1 on NOTIFY_SOCKET (got: $(cat "$work/notify.log" 2>/dev/null))"
fi

# ---- seccomp: podman's default profile plus io_uring, nothing else ----
profile=$src/container/seccomp/accelringd.json
if out=$(python3 - "$profile" /usr/share/containers/seccomp.json <<'PY' 2>&1
import json, sys
ours = json.load(open(sys.argv[1]))
base = json.load(open(sys.argv[2]))
added = ours["syscalls"][0]
assert added["action"] == "SCMP_ACT_ALLOW", added
assert sorted(added["names"]) == ["io_uring_enter", "io_uring_register", "io_uring_setup"], added
assert not added.get("args") and not added.get("includes") and not added.get("excludes"), added
rest = dict(ours, syscalls=ours["syscalls"][1:])
assert rest == base, ("the profile is no longer " + sys.argv[2] + " plus io_uring: "
                      "regenerate it with container/seccomp/make-profile.py")
PY
); then
	ok "the seccomp profile is podman's default plus io_uring_setup/enter/register"
else
	bad "seccomp profile: $out"
fi

# ---- Kubernetes and CDI agree ----
if out=$(python3 - "$src/container" <<'PY' 2>&1
import sys, yaml
d = sys.argv[1]
ds = yaml.safe_load(open(d + "/k8s/accelringd-daemonset.yaml"))
pod = yaml.safe_load(open(d + "/k8s/example-pod.yaml"))
cdi = yaml.safe_load(open(d + "/cdi/accelring.yaml"))
addr = "unix:///run/accelring/accelring.sock"
edits = cdi["devices"][0]["containerEdits"]
assert cdi["kind"] == "accelring.io/broker", cdi["kind"]
assert edits["env"] == ["ACCELRING_ADDRESS=" + addr], edits["env"]
assert edits["mounts"][0]["hostPath"] == "/run/accelring"
assert edits["mounts"][0]["containerPath"] == "/run/accelring"
t = ds["spec"]["template"]["spec"]
assert ds["kind"] == "DaemonSet"
sp = t["containers"][0]["securityContext"]["seccompProfile"]
assert sp == {"type": "Localhost", "localhostProfile": "accelring/accelringd.json"}, sp
assert t["volumes"][0]["hostPath"]["path"] == "/run/accelring"
assert t["containers"][0]["volumeMounts"][0]["mountPath"] == "/run/accelring"
assert t["containers"][0]["image"].startswith("accelring/broker:")
p = pod["spec"]
assert p["volumes"][0]["hostPath"]["path"] == "/run/accelring"
c = p["containers"][0]
assert c["volumeMounts"][0]["mountPath"] == "/run/accelring"
assert {"name": "ACCELRING_ADDRESS", "value": addr} in c["env"]
assert c["image"].startswith("accelring/example:")
PY
); then
	ok "the DaemonSet, the example pod and the CDI spec agree"
else
	bad "manifests: $out"
fi

# ---- images, with podman (PLATFORM.md's flags) ----
run=(podman run --runtime runc --network none --ulimit nofile=1024:1024
     --ulimit nproc=4096:4096)
if ! command -v podman >/dev/null; then
	say "SKIP images and CDI: podman is not installed"
elif ! mkdir -p "$work/probe/bin" || ! cp /bin/busybox "$work/probe/bin/" ||
     ! "${run[@]}" --rm --rootfs "$work/probe" /bin/busybox true \
	>"$work/podman.log" 2>&1; then
	say "SKIP images and CDI: podman cannot run a container here: $(tail -n 3 "$work/podman.log")"
else
	"$src/container/build-images.sh" "$build" "$tag" >"$work/build.log" 2>&1 ||
		die "build-images.sh: $(cat "$work/build.log")"
	ok "build-images.sh built accelring/broker:$tag and accelring/example:$tag"
	mkdir -m 755 "$work/sock"
	ctr=accelring-test-broker-$$
	# io_uring: container runtimes' default seccomp profiles block it;
	# the shipped profile allows it, and only it, on top of podman's.
	"${run[@]}" -d --name "$ctr" --read-only --security-opt seccomp="$profile" \
		-v "$work/sock:/run/accelring" "accelring/broker:$tag" >/dev/null
	ctrs+=("$ctr")
	for _ in $(seq 100); do [ -S "$work/sock/accelring.sock" ] && break; sleep 0.1; done
	[ -S "$work/sock/accelring.sock" ] || bad "the broker container made no socket: $(podman logs "$ctr" 2>&1)"
	# The example image as it ships (CMD: sgemm 3 256), as host uid 100000.
	if "${run[@]}" --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
	   -v "$work/sock:/run/accelring" "accelring/example:$tag" 2>&1 | tee "$work/ex.log" | sgemm_ok; then
		ok "example image: sgemm against the broker image"
	else
		bad "example image: $(cat "$work/ex.log")"
	fi
	if "${run[@]}" --rm -v "$work/sock:/run/accelring" "accelring/example:$tag" /bin/noop 1000 \
	   >"$work/noop.log" 2>&1; then
		ok "example image: noop"
	else
		bad "example image noop: $(cat "$work/noop.log")"
	fi
	# CDI: the device alone brings the socket and the address. podman 4.3
	# reads specs from /etc/cdi and /run/cdi only: the shipped spec goes to
	# /run/cdi (a tmpfs) for the test, under a kind of its own so that it
	# cannot meet an installed one, with the test's socket directory.
	mkdir -p /run/cdi
	cdi_spec=/run/cdi/accelring-test-$$.yaml
	sed -e "s|hostPath: /run/accelring|hostPath: $work/sock|" \
	    -e "s|^kind: accelring.io/broker|kind: accelring.io/test$$|" \
	    "$src/container/cdi/accelring.yaml" > "$cdi_spec"
	if "${run[@]}" --rm --device "accelring.io/test$$=default" \
	   "accelring/example:$tag" /bin/noop 100 >"$work/cdi.log" 2>&1; then
		ok "CDI: the shipped spec's device alone reached the broker"
	else
		bad "CDI: $(cat "$work/cdi.log")"
	fi
	podman stop -t 10 "$ctr" >/dev/null
	code=$(podman inspect -f '{{.State.ExitCode}}' "$ctr")
	if [ "$code" = 0 ] && podman logs "$ctr" 2>&1 | grep -q "accelringd stopped"; then
		ok "the broker container stopped cleanly on SIGTERM"
	else
		bad "broker container exit $code: $(podman logs "$ctr" 2>&1 | tail -5)"
	fi
	# Under podman's own default profile io_uring is refused: the broker
	# must not start, and must say why.
	mkdir -m 755 "$work/sock2"
	code=0
	timeout 60 "${run[@]}" --rm --read-only -v "$work/sock2:/run/accelring" \
		"accelring/broker:$tag" >"$work/default-seccomp.log" 2>&1 || code=$?
	if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] &&
	   grep -q "io_uring is blocked" "$work/default-seccomp.log"; then
		ok "under podman's default seccomp profile the broker refuses to start, naming io_uring"
	else
		bad "default seccomp profile: exit $code: $(tail -n 5 "$work/default-seccomp.log")"
	fi
fi

[ "$fail" -eq 0 ] || exit 1
say "passed"
