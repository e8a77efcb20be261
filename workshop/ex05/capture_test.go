package ex05_test

import (
	"context"
	"os"
	"testing"

	"github.com/offload/offload/workshop"
	"github.com/offload/offload/workshop/ex05"
)

// TestCheck is what `make exercise N=5` runs, under the race detector. It
// is skipped in a plain `go test ./...`, because the skeleton is meant to
// fail it.
func TestCheck(t *testing.T) {
	if os.Getenv("OFFLOAD_EXERCISE") != "5" {
		t.Skip("exercise 5's skeleton: run `make exercise N=5` to check it")
	}
	msg, err := workshop.CheckCapture(context.Background(), workshop.Options{}, ex05.New)
	if werr := workshop.WriteVerdict(msg, err); werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Log(msg)
}
