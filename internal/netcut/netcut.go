// Package netcut cuts chosen processes off from one address and heals the
// cut, for the partition fault: the harness runs the web process and a
// worker in a network namespace of their own, joined to the host by a veth
// pair, and Redis listens on an address of the host's end that nothing
// else uses. A blackhole route to that address inside the namespace is the
// partition: packets on open connections vanish (TCP retransmits, and
// resumes when the route goes), new connections fail at once. Everything
// else the processes talk to (the mail sink, the harness) stays reachable.
//
// iptables, nft and tc are not needed, only ip(8) and root. Every
// namespace is named after the process that made it, so Sweep can remove
// what a bench killed before its Close left behind.
package netcut

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace this package makes:
// offload-<pid of the maker>-<n>.
const Prefix = "offload-"

// The /29 blocks handed out come from this range; one that overlaps an
// address the host already has is skipped.
var pool = netip.MustParsePrefix("10.237.0.0/16")

// blocks is how many /29 blocks the pool holds.
const blocks = 1 << (29 - 16)

var counter atomic.Int64

// Net is one namespace joined to the host by a veth pair.
type Net struct {
	// Name is the namespace, offload-<pid>-<n>.
	Name string
	// HostIP is the host's end of the veth: processes inside reach the
	// host (the mail sink) by it.
	HostIP netip.Addr
	// CutIP is a second address of the host's end, the one Cut blackholes:
	// give it to the service to cut off (Redis) and to no one else.
	CutIP netip.Addr
	// InsideIP is the namespace's end: the host reaches processes inside by it.
	InsideIP netip.Addr

	ip       string // path of ip(8)
	hostLink string
	nsLink   string
}

// Available says why namespaces cannot be made here (nil if they can).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: network namespaces and veth pairs are made with ip netns, which only root may use")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs the ip command (iproute2) to make a network namespace: not found on PATH")
	}
	return nil
}

// New makes a namespace with lo up and a veth pair to the host, addressed
// from a free /29 of 10.237.0.0/16. On error nothing is left behind.
func New(ctx context.Context) (_ *Net, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	ipPath, _ := exec.LookPath("ip")
	pid, n := os.Getpid(), counter.Add(1)
	block, err := freeBlock(pid, n)
	if err != nil {
		return nil, err
	}
	base := block.Addr()
	nt := &Net{
		Name:     fmt.Sprintf("%s%d-%d", Prefix, pid, n),
		HostIP:   base.Next(),
		ip:       ipPath,
		hostLink: hostLink(pid, int(n)),
		nsLink:   fmt.Sprintf("of%dn%d", pid, n),
	}
	nt.InsideIP = nt.HostIP.Next()
	nt.CutIP = nt.InsideIP.Next()
	defer func() {
		if err != nil {
			err = errors.Join(err, nt.Close())
		}
	}()
	bits := strconv.Itoa(block.Bits())
	steps := [][]string{
		{"netns", "add", nt.Name},
		{"-n", nt.Name, "link", "set", "lo", "up"},
		{"link", "add", nt.hostLink, "type", "veth", "peer", "name", nt.nsLink, "netns", nt.Name},
		{"addr", "add", nt.HostIP.String() + "/" + bits, "dev", nt.hostLink},
		{"addr", "add", nt.CutIP.String() + "/" + bits, "dev", nt.hostLink},
		{"link", "set", nt.hostLink, "up"},
		{"-n", nt.Name, "addr", "add", nt.InsideIP.String() + "/" + bits, "dev", nt.nsLink},
		{"-n", nt.Name, "link", "set", nt.nsLink, "up"},
	}
	for _, s := range steps {
		if err := nt.run(ctx, s...); err != nil {
			return nil, fmt.Errorf("make namespace %s: %w", nt.Name, err)
		}
	}
	return nt, nil
}

// hostLink is the host end's name (at most 15 bytes, the kernel's limit):
// Sweep reads the maker's pid from it.
func hostLink(pid, n int) string { return fmt.Sprintf("of%dh%d", pid, n) }

// freeBlock picks a /29 of the pool that no address of the host falls in,
// starting from one derived from pid and n so that two benches at once
// start far apart.
func freeBlock(pid int, n int64) (netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list host addresses: %w", err)
	}
	var used []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	start := (pid*97 + int(n)) % blocks
	for i := range blocks {
		b := (start + i) % blocks
		a := pool.Addr().As4()
		a[2], a[3] = byte(b>>5), byte(b&31)<<3
		p := netip.PrefixFrom(netip.AddrFrom4(a), 29)
		if !overlaps(p, used) {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /29 in %s: every block overlaps an address of this host", pool)
}

func overlaps(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}

// Command is how to run path with args inside the namespace: ip netns exec
// changes namespace and then execs path in place, so the process started
// is path itself (its pid, its signals).
func (nt *Net) Command(path string, args ...string) (string, []string) {
	return nt.ip, append([]string{"netns", "exec", nt.Name, path}, args...)
}

// Cut blackholes CutIP inside the namespace.
func (nt *Net) Cut(ctx context.Context) error {
	if err := nt.run(ctx, "-n", nt.Name, "route", "add", "blackhole", nt.CutIP.String()+"/32"); err != nil {
		return fmt.Errorf("cut %s off from %s: %w", nt.Name, nt.CutIP, err)
	}
	return nil
}

// Heal removes Cut's route.
func (nt *Net) Heal(ctx context.Context) error {
	if err := nt.run(ctx, "-n", nt.Name, "route", "del", "blackhole", nt.CutIP.String()+"/32"); err != nil {
		return fmt.Errorf("heal the cut of %s from %s: %w", nt.Name, nt.CutIP, err)
	}
	return nil
}

// Close deletes the veth pair and the namespace. Stop the processes
// inside first: a
// namespace lives on, unnamed, while a process is in it. Safe to call
// twice.
func (nt *Net) Close() error {
	if nt == nil {
		return nil
	}
	// Not the caller's context: a cancelled run must still clean up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return remove(ctx, nt.ip, nt.Name, nt.hostLink)
}

// remove deletes host link link and then namespace name, each if present.
// In that order: deleting a veth end deletes its peer at once, while
// the kernel dismantles a deleted namespace (and the veth end inside it)
// later, in the background.
func remove(ctx context.Context, ip, name, link string) error {
	var errs []error
	if _, err := net.InterfaceByName(link); err == nil {
		if err := run(ctx, ip, "link", "del", link); err != nil {
			if _, gone := net.InterfaceByName(link); gone == nil {
				errs = append(errs, fmt.Errorf("delete link %s: %w", link, err))
			}
		}
	}
	if exists(ctx, ip, name) {
		if err := run(ctx, ip, "netns", "del", name); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Namespaces lists the namespaces whose names start with Prefix.
func Namespaces(ctx context.Context) ([]string, error) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	return namespaces(ctx, ip)
}

func namespaces(ctx context.Context, ip string) ([]string, error) {
	out, err := exec.CommandContext(ctx, ip, "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		// "name" or "name (id: 3)"
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], Prefix) {
			names = append(names, f[0])
		}
	}
	return names, nil
}

func exists(ctx context.Context, ip, name string) bool {
	names, err := namespaces(ctx, ip)
	if err != nil {
		return true // let the delete say what is wrong
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

var (
	nsName   = regexp.MustCompile(`^` + Prefix + `(\d+)-(\d+)$`)
	linkName = regexp.MustCompile(`^of(\d+)h(\d+)$`)
)

// Sweep removes the namespaces and host links that processes no longer
// running made (a bench killed with SIGKILL never ran its Close), and
// returns their names. Those of live processes are left alone.
func Sweep(ctx context.Context) ([]string, error) {
	if err := Available(); err != nil {
		return nil, nil // nothing could have been made here either
	}
	ip, _ := exec.LookPath("ip")
	names, err := namespaces(ctx, ip)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, name := range names {
		m := nsName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		if alive(pid) {
			continue
		}
		if err := remove(ctx, ip, name, hostLink(pid, n)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	links, err := net.Interfaces()
	if err != nil {
		errs = append(errs, fmt.Errorf("list links: %w", err))
	}
	for _, l := range links {
		m := linkName.FindStringSubmatch(l.Name)
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); alive(pid) {
			continue
		}
		if err := run(ctx, ip, "link", "del", l.Name); err != nil {
			errs = append(errs, fmt.Errorf("delete link %s: %w", l.Name, err))
			continue
		}
		removed = append(removed, l.Name)
	}
	return removed, errors.Join(errs...)
}

// alive reports whether pid names a running process (EPERM: one we may
// not signal). A zombie is dead: a bench killed outright whose parent does
// not reap it (an init that never waits, in a container) stays one.
func alive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

func (nt *Net) run(ctx context.Context, args ...string) error { return run(ctx, nt.ip, args...) }

func run(ctx context.Context, ip string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ip, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
