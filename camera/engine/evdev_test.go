package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
)

var update = flag.Bool("update", false, "rewrite the evdev recordings in testdata")

// recorder writes key actions as the kernel reports them on a 64-bit
// machine: EV_MSC scan code, EV_KEY, EV_SYN for each press and release,
// with the timestamps a scanner typing at 2 ms per key produces.
type recorder struct {
	buf bytes.Buffer
	t   time.Time
}

func (r *recorder) event(typ, code uint16, value int32) {
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(r.t.Unix()))
	binary.LittleEndian.PutUint64(b[8:], uint64(r.t.Nanosecond()/1000))
	binary.LittleEndian.PutUint16(b[16:], typ)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	r.buf.Write(b[:])
}

func (r *recorder) key(code uint16, value int32) {
	r.event(4, 4, int32(code)+0x70000) // EV_MSC MSC_SCAN
	r.event(evKey, code, value)
	r.event(evSyn, 0, 0)
	r.t = r.t.Add(time.Millisecond)
}

// tap presses and releases code, with shift held if asked.
func (r *recorder) tap(code uint16, shift bool) {
	if shift {
		r.key(keyLeftShift, 1)
	}
	r.key(code, 1)
	r.key(code, 0)
	if shift {
		r.key(keyLeftShift, 0)
	}
}

// typeUS types s with the US layout.
func (r *recorder) typeUS(t *testing.T, s string) {
	for _, c := range s {
		found := false
		for code, k := range usKeys {
			if code >= 55 && code != 57 { // skip keypad duplicates
				continue
			}
			if k[0] == c || k[1] == c {
				r.tap(code, k[0] != c)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("no US key for %q", c)
		}
	}
}

func (r *recorder) wait(d time.Duration) { r.t = r.t.Add(d) }

// recording returns the named recording, regenerating it with -update.
func recording(t *testing.T, name string, gen func(r *recorder)) string {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		r := &recorder{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
		gen(r)
		if err := os.WriteFile(path, r.buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	return path
}

func readCodes(t *testing.T, c Codes) []Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []Code
	for {
		code, err := c.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d codes: %v", len(out), err)
		}
		out = append(out, code)
	}
}

func texts(cs []Code) []string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Text)
	}
	return s
}

func TestEvdevRecordingUSWithEnter(t *testing.T) {
	const code = "KIPASS1.AbC-09:/+%$*"
	path := recording(t, "us_enter.events", func(r *recorder) {
		r.typeUS(t, code)
		r.tap(keyEnter, false)
		r.wait(time.Second) // the scanner fires twice on one trigger pull
		r.typeUS(t, code)
		r.tap(keyEnter, false)
		r.wait(3 * time.Second)
		r.typeUS(t, "second code")
		r.tap(keyKPEnter, false)
	})
	c, err := Open(context.Background(), "evdev:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := readCodes(t, c)
	want := []string{code, "second code"}
	if strings.Join(texts(got), "|") != strings.Join(want, "|") {
		t.Fatalf("codes %q, want %q (the repeat 1 s later suppressed)", texts(got), want)
	}
	if got[0].Source != "evdev:"+path || got[0].At.Year() != 2026 {
		t.Errorf("code meta %+v", got[0])
	}
}

func TestEvdevRecordingNoEnterEndsByIdle(t *testing.T) {
	path := recording(t, "us_noenter.events", func(r *recorder) {
		r.typeUS(t, "FIRST-1")
		r.wait(500 * time.Millisecond)
		r.typeUS(t, "SECOND-2")
		r.key(keyCapsLock, 1)
		r.key(keyCapsLock, 0)
		r.typeUS(t, "x") // caps lock on: X
	})
	c, err := Open(context.Background(), "evdev:"+path, Options{IdleEnd: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := texts(readCodes(t, c))
	if strings.Join(got, "|") != "FIRST-1|SECOND-2X" {
		t.Fatalf("codes %q", got)
	}
}

func TestEvdevRecordingKorean2Set(t *testing.T) {
	path := recording(t, "ko_2set.events", func(r *recorder) {
		r.tap(keyHangeul, false)
		for _, k := range []uint16{34, 37, 31, 19, 50, 33} { // g k s r m f: 한글
			r.tap(k, false)
		}
		r.tap(20, true) // shift+t: ㅆ
		r.tap(23, false)
		r.tap(keyHangeul, false)
		r.typeUS(t, "-QR1")
		r.tap(keyEnter, false)
	})
	for _, tc := range []struct{ layout, want string }{
		{"ko", "한글쌰-QR1"},
		{"us", "gksrmfTi-QR1"}, // the same keys read with the US layout
	} {
		c, err := Open(context.Background(), "evdev:"+path+"?layout="+tc.layout, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := texts(readCodes(t, c))
		c.Close()
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("layout %s: %q, want %q", tc.layout, got, tc.want)
		}
	}
}

func TestEvdevLiveDeviceIdleEndAndReopen(t *testing.T) {
	// A FIFO stands in for the character device: it supports read
	// deadlines like /dev/input/event*, and a closed writer is a device
	// that went away.
	dir := t.TempDir()
	fifo := filepath.Join(dir, "event0")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var logs syncBuffer
	c, err := Open(context.Background(), "evdev:"+fifo, Options{
		IdleEnd: 80 * time.Millisecond, BackoffMin: 20 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round, text := range []string{"NOENTER-1", "NOENTER-2"} {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := &recorder{t: time.Now()}
		r.typeUS(t, text)
		if _, err := w.Write(r.buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		// No Enter and the writer stays open: only the idle timer ends it.
		code, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if code.Text != text {
			t.Errorf("round %d: %q, want %q", round, code.Text, text)
		}
		w.Close() // the device goes away; the engine reopens it
		deadline := time.Now().Add(5 * time.Second)
		for c.(HealthReporter).Health().State == camera.StateOK {
			if time.Now().After(deadline) {
				t.Fatal("health still ok after the device went away")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if h := c.(HealthReporter).Health(); h.Reopens != 2 || !strings.Contains(h.Reason, "EOF") {
		t.Errorf("health %+v, want reopening after 2 opens", h)
	}
	if !strings.Contains(logs.String(), "exclusive grab failed") {
		t.Errorf("a failed grab must be logged:\n%s", logs.String())
	}
}
