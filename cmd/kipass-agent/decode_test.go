package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kipass/kipass/screen"
)

// TestDecodeJSONKeepsOrder runs `decode --json` over real PNG files (codes,
// a blank scene, a file that is not an image) on several workers and checks
// one line per image, in the order given, with the documented fields.
func TestDecodeJSONKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	var paths, want []string
	for i := 0; i < 9; i++ {
		p := filepath.Join(dir, fmt.Sprintf("img%d.png", i))
		text := fmt.Sprintf("KP1:TEST%02d", i)
		img, err := screen.Render(text, screen.Options{})
		if i%4 == 3 {
			img, text = screen.Blank(screen.Options{}), ""
		}
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.Create(p)
		png.Encode(f, img)
		f.Close()
		paths, want = append(paths, p), append(want, text)
	}
	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	paths, want = append(paths, bad), append(want, "")

	var out, errOut bytes.Buffer
	// Some images hold no code: the lines say which, and the command fails.
	if err := cmdDecode(append([]string{"--json", "--budget", "1m"}, paths...), &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "3 of 10 images") {
		t.Fatalf("decode --json with failing images: err %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("%d lines for %d images:\n%s", len(lines), len(paths), out.String())
	}
	for i, l := range lines {
		var d struct {
			File string  `json:"file"`
			OK   bool    `json:"ok"`
			Text string  `json:"text"`
			MS   float64 `json:"ms"`
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if d.File != paths[i] || d.OK != (want[i] != "") || d.Text != want[i] {
			t.Errorf("line %d = %s, want file %s text %q", i, l, paths[i], want[i])
		}
	}
}
