package liveview

import (
	"flag"
	"fmt"
	"net"
)

// Flags are the page's command-line switches, the same for run and bench.
type Flags struct {
	Addr     string
	ReadOnly bool
	Public   bool
}

// Register adds --ui, --ui-readonly and --ui-public to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Addr, "ui", "127.0.0.1:0", "serve the live page on this address; off: no page")
	fs.BoolVar(&f.ReadOnly, "ui-readonly", false, "the live page shows everything but offers no actions")
	fs.BoolVar(&f.Public, "ui-public", false, "allow a --ui address beyond loopback (the page is then read-only)")
}

// Off reports whether the page is switched off.
func (f Flags) Off() bool { return f.Addr == "off" }

// Listen opens the page's socket. A non-loopback address is refused unless
// Public is set: the actions kill processes, and the page shows the
// machine's pids and ports.
func (f Flags) Listen() (net.Listener, error) {
	host, _, err := net.SplitHostPort(f.Addr)
	if err != nil {
		return nil, fmt.Errorf("--ui %q: want host:port or off", f.Addr)
	}
	if !loopbackHost(host) && !f.Public {
		return nil, fmt.Errorf("--ui %s: not a loopback address; add --ui-public to serve the page (read-only) beyond this machine", f.Addr)
	}
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		return nil, fmt.Errorf("--ui %s: %w", f.Addr, err)
	}
	return ln, nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
