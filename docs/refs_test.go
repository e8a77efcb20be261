package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outsideRefs are ways a page, comment or test could point at something a
// reader of this repository cannot follow: notes and files of the team
// that built it, by their paths and names. The talk and the articles are cited by title instead
// (sources.md).
var outsideRefs = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bfacts\.md\b`),
	regexp.MustCompile(`(?i)\b(design|style)\.md\b`),
	regexp.MustCompile(`(?i)\bseeds? 0\d\d`),
	regexp.MustCompile(`\.\./shared\b`),
	regexp.MustCompile(`(?i)(^|[\s(])run\.sh\b`),
	regexp.MustCompile(`(?i)\bthe issue (asked|says|names|wants)\b|\bthe issue's\b`),
	regexp.MustCompile(`(?i)\bissues show\b`),
}

// Every tracked file must read on its own: no reference outside the repo.
func TestNoReferencesOutsideTheRepo(t *testing.T) {
	out, err := exec.Command("git", "-C", "..", "ls-files").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	files := strings.Fields(string(out))
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files", len(files))
	}
	for _, f := range files {
		if f == "docs/refs_test.go" || strings.HasSuffix(f, ".png") || f == "go.sum" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			continue // deleted in the work tree
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, re := range outsideRefs {
				if m := re.FindString(line); m != "" {
					t.Errorf("%s:%d refers outside the repository (%q): %s", f, i+1, strings.TrimSpace(m), strings.TrimSpace(line))
				}
			}
		}
	}
}
