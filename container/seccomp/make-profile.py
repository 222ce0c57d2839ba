#!/usr/bin/env python3
# make-profile.py [DEFAULT_PROFILE] > accelringd.json - the broker
# container's seccomp profile: the container runtime's default profile
# (podman's, /usr/share/containers/seccomp.json, unless given) with one rule
# added, which allows the three io_uring system calls the broker's event
# loop makes. Nothing else is added or removed (tests/container/
# test_container.sh checks that against the machine's default profile).
import json
import sys

IO_URING = ["io_uring_setup", "io_uring_enter", "io_uring_register"]

src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
with open(src) as f:
    profile = json.load(f)
profile["syscalls"].insert(0, {
    "names": IO_URING,
    "action": "SCMP_ACT_ALLOW",
    "args": [],
    "comment": "accelringd: its event loop is io_uring (container/seccomp/make-profile.py "
               "added this rule to " + src + ")",
    "includes": {},
    "excludes": {},
})
json.dump(profile, sys.stdout, indent="\t")
sys.stdout.write("\n")
