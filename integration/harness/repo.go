package harness

import (
	"path/filepath"
	"runtime"
)

// RepoRoot is the repository's root directory: the tests run the examples'
// scripts, build binaries and write the bench report from there.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
