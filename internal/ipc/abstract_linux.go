package ipc

// abstractSockets: Linux has an abstract socket namespace (names that
// start with @ live in the kernel, not on disk).
const abstractSockets = true
