// Package cli holds what every offload subcommand does the same way: flags
// that also read the environment, and the exit-code contract (a bad flag,
// unknown strategy, bad URL or unreachable Redis is one line on stderr and
// exit status 2).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// UsageError is a mistake in how the program was invoked or configured;
// main prints it as one line and exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Usage wraps err as a UsageError (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// ExitCode maps a run error to the process exit status.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// EnvName is the variable a flag reads: OFFLOAD_<NAME>, dashes as underscores.
func EnvName(flagName string) string {
	return "OFFLOAD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// aliases are conventional variables read too (the OFFLOAD_ one wins).
var aliases = map[string]string{"redis": "REDIS_URL"}

// NewFlagSet returns a FlagSet that reports errors instead of exiting.
func NewFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("offload "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// Parse applies environment defaults, then the command line. Every error is
// a UsageError naming the flag or variable.
func Parse(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil {
			return
		}
		name := EnvName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok {
			if alias, has := aliases[f.Name]; has {
				name = alias
				v, ok = os.LookupEnv(alias)
			}
		}
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			envErr = Usagef("%s=%q: %v", name, v, err)
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
