package hashslot

import "testing"

// Values from the Redis Cluster specification and CLUSTER KEYSLOT; the
// cluster test checks more against a live server.
func TestSlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"123456789", 12739}, // the spec's CRC16 check value 0x31C3
		{"foo", 12182},
		{"{user1000}.following", Slot("user1000")},
		{"foo{}{bar}", Slot("foo{}{bar}")}, // empty first tag: the whole key
		{"foo{{bar}}zap", Slot("{bar")},
	} {
		if got := Slot(tc.key); got != tc.want {
			t.Errorf("Slot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

func TestSpread(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 6, 16} {
		tags := Spread("resque", n)
		seen := map[string]bool{}
		for i, tag := range tags {
			width := Slots / n
			s := Slot(tag)
			if s < i*width || s >= (i+1)*width {
				t.Errorf("n=%d: tag %d %q in slot %d, outside range %d", n, i, tag, s, i)
			}
			if seen[tag] {
				t.Errorf("n=%d: tag %q twice", n, tag)
			}
			seen[tag] = true
		}
	}
	if a, b := Spread("x", 3), Spread("x", 3); a[2] != b[2] {
		t.Fatal("Spread is not deterministic")
	}
}
