package backup

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFile(t *testing.T, body []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	h := Header{Index: 0x100000042, Created: time.UnixMilli(1700000000123)}
	if err := Write(&buf, h, func(w io.Writer) error { _, err := w.Write(body); return err }); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.zkfcbak")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	body := bytes.Repeat([]byte("tree bytes "), 1000)
	path, _ := writeFile(t, body)
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Index != 0x100000042 || b.Created.UnixMilli() != 1700000000123 {
		t.Fatalf("header %+v", b.Header)
	}
	got, err := io.ReadAll(b.Tree())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("tree: got %d bytes, want %d", len(got), len(body))
	}
}

// Every single-byte change and every truncation is refused.
func TestDamageIsRefused(t *testing.T) {
	_, img := writeFile(t, []byte("some tree"))
	dir := t.TempDir()
	check := func(name string, bad []byte) {
		t.Helper()
		path := filepath.Join(dir, "bad")
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := Open(path)
		if err == nil {
			b.Close()
			t.Fatalf("%s: accepted", name)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	for i := range img {
		bad := bytes.Clone(img)
		bad[i] ^= 0x01
		check("flipped byte", bad)
	}
	for n := 0; n < len(img); n++ {
		check("truncated", img[:n])
	}
}

func TestWriteRefusesIndexZero(t *testing.T) {
	if err := Write(io.Discard, Header{}, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("index 0 accepted")
	}
}
