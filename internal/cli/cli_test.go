package cli

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantAddr string
		wantCode int
	}{
		{name: "default", wantAddr: "127.0.0.1:8080"},
		{name: "env", env: map[string]string{"OFFLOAD_ADDR": "127.0.0.1:9"}, wantAddr: "127.0.0.1:9"},
		{name: "flag beats env", env: map[string]string{"OFFLOAD_ADDR": "127.0.0.1:9"}, args: []string{"--addr", "127.0.0.1:7"}, wantAddr: "127.0.0.1:7"},
		{name: "bad env value", env: map[string]string{"OFFLOAD_DELAY": "soon"}, wantCode: 2},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: 2},
		{name: "stray argument", args: []string{"extra"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := NewFlagSet("test", io.Discard)
			addr := fs.String("addr", "127.0.0.1:8080", "")
			fs.Duration("delay", time.Second, "")
			err := Parse(fs, tt.args)
			if got := ExitCode(err); got != tt.wantCode {
				t.Fatalf("exit code = %d (%v), want %d", got, err, tt.wantCode)
			}
			if tt.wantCode == 0 && *addr != tt.wantAddr {
				t.Fatalf("addr = %q, want %q", *addr, tt.wantAddr)
			}
		})
	}
}

func TestRedisURLAlias(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	fs := NewFlagSet("test", io.Discard)
	redis := fs.String("redis", "", "")
	if err := Parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	if *redis != "redis://127.0.0.1:1/0" {
		t.Fatalf("redis = %q", *redis)
	}
	if ExitCode(flag.ErrHelp) != 0 || ExitCode(errors.New("x")) != 1 {
		t.Fatal("exit codes")
	}
}
