package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
	"unsafe"
)

// Event types of linux/input-event-codes.h.
const (
	evSyn = 0
	evKey = 1
)

// wordSize is the size of a C long here: struct input_event is two longs
// (the timestamp) then type u16, code u16, value s32.
const wordSize = int(unsafe.Sizeof(uintptr(0)))

// inputEvent is one decoded struct input_event.
type inputEvent struct {
	Time  time.Time
	Type  uint16
	Code  uint16
	Value int32
}

// eventSize is the size of struct input_event for a C long of word bytes.
func eventSize(word int) int { return 2*word + 8 }

// decodeEvent decodes one little-endian struct input_event.
func decodeEvent(b []byte, word int) inputEvent {
	var sec, usec int64
	if word == 8 {
		sec, usec = int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
	} else {
		sec, usec = int64(int32(binary.LittleEndian.Uint32(b))), int64(binary.LittleEndian.Uint32(b[4:]))
	}
	o := 2 * word
	return inputEvent{
		Time:  time.Unix(sec, usec*1000),
		Type:  binary.LittleEndian.Uint16(b[o:]),
		Code:  binary.LittleEndian.Uint16(b[o+2:]),
		Value: int32(binary.LittleEndian.Uint32(b[o+4:])),
	}
}

// keyParser turns key events from a keyboard-wedge scanner into codes. A
// code ends at Enter, keypad Enter or Tab, or when the next key comes more
// than idle after the previous one (scanners type a code in a burst).
type keyParser struct {
	km     keymap
	idle   time.Duration
	max    int
	shifts int
	caps   bool
	hangul bool
	comp   composer
	n      int
	last   time.Time
	over   bool
}

// parsed is a code found by the parser.
type parsed struct {
	text string
	at   time.Time
}

// feed handles one event and returns the codes it completes.
func (p *keyParser) feed(ev inputEvent) []parsed {
	if ev.Type != evKey {
		return nil
	}
	var out []parsed
	if ev.Value == 1 && p.pending() && !p.last.IsZero() && ev.Time.Sub(p.last) > p.idle {
		if c, ok := p.flush(); ok {
			out = append(out, c)
		}
	}
	switch ev.Code {
	case keyLeftShift, keyRightShift:
		if ev.Value == 1 {
			p.shifts++
		} else if ev.Value == 0 && p.shifts > 0 {
			p.shifts--
		}
		return out
	}
	if ev.Value != 1 { // releases and autorepeat
		return out
	}
	p.last = ev.Time
	switch ev.Code {
	case keyEnter, keyKPEnter, keyTab:
		if c, ok := p.flush(); ok {
			out = append(out, c)
		}
		return out
	case keyCapsLock:
		p.caps = !p.caps
		return out
	case keyHangeul, keyRightAlt:
		if p.km.hangul {
			p.hangul = !p.hangul
		}
		return out
	}
	shift := p.shifts > 0
	if p.hangul {
		if j, ok := koJamo[ev.Code]; ok {
			r := j[0]
			if shift {
				r = j[1]
			}
			p.add(func() { p.comp.jamo(r) })
			return out
		}
	}
	k, ok := usKeys[ev.Code]
	if !ok {
		return out
	}
	r := k[0]
	if r >= 'a' && r <= 'z' {
		if shift != p.caps {
			r = k[1]
		}
	} else if shift {
		r = k[1]
	}
	p.add(func() { p.comp.other(r) })
	return out
}

func (p *keyParser) add(f func()) {
	if p.n >= p.max {
		p.over = true
		return
	}
	p.n++
	f()
}

func (p *keyParser) pending() bool { return p.n > 0 || p.over }

// flush ends the current code (terminator, idle gap or end of input). The
// Hangul mode is kept: the scanner's own 한/영 state does not reset.
func (p *keyParser) flush() (parsed, bool) {
	text := p.comp.take()
	over := p.over
	p.n, p.over = 0, false
	if over || text == "" {
		return parsed{}, false
	}
	return parsed{text: text, at: p.last}, true
}

// evdevEngine reads a keyboard-wedge scanner from /dev/input/event*.
type evdevEngine struct {
	*stream
	path string
	km   keymap

	mu sync.Mutex
	f  *os.File
}

func openEvdev(ctx context.Context, path string, km keymap, o Options) *evdevEngine {
	e := &evdevEngine{stream: newStream("evdev:"+path, o), path: path, km: km}
	go e.run(ctx)
	return e
}

func (e *evdevEngine) run(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-e.stop:
		}
	}()
	for !e.closed() {
		f, err := os.Open(e.path)
		if err != nil {
			if !e.failed(fmt.Errorf("engine: open %s: %w", e.path, err), errors.Is(err, fs.ErrNotExist)) {
				break
			}
			continue
		}
		regular := false
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			regular = true // a recorded event stream
		}
		if !e.o.NoGrab && !regular {
			if err := grab(f); err != nil {
				e.o.Log.Warn("engine: exclusive grab failed; codes may also reach other programs", "source", e.name, "err", err)
			}
		}
		e.mu.Lock()
		if e.closed() {
			e.mu.Unlock()
			f.Close()
			break
		}
		e.f = f
		e.mu.Unlock()
		e.opened()
		err = e.readEvents(f, wordSize)
		f.Close()
		e.mu.Lock()
		e.f = nil
		e.mu.Unlock()
		if e.closed() || errors.Is(err, ErrClosed) {
			break
		}
		if regular && errors.Is(err, io.EOF) {
			e.end(io.EOF)
			return
		}
		if !e.failed(fmt.Errorf("engine: read %s: %w", e.path, err), false) {
			break
		}
	}
	e.end(ErrClosed)
}

// readEvents parses events until the device fails or a recording ends.
// For a live device a read deadline ends a code that has no terminator.
func (e *evdevEngine) readEvents(f *os.File, word int) error {
	p := keyParser{km: e.km, idle: e.o.IdleEnd, max: e.o.MaxLen}
	rec := make([]byte, eventSize(word))
	deadlines := true
	for {
		if deadlines {
			var d time.Time
			if p.pending() {
				d = time.Now().Add(e.o.IdleEnd)
			}
			if err := f.SetReadDeadline(d); err != nil {
				deadlines = false // regular files have none
			}
		}
		_, err := io.ReadFull(f, rec)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if c, ok := p.flush(); ok && !e.emit(c.text, c.at) {
					return ErrClosed
				}
				continue
			}
			if c, ok := p.flush(); ok && !e.emit(c.text, c.at) {
				return ErrClosed
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return err
		}
		for _, c := range p.feed(decodeEvent(rec, word)) {
			if !e.emit(c.text, c.at) {
				return ErrClosed
			}
		}
	}
}

// Close stops the engine and releases the device (and its grab).
func (e *evdevEngine) Close() error {
	e.closeStream()
	e.mu.Lock()
	f := e.f
	e.mu.Unlock()
	if f != nil {
		f.Close()
	}
	return nil
}
