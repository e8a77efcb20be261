package workerid_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/offload/offload/internal/workerid"
)

func TestNames(t *testing.T) {
	want := fmt.Sprintf("%s:%d", workerid.Host(), os.Getpid())
	if got := workerid.Name(); got != want {
		t.Fatalf("Name = %q, want %q", got, want)
	}
	u := workerid.Unique()
	if !strings.HasPrefix(u, want+":") || len(u) <= len(want)+1 {
		t.Fatalf("Unique = %q, want %q:<start>", u, want)
	}
	if workerid.Unique() != u {
		t.Fatal("Unique changed within one process")
	}
}
