package camera

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

// healthLog records health changes from OnHealth.
type healthLog struct {
	mu     sync.Mutex
	states []State
	last   Health
}

func (h *healthLog) record(x Health) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.states = append(h.states, x.State)
	h.last = x
}

func (h *healthLog) get() []State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]State(nil), h.states...)
}

func TestLiveReopensAfterMidStreamFailure(t *testing.T) {
	// Connection 1 dies after 5 frames; connection 2 keeps going. The
	// left half tells the connections apart.
	srv := newMJPEGServer(t, 10*time.Millisecond,
		func(c, i int) *image.Gray { return pattern(64, 48, uint8(60*c), 100) },
		func(c int) int {
			if c == 1 {
				return 5
			}
			return 0
		}, false)
	var hl healthLog
	live, err := OpenLive("mjpeg+"+srv.URL, Options{BackoffMin: 20 * time.Millisecond, OnHealth: hl.record})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if !live.Consecutive() {
		t.Error("an MJPEG stream's frames are not consecutive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[int]int{}
	for seen[2] < 3 {
		f, err := live.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (seen %v)", err, seen)
		}
		l, _ := halfMeans(f.Gray)
		seen[int(l/60+0.5)]++
	}
	if seen[1] == 0 {
		t.Errorf("no frame from the first connection: %v", seen)
	}
	want := []State{StateOK, StateReopening, StateOK}
	if got := hl.get(); !equalStates(got, want) {
		t.Errorf("health changes %v, want %v", got, want)
	}
	h := live.Health()
	if h.State != StateOK || h.Reopens != 2 || h.LastFrame.IsZero() {
		t.Errorf("health %+v, want ok after 2 opens", h)
	}
	if srv.conns.Load() != 2 {
		t.Errorf("%d connections, want 2", srv.conns.Load())
	}
}

func TestLiveWatchdogReopensSilentStream(t *testing.T) {
	// Connection 1 sends 3 frames and then goes silent without closing.
	srv := newMJPEGServer(t, 10*time.Millisecond,
		func(c, i int) *image.Gray { return pattern(64, 48, uint8(60*c), 100) },
		func(c int) int {
			if c == 1 {
				return 3
			}
			return 0
		}, true)
	var hl healthLog
	live, err := OpenLive("mjpeg+"+srv.URL, Options{Watchdog: 200 * time.Millisecond, BackoffMin: 10 * time.Millisecond, OnHealth: hl.record})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		f, err := live.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := halfMeans(f.Gray); l > 90 {
			break // a frame of connection 2
		}
	}
	hl.mu.Lock()
	defer hl.mu.Unlock()
	if !equalStates(hl.states, []State{StateOK, StateReopening, StateOK}) {
		t.Errorf("health changes %v", hl.states)
	}
}

func equalStates(a, b []State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// waitWaiters waits until the fake clock has n pending timers.
func waitWaiters(t *testing.T, fc *clock.Fake, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for fc.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("clock has %d waiters, want %d", fc.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLiveBacksOffWhileAbsentThenRecovers(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	dir := filepath.Join(t.TempDir(), "cam")
	var hl healthLog
	var logs bytes.Buffer
	live, err := OpenLive("folder:"+dir, Options{
		Clock: fc, OnHealth: hl.record, BackoffMin: time.Second, BackoffMax: 4 * time.Second,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	type res struct {
		f   Frame
		err error
	}
	out := make(chan res, 1)
	go func() {
		f, err := live.Next(context.Background())
		out <- res{f, err}
	}()
	// Attempts at t=0, +1 s, +2 s, +4 s, +4 s: backoff doubles up to the cap.
	for i, step := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		waitWaiters(t, fc, 1)
		h := live.Health()
		if h.State != StateAbsent || h.Reopens != i+1 {
			t.Fatalf("attempt %d: health %+v, want absent after %d opens", i+1, h, i+1)
		}
		fc.Advance(step - time.Millisecond)
		if fc.Waiters() != 1 || live.Health().Reopens != i+1 {
			t.Fatalf("attempt %d: reopened before the backoff of %v", i+1, step)
		}
		if i == 3 {
			// The camera comes back.
			if err := WriteFolder(dir, []*image.Gray{pattern(64, 48, 77, 77)}); err != nil {
				t.Fatal(err)
			}
		}
		fc.Advance(time.Millisecond)
	}
	r := <-out
	if r.err != nil {
		t.Fatal(r.err)
	}
	if l, _ := halfMeans(r.f.Gray); l != 77 {
		t.Errorf("frame mean %v", l)
	}
	if h := live.Health(); h.State != StateOK || h.Reopens != 5 {
		t.Errorf("health %+v, want ok after 5 opens", h)
	}
	if !equalStates(hl.get(), []State{StateAbsent, StateOK}) {
		t.Errorf("health changes %v", hl.get())
	}
	if !strings.Contains(logs.String(), "does not exist") {
		t.Errorf("no clear log line for the missing folder:\n%s", logs.String())
	}
	if _, err := live.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("end of folder: %v, want io.EOF", err)
	}
}

func TestLiveLowPowerAfterIdleAndBackOnMotionOrCode(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	still := pattern(64, 48, 100, 100)
	moved := pattern(64, 48, 100, 200)
	frames := []*image.Gray{still, still, still, moved, moved, moved, moved, moved}
	if err := WriteFolder(dir, frames); err != nil {
		t.Fatal(err)
	}
	live, err := OpenLive("folder:"+dir, Options{Clock: fc, IdleAfter: 10 * time.Second, LowFPS: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ctx := context.Background()
	next := func() Frame {
		t.Helper()
		ch := make(chan Frame, 1)
		go func() {
			f, err := live.Next(ctx)
			if err != nil {
				t.Error(err)
			}
			ch <- f
		}()
		for {
			select {
			case f := <-ch:
				return f
			case <-time.After(time.Millisecond):
				// A low-power wait is pending: let it pass.
				if fc.Waiters() > 0 {
					fc.Advance(500 * time.Millisecond)
				}
			}
		}
	}
	next()
	if live.Health().LowPower {
		t.Fatal("low power at start")
	}
	fc.Advance(11 * time.Second)
	f1 := next() // still, 11 s after the last activity
	if !live.Health().LowPower {
		t.Fatal("not low power after 11 s without motion")
	}
	f2 := next() // still: paced at 2 fps
	if d := f2.At.Sub(f1.At); d < 500*time.Millisecond {
		t.Errorf("low-power frame %v after the previous one, want ≥ 500 ms", d)
	}
	next() // moved: motion
	if live.Health().LowPower {
		t.Fatal("still low power after motion")
	}
	fc.Advance(11 * time.Second)
	next()
	if !live.Health().LowPower {
		t.Fatal("not low power again")
	}
	live.NoteCode()
	next()
	if live.Health().LowPower {
		t.Fatal("still low power after a code")
	}
}

func TestLiveSnapshotOnlyBehindFlag(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFolder(dir, []*image.Gray{pattern(64, 48, 30, 90)}); err != nil {
		t.Fatal(err)
	}
	off, err := OpenLive("folder:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if off.Consecutive() {
		t.Error("an image folder's stills are consecutive frames")
	}
	if _, err := off.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Snapshot(); !errors.Is(err, ErrSnapshotDisabled) {
		t.Errorf("snapshot without flag: %v", err)
	}
	snapDir := filepath.Join(t.TempDir(), "snaps")
	on, err := OpenLive("folder:"+dir, Options{DebugSnapshotDir: snapDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := on.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	path, err := on.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g, err := decodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if l, r := halfMeans(g); l != 30 || r != 90 {
		t.Errorf("snapshot means %v %v", l, r)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenLiveRejectsHopelessSpecs(t *testing.T) {
	if _, err := OpenLive("", Options{}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("empty spec: %v", err)
	}
	if !HaveOpenCV {
		if _, err := OpenLive("/dev/video0", Options{}); !errors.Is(err, ErrNoOpenCV) {
			t.Errorf("device without OpenCV: %v", err)
		}
	}
}
