//go:build !linux

package ipc

// abstractSockets: only Linux has the abstract namespace; elsewhere every
// socket is a file (ListenFile).
const abstractSockets = false
