// SPDX-License-Identifier: Apache-2.0

// Package vaccel is vAccel for Go over accelring's libvaccel.so.0 (cgo):
// the names of upstream's Go bindings (github.com/nubificus/vaccel-go:
// Session with Init, Release, Register, GetID; NoOp, ExecWithResource,
// ImageClassification, TorchModelLoad, TorchModelRun; Resource; ArgList),
// with Go's conventions where upstream has none:
//
//   - every call returns an error, nil or an *Error holding vAccel's code
//     (an errno value): errors.Is(err, syscall.EPERM) tests it, and
//     Code(err) gives upstream's int (upstream returns the int itself);
//   - arguments and tensors are Go slices, copied into C memory (upstream
//     passes unsafe.Pointer and uintptr to Go memory, which cgo's pointer
//     rules forbid C to keep);
//   - Sgemm and Exec exist (upstream's Go has neither), and so do
//     ImageDetection, ImageSegmentation, ImagePose, ImageDepth.
//
// Not covered: genop, the TensorFlow and TensorFlow Lite ops, the
// deprecated minmax and fpga ops, upstream's non-serialized arguments
// (AddNonSerialArg with a Serializer: serialize into a []byte instead).
//
// The library is found through pkg-config (vaccel.pc, as upstream's
// bindings do) and at run time by the dynamic loader; the broker's
// address comes from ACCELRING_ADDRESS (or VACCEL_RPC_ADDRESS).
//
// A Session, Resource, ArgList or TorchTensor may be copied: copies share
// the one C object. Release it once, after every op on it has returned.
package vaccel
