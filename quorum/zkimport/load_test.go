package zkimport

import (
	"encoding/hex"
	"testing"
)

// The expected bytes were printed by java.util.Random(id ^ 0xB3415C00L)
// .nextBytes on a 16-byte array (OpenJDK 17), which is what ZooKeeper
// hands out as a session's password.
func TestPasswdMatchesZooKeeper(t *testing.T) {
	for _, c := range []struct {
		id   int64
		want string
	}{
		{72057594037927937, "054cc74a37327db215e702e20c73f005"},
		{-5, "d47144b5e45e45c49c3b7fdcd66257ba"},
	} {
		if got := hex.EncodeToString(Passwd(c.id)); got != c.want {
			t.Errorf("Passwd(%#x) = %s, want %s", c.id, got, c.want)
		}
	}
}
