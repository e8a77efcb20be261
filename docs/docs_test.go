// Package docs_test keeps the documentation (docs/ and the README) honest:
// every fenced block marked `sh runnable` runs as written (with the built
// offload on PATH, in a temporary directory, its fixed ports swapped for
// free ones), and what it prints matches the `output` block that follows
// it, exactly, or in shape when marked `output illustrative`; every
// relative link points at a file that exists; every measured number
// equals what `make docs-numbers` computes from docs/data/.
package docs_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/docnums"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/results"
)

// block is one fenced code block of a markdown file.
type block struct {
	file string
	line int
	info string
	text string
}

func markdownFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(files, filepath.Join("..", "README.md"))
}

func blocks(t *testing.T, file string) []block {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{file: file, line: n, info: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block never closed", file, cur.line)
	}
	return out
}

// fixedAddr is any 127.0.0.1:80xx a block uses; each gets a free port.
var fixedAddr = regexp.MustCompile(`127\.0\.0\.1:80[0-9][0-9]`)

func TestRunnableBlocks(t *testing.T) {
	bin := itest.Binary(t)
	var runnable []block
	want := map[int]block{} // index in runnable -> the output block after it
	for _, f := range markdownFiles(t) {
		bs := blocks(t, f)
		for i, b := range bs {
			if b.info == "sh runnable" {
				if i+1 < len(bs) && strings.HasPrefix(bs[i+1].info, "output") {
					want[len(runnable)] = bs[i+1]
				}
				runnable = append(runnable, b)
			}
		}
	}
	if len(runnable) < 4 {
		t.Fatalf("found %d runnable blocks; the docs promise more", len(runnable))
	}
	for i, b := range runnable {
		t.Run(fmt.Sprintf("%s:%d", b.file, b.line), func(t *testing.T) {
			out := runBlock(t, bin, b)
			if w, ok := want[i]; ok {
				compareOutput(t, w, out)
			}
		})
	}
}

// number is any number in a line of output, for comparing shapes.
var number = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// compareOutput holds a block's output to the output block after it:
// `output` exactly; `output illustrative` in shape: each of its lines (with
// its numbers, and … as any text) must be among the lines printed, in any
// order; "..." alone on a line stands for lines left out.
func compareOutput(t *testing.T, want block, got string) {
	t.Helper()
	switch want.info {
	case "output":
		if got != want.text {
			t.Fatalf("%s:%d: the block above printed\n%s\nbut the page claims exactly\n%s(mark it `output illustrative` if it cannot be reproduced)", want.file, want.line, got, want.text)
		}
	case "output illustrative":
		shape := func(l string) *regexp.Regexp {
			q := regexp.QuoteMeta(number.ReplaceAllString(strings.TrimSpace(l), "0"))
			q = strings.ReplaceAll(q, "0", `[0-9]+(\.[0-9]+)?`)
			q = strings.ReplaceAll(strings.ReplaceAll(q, "…", ".*"), `\.\.\.`, ".*")
			return regexp.MustCompile("^" + q + "$")
		}
		lines := strings.Split(strings.TrimSpace(got), "\n")
		for _, l := range strings.Split(strings.TrimSpace(want.text), "\n") {
			if strings.TrimSpace(l) == "..." || strings.TrimSpace(l) == "" {
				continue
			}
			re, found := shape(l), false
			for _, g := range lines {
				if re.MatchString(strings.TrimSpace(g)) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s:%d: the page shows the line %q, and the block above printed nothing of that shape:\n%s", want.file, want.line, l, got)
			}
		}
	default:
		t.Fatalf("%s:%d: unknown output block %q: use output or output illustrative", want.file, want.line, want.info)
	}
}

func runBlock(t *testing.T, bin string, b block) string {
	ports := map[string]string{}
	script := fixedAddr.ReplaceAllStringFunc(b.text, func(a string) string {
		if ports[a] == "" {
			ports[a] = itest.FreeAddr(t)
		}
		return ports[a]
	})
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Commands that rely on the default addresses see the swapped ones.
	for fixed, env1 := range map[string]string{"127.0.0.1:8080": "OFFLOAD_ADDR", "127.0.0.1:8081": "OFFLOAD_ADDR2"} {
		if ports[fixed] == "" {
			ports[fixed] = itest.FreeAddr(t)
		}
		env = append(env, env1+"="+ports[fixed])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = t.TempDir(), env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var outb, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &outb, &errb
	err := cmd.Run()
	out := outb.String()
	// Anything the block left running dies with its process group.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Logf("output:\n%s%s", out, errb.String())
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			t.Fatalf("%s:%d: the block exited %d", b.file, b.line, ee.ExitCode())
		}
		t.Fatalf("%s:%d: %v", b.file, b.line, err)
	}
	// Ports were swapped for free ones: show the output in the page's terms.
	for fixed, free := range ports {
		out = strings.ReplaceAll(out, free, fixed)
	}
	return out
}

// link is a markdown link target: ](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

func TestRelativeLinksResolve(t *testing.T) {
	for _, f := range markdownFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			if strings.HasPrefix(target, "../out/") || strings.HasPrefix(target, "../../out/") {
				continue // generated by a bench run
			}
			p := filepath.Join(filepath.Dir(f), target)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: link %s: %v", f, m[1], err)
			}
		}
	}
}

// TestNumbersMatchData: every number marked in README.md and docs/ is what
// `make docs-numbers` computes from docs/data/results.json.
func TestNumbersMatchData(t *testing.T) {
	f, err := results.Read(filepath.Join("..", docnums.DataFile))
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := docnums.Check("..", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("%s differs from %s (run make docs-numbers):\n  %s", d.Page, docnums.DataFile, strings.Join(d.Lines, "\n  "))
	}
}

// TestMeasuredTablesAreMarked: a table of latencies, losses or lag in
// README.md or docs/ either takes its figures from the data (markers) or
// says, just above it, that it is illustrative.
func TestMeasuredTablesAreMarked(t *testing.T) {
	pages, err := docnums.Pages("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range docnums.Unmarked(string(b)) {
			t.Errorf("%s: %s: a measured figure typed in; mark it (<!-- n:... -->, make docs-numbers) or say above the table that it is illustrative", p, l)
		}
	}
}
