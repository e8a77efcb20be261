package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/offload/offload/internal/cli"
)

func TestExerciseStartThenCheck(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runExercise(context.Background(), []string{"check", "4", "--out", out}, &stdout, &stderr)
	if !errors.Is(err, errNotYet) || !strings.Contains(stdout.String(), "offload exercise start 4 --out "+out) {
		t.Fatalf("check before start: %v\n%s", err, stdout.String())
	}
	stdout.Reset()
	if err := runExercise(context.Background(), []string{"start", "4", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("start: %v (%s)", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "exercise 4 started") {
		t.Fatalf("start printed %q", stdout.String())
	}
	stdout.Reset()
	err = runExercise(context.Background(), []string{"check", "4", "--out", out}, &stdout, &stderr)
	if !errors.Is(err, errNotYet) || !strings.Contains(stdout.String(), "found no worker-crash or web-crash runs") {
		t.Fatalf("check after start, nothing run: %v\n%s", err, stdout.String())
	}
}

func TestExerciseBadArguments(t *testing.T) {
	for _, args := range [][]string{{"start"}, {"start", "9"}, {"frob", "4"}} {
		var stdout, stderr bytes.Buffer
		err := runExercise(context.Background(), args, &stdout, &stderr)
		var u *cli.UsageError
		if !errors.As(err, &u) {
			t.Errorf("exercise %v: %v, want a usage error", args, err)
		}
	}
}
