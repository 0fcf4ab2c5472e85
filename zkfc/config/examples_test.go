package config

import (
	"path/filepath"
	"testing"
)

// The shipped example configurations must stay valid.
func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) < 3 {
		t.Fatalf("expected example configs in configs/, found %v", files)
	}
	for _, f := range files {
		if _, err := Load(f, nil, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
