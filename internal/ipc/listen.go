package ipc

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Listener is the supervisor's end: where its children connect.
type Listener struct {
	net.Listener
	Path string // what children Dial: "@name" (abstract) or a file path
	dir  string // the private directory of a socket file, removed on Close
}

// Close stops listening and removes whatever is left on disk.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	if l.dir != "" {
		if rerr := os.RemoveAll(l.dir); rerr != nil && err == nil {
			err = fmt.Errorf("ipc: remove %s: %w", l.dir, rerr)
		}
	}
	return err
}

// Listen opens a socket for this machine's processes only. On Linux it is
// in the abstract namespace (no file, so a killed supervisor leaves nothing
// behind), unless OFFLOAD_IPC=file asks for the portable kind so it is
// tested there too; elsewhere it is ListenFile. name identifies the user in
// the socket's name.
func Listen(name string) (*Listener, error) {
	if abstractSockets && os.Getenv("OFFLOAD_IPC") != "file" {
		path := fmt.Sprintf("@offload-%s-%d-%s", name, os.Getpid(), randHex())
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("ipc listen %s: %w", path, err)
		}
		return &Listener{Listener: ln, Path: path}, nil
	}
	return ListenFile(name)
}

// ListenFile puts the socket file in a fresh directory only the user can
// enter (os.MkdirTemp makes it 0700), so no other user can connect or plant a socket there. A
// supervisor killed by SIGKILL leaves that empty directory in the temp dir.
func ListenFile(name string) (*Listener, error) {
	dir, err := os.MkdirTemp(socketBase(), "offload-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("ipc: private socket dir: %w", err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("ipc listen %s: %w", path, err)
	}
	return &Listener{Listener: ln, Path: path, dir: dir}, nil
}

// socketBase is the temp dir, unless it is too long for a socket path
// (macOS allows 104 bytes and its $TMPDIR takes about 50 of them).
func socketBase() string {
	base := os.TempDir()
	if len(base)+len("/offload-localipc-0123456789/s") > 100 {
		return "/tmp"
	}
	return base
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
