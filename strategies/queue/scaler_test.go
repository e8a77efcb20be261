package queue

import "testing"

func TestDecide(t *testing.T) {
	tests := []struct {
		name               string
		blocked            bool
		size, busy, lo, hi int
		wantDelta          int
	}{
		{"blocked shrinks", true, 5, 5, 1, 20, -1},
		{"blocked at min stays", true, 1, 1, 1, 20, 0},
		{"below min grows", false, 0, 0, 1, 20, +1},
		{"more than half busy grows", false, 4, 3, 1, 20, +1},
		{"at max stays", false, 20, 20, 1, 20, 0},
		{"half busy stays", false, 4, 2, 1, 20, 0},
		{"idle shrinks", false, 4, 1, 1, 20, -1},
		{"idle at min stays", false, 1, 0, 1, 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d, _ := decide(tt.blocked, tt.size, tt.busy, tt.lo, tt.hi); d != tt.wantDelta {
				t.Fatalf("decide = %d, want %d", d, tt.wantDelta)
			}
		})
	}
}
