#!/bin/busybox sh
# /init of the VM test's initramfs (tests/vm/test_vm_guest.sh builds it).
# Runs the unchanged vAccel examples, statically linked, against the
# host's broker over TCP (QEMU guestfwd), then starts a broker inside the
# guest and runs them again over vsock to CID 1 (vsock_loopback).
# Every result is a "VMTEST" line on the serial console for the host to
# check; the guest powers off at the end whatever happened.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

result() {	# NAME COMMAND...: run it, report ok or FAIL with its status
	name=$1
	shift
	if "$@" > /tmp/out 2>&1; then
		echo "VMTEST ok $name"
	else
		echo "VMTEST FAIL $name (exit $?)"
	fi
	sed "s/^/  $name: /" /tmp/out
}

echo "VMTEST begin $(uname -r)"

# Guest to host: the e1000 NIC on QEMU's user network; 10.0.2.100:7000
# exists only inside QEMU, which forwards it to the host broker.
insmod /lib/modules/e1000.ko
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0

# The vAccel variable, as an existing vAccel application would have it.
result tcp-noop env VACCEL_RPC_ADDRESS=tcp://10.0.2.100:7000 /bin/noop 200
result tcp-sgemm env ACCELRING_ADDRESS=tcp://10.0.2.100:7000 /bin/sgemm 3 128

# vsock inside the guest: a broker here, the client dials CID 1 (local).
insmod /lib/modules/vsock.ko
insmod /lib/modules/vmw_vsock_virtio_transport_common.ko
insmod /lib/modules/vsock_loopback.ko
# CID 1 is this guest itself (loopback): only an explicit vsock:1 admits it.
ACCELRING_READY_FD=3 /usr/bin/accelringd --socket=/tmp/accelring.sock \
	--vsock-port=5000 --allow-peers=vsock:1 --plugin-dir=/usr/lib/accelring --plugins=blas:noop \
	--workers=1 3>/tmp/ready 2>/tmp/broker.log &
broker=$!
i=0
while [ ! -s /tmp/ready ] && [ $i -lt 300 ] && kill -0 $broker 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ -s /tmp/ready ]; then
	echo "VMTEST ok vsock-broker"
	result vsock-noop env VACCEL_RPC_ADDRESS=vsock://1:5000 /bin/noop 200
	result vsock-sgemm env ACCELRING_ADDRESS=vsock://1:5000 /bin/sgemm 3 128
else
	echo "VMTEST FAIL vsock-broker (not ready)"
fi
kill -TERM $broker 2>/dev/null
wait $broker
echo "VMTEST broker exit $?"
sed 's/^/  guest broker: /' /tmp/broker.log
echo "VMTEST end"
poweroff -f
