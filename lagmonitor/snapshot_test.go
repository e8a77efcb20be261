package lagmonitor

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestTrimBeforeAndSinceParam(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := Snapshot{Samples: []Sample{{At: t0}, {At: t0.Add(100 * time.Millisecond)}, {At: t0.Add(200 * time.Millisecond)}}}
	for _, tt := range []struct {
		query   string
		keep    int
		wantErr bool
	}{
		{"", 3, false},
		{"?since=" + t0.Add(100*time.Millisecond).Format(time.RFC3339Nano), 2, false},
		{"?since=" + t0.Add(time.Hour).Format(time.RFC3339Nano), 0, false},
		{"?since=yesterday", 3, true},
	} {
		t.Run(tt.query, func(t *testing.T) {
			s := snap
			since, ok, err := SinceParam(httptest.NewRequest("GET", "/debug/lag"+tt.query, nil))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if ok {
				s.TrimBefore(since)
			}
			if len(s.Samples) != tt.keep {
				t.Fatalf("kept %d samples, want %d", len(s.Samples), tt.keep)
			}
		})
	}
}
