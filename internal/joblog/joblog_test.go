package joblog_test

import (
	"fmt"
	"testing"

	"github.com/offload/offload/internal/joblog"
)

type st struct {
	status string
	n      int
}

func isFinal(s st) bool { return s.status == "done" }

func TestLogKeepsLiveJobsAndTheLastFinished(t *testing.T) {
	type step struct {
		op, id, status string
	}
	for _, tc := range []struct {
		name    string
		keep    int
		steps   []step
		present []string
		absent  []string
	}{
		{name: "oldest finished goes first", keep: 2,
			steps:   []step{{"set", "a", "done"}, {"set", "b", "done"}, {"set", "c", "done"}},
			present: []string{"b", "c"}, absent: []string{"a"}},
		{name: "live jobs are never evicted", keep: 1,
			steps:   []step{{"set", "live", "running"}, {"set", "a", "done"}, {"set", "b", "done"}, {"set", "c", "done"}},
			present: []string{"live", "c"}, absent: []string{"a", "b"}},
		{name: "a job running again is not evicted by its old finish", keep: 1,
			steps:   []step{{"set", "a", "done"}, {"set", "a", "running"}, {"set", "b", "done"}},
			present: []string{"a", "b"}},
		{name: "a job finished twice counts from its last finish", keep: 2,
			steps:   []step{{"set", "a", "done"}, {"set", "b", "done"}, {"set", "a", "done"}, {"set", "c", "done"}},
			present: []string{"a", "c"}, absent: []string{"b"}},
		{name: "add does not undo an earlier report", keep: 5,
			steps:   []step{{"set", "a", "done"}, {"add", "a", "running"}},
			present: []string{"a"}},
		{name: "update ignores unknown jobs", keep: 5,
			steps:  []step{{"update", "ghost", "done"}},
			absent: []string{"ghost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := joblog.New(tc.keep, isFinal)
			for _, s := range tc.steps {
				switch s.op {
				case "set":
					l.Set(s.id, st{status: s.status})
				case "add":
					l.Add(s.id, st{status: s.status})
				case "update":
					l.Update(s.id, func(old st) st { old.status = s.status; return old })
				}
			}
			for _, id := range tc.present {
				if _, ok := l.Get(id); !ok {
					t.Errorf("%s forgotten", id)
				}
			}
			for _, id := range tc.absent {
				if _, ok := l.Get(id); ok {
					t.Errorf("%s still remembered", id)
				}
			}
		})
	}
}

func TestAddAndUpdate(t *testing.T) {
	l := joblog.New(10, isFinal)
	if !l.Add("a", st{status: "queued"}) || l.Add("a", st{status: "running"}) {
		t.Fatal("Add: want true for a new id, false for a known one")
	}
	got, ok := l.Update("a", func(s st) st { s.n++; s.status = "done"; return s })
	if !ok || got != (st{"done", 1}) {
		t.Fatalf("Update = %v %v", got, ok)
	}
	if s, _ := l.Get("a"); s != got {
		t.Fatalf("Get = %v, want %v", s, got)
	}
}

func TestLenStaysBounded(t *testing.T) {
	l := joblog.New(100, isFinal)
	for i := range 10_000 {
		l.Set(fmt.Sprint(i), st{status: "done"})
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d after 10000 finished jobs, want 100", n)
	}
}
