package eventbus

import (
	"testing"
	"time"

	"github.com/offload/offload/internal/hashslot"
)

func TestParseFrom(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "0", want: "0-0"},
		{in: "1700000000000-5", want: "1700000000000-5"},
		{in: "1700000000000", want: "1700000000000-0"},
		{in: "2023-11-14T22:13:20Z", want: "1700000000000-0"},
		{in: "1h", want: "1699996400000-0"},
		{in: "", bad: true},
		{in: "yesterday", bad: true},
		{in: "-1h", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFrom(tt.in, now)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseFrom(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFrom(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestBefore(t *testing.T) {
	tests := map[string]string{"5-3": "5-2", "5-0": "4-18446744073709551615", "0-0": "0-0"}
	for in, want := range tests {
		id, err := parseID(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := id.before().String(); got != want {
			t.Errorf("before(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1-0", "1-0", 0}, {"1-1", "1-0", 1}, {"9-0", "10-0", -1}, {"10-0", "9-99", 1},
	}
	for _, tt := range tests {
		if got := compareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("compareIDs(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestStreamForIsStableAndSpreads(t *testing.T) {
	k := Keys{Partitions: 4}
	seen := map[string]int{}
	for i := range 400 {
		id := "job-" + time.Duration(i).String()
		s := k.StreamFor(id)
		if s != k.StreamFor(id) {
			t.Fatal("StreamFor is not stable")
		}
		seen[s]++
	}
	if len(seen) != 4 {
		t.Fatalf("400 ids landed in %d of 4 partitions: %v", len(seen), seen)
	}
}

// Three partitions fall in three different thirds of the slot space (the
// ranges `redis-cli --cluster create` gives three masters), and each
// partition's error hash shares its stream's slot.
func TestPartitionSlots(t *testing.T) {
	k := Keys{Partitions: 3}
	for p := range 3 {
		s := hashslot.Slot(k.Stream(p))
		if third := s * 3 / hashslot.Slots; third != p {
			t.Errorf("partition %d: %s in slot %d, third %d", p, k.Stream(p), s, third)
		}
		if e := hashslot.Slot(k.Errors("email", p)); e != s {
			t.Errorf("partition %d: errors key in slot %d, stream in %d", p, e, s)
		}
	}
}
