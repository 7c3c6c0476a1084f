package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// State is a live source's health as the status page and heartbeat show it.
type State int

const (
	// StateOK means frames are arriving.
	StateOK State = iota
	// StateReopening means the source failed (stall, unplug, stream drop)
	// and is being reopened with backoff.
	StateReopening
	// StateAbsent means the device is missing or has failed to open
	// Options.AbsentAfter times in a row; reopening goes on.
	StateAbsent
	// StateWatching means a watched folder is read and has no new image:
	// the source is fine and waits (Options.WatchFolder).
	StateWatching
	// StateStarting means the source is being opened for the first time
	// and has delivered no frame yet.
	StateStarting
)

// String returns "ok", "reopening", "absent", "watching" or "starting".
func (s State) String() string {
	switch s {
	case StateOK:
		return "ok"
	case StateReopening:
		return "reopening"
	case StateAbsent:
		return "absent"
	case StateWatching:
		return "watching"
	case StateStarting:
		return "starting"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Health is a snapshot of a live source's condition.
type Health struct {
	// State is ok, reopening or absent.
	State State
	// Since is when the source entered State.
	Since time.Time
	// Reason is the last error, empty when ok. It names the source and the
	// failure, never frame content.
	Reason string
	// Reopens counts reopen attempts since OpenLive.
	Reopens int
	// LowPower reports whether the source runs at Options.LowFPS.
	LowPower bool
	// LastFrame is the capture time of the last frame delivered.
	LastFrame time.Time
}

// pacer is implemented by sources whose reader can slow down, so that
// low-power mode saves the capture's CPU and not only the decoder's.
type pacer interface{ setInterval(time.Duration) }

// Live is a source that keeps itself running: it reopens a failed or
// stalled source with backoff, reports its health, drops to a low frame
// rate when nothing happens, and passes refocus requests to the camera.
// It is meant for the daemon's camera; Next is called from one goroutine,
// the other methods from any.
//
// Privacy: Live keeps no frame beyond the one being delivered, except a
// 32×24 thumbnail for motion detection, far too coarse to hold a code.
// Frames are written to disk only by Snapshot, which works only when
// Options.DebugSnapshotDir is set.
type Live struct {
	p    parsedSpec
	o    Options
	open func(ctx context.Context) (Source, error)

	failures    int
	backoff     time.Duration
	nextAttempt time.Time
	thumb       []float64 // previous frame's thumbnail
	spareThumb  []float64
	lastSent    time.Time

	activity atomic.Int64 // unix ns of the last motion or code
	wake     chan struct{}

	mu        sync.Mutex
	cur       Source // set and used by Next; Close closes it
	health    Health
	low       bool
	focuser   Focuser
	snap      *image.Gray
	closed    bool
	closeOnce sync.Once
	done      chan struct{}
}

// OpenLive returns a self-healing source for spec (any spec Open takes). It
// does not open the source yet: the first Next does, and a missing device
// is reported through Health and retried rather than returned. OpenLive
// fails only for a spec that can never work (ErrBadSpec, ErrNoOpenCV).
// A finite source (file, folder) still ends with io.EOF.
func OpenLive(spec string, o Options) (*Live, error) {
	o = o.withDefaults()
	p, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	if p.gocv() && !HaveOpenCV {
		return nil, fmt.Errorf("camera: open %q: %w", spec, ErrNoOpenCV)
	}
	l := &Live{p: p, o: o, wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.open = func(ctx context.Context) (Source, error) { return Open(ctx, spec, o) }
	now := o.Clock.Now()
	l.activity.Store(now.UnixNano())
	l.health = Health{State: StateStarting, Since: now, Reason: "not opened yet"}
	if o.DebugSnapshotDir != "" {
		o.Log.Warn("camera: debug snapshots enabled; frames may be written to disk", "dir", o.DebugSnapshotDir)
	}
	return l, nil
}

// Consecutive reports whether the frames are consecutive frames of one
// scene (a camera, a stream, a video file or an image sequence), which a
// decoder may treat as a stream, rather than the unrelated stills of an
// image folder.
func (l *Live) Consecutive() bool { return l.p.kind != kindFolder }

// Health returns the current health.
func (l *Live) Health() Health {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.health
	h.LowPower = l.low
	return h
}

func (l *Live) setHealth(s State, reason string) {
	l.mu.Lock()
	changed := l.health.State != s
	if changed {
		l.health.Since = l.o.Clock.Now()
	}
	l.health.State = s
	l.health.Reason = reason
	h := l.health
	h.LowPower = l.low
	l.mu.Unlock()
	if changed {
		l.o.Log.Info("camera: health", "source", l.p.raw, "state", s.String(), "reason", reason)
		if l.o.OnHealth != nil {
			l.o.OnHealth(h)
		}
	}
}

// NoteCode tells the source that a code was decoded: it counts as activity
// and brings a low-power source back to full rate at once.
func (l *Live) NoteCode() {
	l.activity.Store(l.o.Clock.Now().UnixNano())
	signal(l.wake)
}

// Refocus asks the camera for one focus sweep (see Focuser). It returns an
// error wrapping ErrNoControl when the current source cannot focus.
func (l *Live) Refocus() error {
	l.mu.Lock()
	f := l.focuser
	l.mu.Unlock()
	if f == nil {
		return fmt.Errorf("camera: refocus %q: %w", l.p.raw, ErrNoControl)
	}
	return f.Refocus()
}

// Snapshot writes the latest delivered frame as a PNG into
// Options.DebugSnapshotDir and returns its path. Without that option it
// returns ErrSnapshotDisabled and writes nothing. A snapshot may show a
// visitor's phone: use it only to set up a camera.
func (l *Live) Snapshot() (string, error) {
	if l.o.DebugSnapshotDir == "" {
		return "", ErrSnapshotDisabled
	}
	l.mu.Lock()
	g := l.snap
	l.mu.Unlock()
	if g == nil {
		return "", fmt.Errorf("camera: snapshot: no frame yet: %w", ErrStalled)
	}
	if err := os.MkdirAll(l.o.DebugSnapshotDir, 0o700); err != nil {
		return "", fmt.Errorf("camera: snapshot: %w", err)
	}
	path := filepath.Join(l.o.DebugSnapshotDir, "snapshot-"+l.o.Clock.Now().UTC().Format("20060102T150405.000")+".png")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("camera: snapshot: %w", err)
	}
	err = png.Encode(f, g)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("camera: snapshot: %w", err)
	}
	return path, nil
}

// Close stops the source. A Next in progress returns ErrClosed.
func (l *Live) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		c := l.cur
		l.cur = nil
		l.mu.Unlock()
		close(l.done)
		if c != nil {
			c.Close()
		}
	})
	return nil
}

// Next returns the next frame, reopening the source as often as needed.
// It returns only for a frame, ctx's end, Close (ErrClosed), the end of a
// finite source (io.EOF) or an error that retrying cannot fix.
func (l *Live) Next(ctx context.Context) (Frame, error) {
	for {
		if l.isClosed() {
			return Frame{}, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return Frame{}, err
		}
		if l.current() == nil {
			if err := l.reopen(ctx); err != nil {
				if Retryable(err) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStalled) {
					continue
				}
				return Frame{}, err
			}
		}
		if err := l.waitLowRate(ctx); err != nil {
			return Frame{}, err
		}
		f, err := l.nextWatched(ctx)
		if err == nil {
			l.delivered(f)
			return f, nil
		}
		switch {
		case l.isClosed():
			return Frame{}, ErrClosed
		case ctx.Err() != nil:
			return Frame{}, ctx.Err()
		case errors.Is(err, errWatching):
			l.failures, l.backoff = 0, 0
			l.setHealth(StateWatching, "")
			continue
		case errors.Is(err, ErrBadFrame):
			l.o.Log.Warn("camera: bad frame skipped", "source", l.p.raw, "err", err)
			continue
		case errors.Is(err, io.EOF) && !l.p.live():
			l.drop()
			return Frame{}, io.EOF
		}
		l.o.Log.Warn("camera: source failed; reopening", "source", l.p.raw, "err", err)
		l.drop()
		l.setHealth(StateReopening, err.Error())
		l.schedule()
	}
}

func (l *Live) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *Live) current() Source {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

func (l *Live) drop() {
	l.mu.Lock()
	c := l.cur
	l.cur = nil
	l.focuser = nil
	l.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// schedule sets the next reopen attempt after a failure, doubling backoff.
func (l *Live) schedule() {
	if l.backoff == 0 {
		l.backoff = l.o.BackoffMin
	} else {
		l.backoff *= 2
		if l.backoff > l.o.BackoffMax {
			l.backoff = l.o.BackoffMax
		}
	}
	l.nextAttempt = l.o.Clock.Now().Add(l.backoff)
}

// reopen waits out the backoff and opens the source once.
func (l *Live) reopen(ctx context.Context) error {
	if wait := l.nextAttempt.Sub(l.o.Clock.Now()); wait > 0 {
		select {
		case <-l.o.Clock.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		case <-l.done:
			return ErrClosed
		}
	}
	l.mu.Lock()
	l.health.Reopens++
	l.mu.Unlock()
	src, err := l.open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrBadSpec) || errors.Is(err, ErrNoOpenCV) {
			l.setHealth(StateAbsent, err.Error())
			return err
		}
		l.failures++
		state := StateReopening
		if errors.Is(err, ErrNotFound) || l.failures >= l.o.AbsentAfter {
			state = StateAbsent
		}
		l.o.Log.Warn("camera: open failed; will retry", "source", l.p.raw, "attempt", l.failures, "err", err)
		l.setHealth(state, err.Error())
		l.schedule()
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		src.Close()
		return ErrClosed
	}
	l.cur = src
	l.focuser, _ = src.(Focuser)
	low := l.low
	l.mu.Unlock()
	if pc, ok := src.(pacer); ok && low {
		pc.setInterval(l.lowPeriod())
	}
	return nil
}

// nextWatched calls the current source's Next under the frame watchdog.
func (l *Live) nextWatched(ctx context.Context) (Frame, error) {
	limit := l.o.Watchdog
	if l.lowPower() {
		if lp := 3 * l.lowPeriod(); lp > limit {
			limit = lp
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-l.o.Clock.After(limit):
			stalled.Store(true)
			cancel()
		case <-l.done:
			cancel()
		case <-stop:
		}
	}()
	src := l.current()
	if src == nil {
		return Frame{}, ErrClosed
	}
	f, err := src.Next(wctx)
	if err != nil && stalled.Load() && ctx.Err() == nil {
		return Frame{}, fmt.Errorf("camera: %q silent for %v: %w", l.p.raw, limit, ErrStalled)
	}
	return f, err
}

// delivered updates health, motion and low-power state for a frame.
func (l *Live) delivered(f Frame) {
	l.failures = 0
	l.backoff = 0
	now := l.o.Clock.Now()
	l.lastSent = now
	l.mu.Lock()
	l.health.LastFrame = f.At
	if l.o.DebugSnapshotDir != "" {
		l.snap = f.Gray
	}
	l.mu.Unlock()
	l.setHealth(StateOK, "")

	th := thumbnail(f.Gray, l.spareThumb)
	if len(th) > 0 && len(th) == len(l.thumb) && meanAbsDiff(th, l.thumb) >= l.o.MotionThreshold {
		l.activity.Store(now.UnixNano())
	}
	l.thumb, l.spareThumb = th, l.thumb
	if l.o.IdleAfter < 0 {
		return
	}
	idle := now.Sub(time.Unix(0, l.activity.Load())) >= l.o.IdleAfter
	l.setLow(idle)
}

func (l *Live) lowPower() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.low
}

func (l *Live) lowPeriod() time.Duration { return time.Duration(float64(time.Second) / l.o.LowFPS) }

func (l *Live) setLow(low bool) {
	l.mu.Lock()
	changed := l.low != low
	l.low = low
	l.mu.Unlock()
	if !changed {
		return
	}
	d := time.Duration(0)
	if low {
		d = l.lowPeriod()
		l.o.Log.Info("camera: no motion and no code; low-power mode", "source", l.p.raw, "fps", l.o.LowFPS)
	} else {
		l.o.Log.Info("camera: activity; full frame rate", "source", l.p.raw)
	}
	if pc, ok := l.current().(pacer); ok {
		pc.setInterval(d)
	}
}

// waitLowRate spaces deliveries in low-power mode, for sources that cannot
// pace themselves; NoteCode cuts the wait short.
func (l *Live) waitLowRate(ctx context.Context) error {
	if !l.lowPower() || l.lastSent.IsZero() {
		return nil
	}
	wait := l.lastSent.Add(l.lowPeriod()).Sub(l.o.Clock.Now())
	if wait <= 0 {
		return nil
	}
	select {
	case <-l.o.Clock.After(wait):
	case <-l.wake:
		l.setLow(false)
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return ErrClosed
	}
	return nil
}

// thumbnail averages g into 32×24 blocks, reusing buf.
func thumbnail(g *image.Gray, buf []float64) []float64 {
	const tw, th = 32, 24
	if cap(buf) < tw*th {
		buf = make([]float64, tw*th)
	}
	buf = buf[:tw*th]
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < tw || h < th {
		return buf[:0]
	}
	var out [tw * th]float64
	var n [tw * th]float64
	// Sample every other pixel in each direction: plenty for motion.
	for y := 0; y < h; y += 2 {
		off := g.PixOffset(b.Min.X, b.Min.Y+y)
		row := g.Pix[off : off+w]
		by := y * th / h * tw
		for x := 0; x < w; x += 2 {
			i := by + x*tw/w
			out[i] += float64(row[x])
			n[i]++
		}
	}
	for i := range buf {
		buf[i] = out[i] / n[i]
	}
	return buf
}

// meanAbsDiff is the mean absolute difference of two thumbnails.
func meanAbsDiff(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		if d < 0 {
			d = -d
		}
		s += d
	}
	return s / float64(len(a))
}
