package engine

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

func TestReaderLinesWithDedup(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	in := "A1\r\nB2\nA1\n\n\x01C3\tD4\x03E5"
	c := NewReader(strings.NewReader(in), "stdin", Options{Clock: fc})
	defer c.Close()
	got := texts(readCodes(t, c))
	if strings.Join(got, "|") != "A1|B2|C3|D4|E5" {
		t.Fatalf("codes %q (A1 repeat at the same instant must be suppressed)", got)
	}
	if _, err := c.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("after end: %v, want io.EOF", err)
	}
	// Without dedup the repeat comes through.
	c2 := NewReader(strings.NewReader("A1\nA1\n"), "stdin", Options{Clock: fc, DedupWindow: -1})
	defer c2.Close()
	if got := texts(readCodes(t, c2)); len(got) != 2 {
		t.Errorf("dedup off: %q", got)
	}
}

func TestReaderDropsOverlongCode(t *testing.T) {
	c := NewReader(strings.NewReader(strings.Repeat("x", 50)+"\nOK\n"), "stdin", Options{MaxLen: 10})
	defer c.Close()
	if got := texts(readCodes(t, c)); len(got) != 1 || got[0] != "OK" {
		t.Errorf("codes %q, want only OK", got)
	}
}

func TestOpenRejectsBadSpecs(t *testing.T) {
	for _, spec := range []string{"", "serial:", "evdev:", "usb:x", "serial:/dev/x?baud=fast", "evdev:/dev/x?layout=dvorak", "serial:/dev/x?speed=1"} {
		if _, err := Open(context.Background(), spec, Options{}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Open(%q) = %v, want ErrBadSpec", spec, err)
		}
	}
}
