package netcut_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/netcut"
)

// dialInside connects to addr from inside namespace name: the socket is
// made on a thread moved into the namespace, and a socket stays in the
// namespace it was made in.
func dialInside(name, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, so nothing
		// else ever runs in the namespace.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// echo serves on addr, writing back what it reads.
func echo(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// exchange writes b and reads it back within d.
func exchange(c net.Conn, b string, d time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(b)); err != nil {
		return err
	}
	got := make([]byte, len(b))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != b {
		return errors.New("echo mismatch: " + string(got))
	}
	return nil
}

func TestCutHealClose(t *testing.T) {
	nt := itest.Netns(t)
	ctx := context.Background()
	cutAddr := echo(t, net.JoinHostPort(nt.CutIP.String(), "0"))
	hostAddr := echo(t, net.JoinHostPort(nt.HostIP.String(), "0"))

	c, err := dialInside(nt.Name, cutAddr)
	if err != nil {
		t.Fatalf("dial %s from inside before the cut: %v", cutAddr, err)
	}
	defer c.Close()
	if err := exchange(c, "a", 2*time.Second); err != nil {
		t.Fatalf("before the cut: %v", err)
	}

	if err := nt.Cut(ctx); err != nil {
		t.Fatal(err)
	}
	// Bytes written on the open connection go nowhere: no echo comes back.
	err = exchange(c, "b", 500*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("open connection during the cut: %v, want a timeout", err)
	}
	if c2, err := dialInside(nt.Name, cutAddr); err == nil {
		c2.Close()
		t.Fatal("a new connection to the cut address succeeded during the cut")
	}
	// The host's other address stays reachable: the sink is reached by it.
	h, err := dialInside(nt.Name, hostAddr)
	if err != nil {
		t.Fatalf("dial %s (not cut) during the cut: %v", hostAddr, err)
	}
	if err := exchange(h, "h", 2*time.Second); err != nil {
		t.Errorf("host address during the cut: %v", err)
	}
	h.Close()

	if err := nt.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	// The "b" written during the cut is retransmitted and echoed.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 1)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "b" {
		t.Fatalf("open connection after the heal: read %q, %v; want the echo of b", got, err)
	}
	if err := exchange(c, "c", 5*time.Second); err != nil {
		t.Fatalf("open connection after the heal: %v", err)
	}
	c3, err := dialInside(nt.Name, cutAddr)
	if err != nil {
		t.Fatalf("new connection after the heal: %v", err)
	}
	c3.Close()

	// A process started by Command runs inside: it sees the inside address.
	path, args := nt.Command("/bin/sh", "-c", "cat /proc/net/fib_trie")
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", path, args, err)
	}
	if !strings.Contains(string(out), nt.InsideIP.String()) {
		t.Errorf("inside the namespace, fib_trie lacks %s:\n%s", nt.InsideIP, out)
	}

	if err := nt.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, nt.Name, nt.HostIP.String())
}

// assertGone checks that namespace name and any link holding addr are gone.
func assertGone(t *testing.T, name, addr string) {
	t.Helper()
	names, err := netcut.Namespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, name) {
		t.Errorf("namespace %s still listed by ip netns list", name)
	}
	if _, err := os.Stat("/run/netns/" + name); err == nil {
		t.Errorf("/run/netns/%s still exists", name)
	}
	out, err := exec.Command("ip", "-o", "addr").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), addr+"/") {
		t.Errorf("a host link still holds %s:\n%s", addr, out)
	}
}

func TestSweepRemovesDeadMakers(t *testing.T) {
	itest.NeedNetns(t)
	ctx := context.Background()
	// A maker that died and was not reaped, as a bench killed outright
	// stays under an init that never waits: a zombie, which signal 0 still
	// finds. Unreaped until the end, its pid cannot be reused meanwhile.
	dead := exec.Command("true")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dead.Wait() })
	pid := dead.Process.Pid
	itest.Eventually(t, 5*time.Second, "the child to become a zombie", func() bool {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		return err == nil && strings.Contains(string(b), ") Z ")
	})
	name := netcut.Prefix + itoa(pid) + "-1"
	link := "of" + itoa(pid) + "h1"
	mine := itest.Netns(t) // a live maker's: left alone
	for _, args := range [][]string{
		{"netns", "add", name},
		{"link", "add", link, "type", "veth", "peer", "name", "of" + itoa(pid) + "n1", "netns", name},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", name).Run()
		_ = exec.Command("ip", "link", "del", link).Run()
	})
	removed, err := netcut.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, name) {
		t.Errorf("Sweep removed %v, want %s among them", removed, name)
	}
	if slices.Contains(removed, mine.Name) {
		t.Errorf("Sweep removed %s, made by this live process", mine.Name)
	}
	names, err := netcut.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, name) || !slices.Contains(names, mine.Name) {
		t.Errorf("after Sweep: namespaces %v, want %s gone and %s kept", names, name, mine.Name)
	}
	if _, err := net.InterfaceByName(link); err == nil {
		t.Errorf("link %s still exists after Sweep", link)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
