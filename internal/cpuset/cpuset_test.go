package cpuset

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Set
		err  bool
	}{
		{in: "0", want: Set{0}},
		{in: "1-3", want: Set{1, 2, 3}},
		{in: "3,0-1", want: Set{0, 1, 3}},
		{in: " 2 , 2 ", want: Set{2}},
		{in: "", err: true},
		{in: "a", err: true},
		{in: "3-1", err: true},
		{in: "-1", err: true},
		{in: "0,,1", err: true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && got.String() != "" {
			if back, _ := Parse(got.String()); !slices.Equal(back, got) {
				t.Errorf("%v.String() = %q does not parse back", got, got.String())
			}
		}
	}
}

// A child pinned after it started runs, every thread of it, on the cpu
// asked for, as the kernel reports it.
func TestPinAChild(t *testing.T) {
	if !Supported() {
		t.Skip("cpu pinning needs linux")
	}
	mine, err := Allowed(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := Set{mine[len(mine)-1]}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := Pin(cmd.Process.Pid, want); err != nil {
		t.Fatal(err)
	}
	got, err := Allowed(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("child allowed on %v, want %v", got, want)
	}
}

func TestParseSplit(t *testing.T) {
	mine, err := Allowed(0)
	if err != nil || len(mine) < 2 {
		t.Skipf("needs two cpus to split, this process may use %v (%v)", mine, err)
	}
	a, b := mine[0], mine[len(mine)-1]
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "off", want: "off"},
		{in: Set{a}.String() + "/" + Set{b}.String(), want: Set{a}.String() + "/" + Set{b}.String()},
		{in: "0", err: "want LOAD/SUT"},
		{in: "x/1", err: "load"},
		{in: "0/", err: "system under test"},
		{in: "0/4095", err: "not one this process may use"},
	} {
		s, err := ParseSplit(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSplit(%q): error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || s.String() != tc.want {
			t.Errorf("ParseSplit(%q) = %v, %v; want %s", tc.in, s, err, tc.want)
		}
	}
	d, err := ParseSplit("")
	if err != nil {
		t.Fatalf("the default split on %d cpus: %v", len(mine), err)
	}
	if len(mine) < MinSplitCPUs {
		if d != nil {
			t.Fatalf("the default split on %d cpus is %s, want none below %d", len(mine), d, MinSplitCPUs)
		}
		return
	}
	if len(d.Load) != max(1, len(mine)/4) || len(d.Load)+len(d.SUT) != len(mine) || d.Load[len(d.Load)-1] != mine[len(mine)-1] || slices.Contains(d.SUT, d.Load[0]) {
		t.Errorf("default split of %v is %s: want the last quarter (at least one) for the load, the rest apart", mine, d)
	}
}
