package token

import (
	"testing"

	"github.com/kipass/kipass/screen"
)

// TestQRVersion measures the QR symbol a version-1 token needs and prints it
// (go test -v -run QRVersion ./token/). The issue asks for version 7 or less
// at error-correction level M, so that cheap cameras read it at arm's length.
func TestQRVersion(t *testing.T) {
	k := mustKey(t, "dev")
	tok := mustIssue(t, k, t0)
	for _, level := range []string{"L", "M", "Q", "H"} {
		c, err := screen.Encode(tok, level, 0)
		if err != nil {
			t.Fatalf("encode at %s: %v", level, err)
		}
		t.Logf("token of %d characters: QR version %d (%d×%d modules) at level %s", len(tok), c.Version, c.Size, c.Size, level)
		if level == "M" && c.Version > 7 {
			t.Errorf("QR version %d at level M, want ≤ 7", c.Version)
		}
	}
}
