package camera

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/clock"
)

// frameSlot hands frames from a reader goroutine to the caller of Next. In
// latest mode a new frame replaces an untaken one (and its pixels are
// reused); otherwise the reader waits until the caller took the frame. It
// also carries the reader's pacing for low-power mode.
type frameSlot struct {
	latest bool
	// noReuse forgets a replaced frame instead of keeping its pixels for
	// buffer, for readers that never call buffer (MJPEG: each JPEG is
	// decoded into new memory), so a dropped frame is not held for nothing.
	noReuse bool

	mu    sync.Mutex
	f     *Frame
	spare []byte
	err   error

	ready chan struct{}
	taken chan struct{}
	stop  chan struct{}
	once  sync.Once

	interval atomic.Int64 // minimum time between reads, ns; 0 = full rate
	wake     chan struct{}
}

func newSlot(latest bool) *frameSlot {
	return &frameSlot{
		latest: latest,
		ready:  make(chan struct{}, 1),
		taken:  make(chan struct{}, 1),
		stop:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// buffer returns n bytes for the reader's next frame, reusing the pixels of
// a dropped frame when it can.
func (s *frameSlot) buffer(n int) []byte {
	s.mu.Lock()
	pix := s.spare
	s.spare = nil
	s.mu.Unlock()
	if cap(pix) < n {
		return make([]byte, n)
	}
	return pix[:n]
}

// put hands f to the caller. It returns false once the slot is closed.
func (s *frameSlot) put(f Frame) bool {
	if !s.latest {
		for {
			s.mu.Lock()
			busy := s.f != nil
			s.mu.Unlock()
			if !busy {
				break
			}
			select {
			case <-s.taken:
			case <-s.stop:
				return false
			}
		}
	}
	s.mu.Lock()
	if s.f != nil && s.f.Gray != nil && !s.noReuse {
		s.spare = s.f.Gray.Pix
	}
	s.f = &f
	s.mu.Unlock()
	signal(s.ready)
	select {
	case <-s.stop:
		return false
	default:
		return true
	}
}

// fail records the reader's final error; Next returns it once the waiting
// frame, if any, has been taken.
func (s *frameSlot) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	signal(s.ready)
}

// next returns the waiting frame or waits for one.
func (s *frameSlot) next(ctx context.Context) (Frame, error) {
	for {
		s.mu.Lock()
		if f := s.f; f != nil {
			s.f = nil
			s.mu.Unlock()
			signal(s.taken)
			return *f, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return Frame{}, err
		}
		select {
		case <-s.ready:
		case <-s.stop:
			return Frame{}, ErrClosed
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// close stops the reader at its next put or pace.
func (s *frameSlot) close() {
	s.once.Do(func() {
		s.fail(ErrClosed)
		close(s.stop)
	})
}

func (s *frameSlot) closed() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// setInterval sets the minimum time between reads (0: full rate) and wakes
// a reader that is waiting out a longer one.
func (s *frameSlot) setInterval(d time.Duration) {
	s.interval.Store(int64(d))
	signal(s.wake)
}

// pace waits until at least the current interval has passed since last. It
// returns false once the slot is closed.
func (s *frameSlot) pace(clk clock.Clock, last time.Time) bool {
	for {
		d := time.Duration(s.interval.Load())
		if d <= 0 || last.IsZero() {
			return !s.closed()
		}
		wait := last.Add(d).Sub(clk.Now())
		if wait <= 0 {
			return !s.closed()
		}
		select {
		case <-clk.After(wait):
		case <-s.wake:
		case <-s.stop:
			return false
		}
	}
}
