package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"go.bug.st/serial"
)

// serialEngine reads a serial or USB-CDC scanner, reopening the port when
// it disappears (a USB scanner unplugged) or fails.
type serialEngine struct {
	*stream
	path string

	mu   sync.Mutex
	port serial.Port
}

func openSerial(ctx context.Context, path string, o Options) *serialEngine {
	e := &serialEngine{stream: newStream("serial:"+path, o), path: path}
	go e.run(ctx)
	return e
}

func (e *serialEngine) run(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-e.stop:
		}
	}()
	for !e.closed() {
		port, err := serial.Open(e.path, &serial.Mode{BaudRate: e.o.Baud})
		if err != nil {
			_, statErr := os.Stat(e.path)
			missing := errors.Is(statErr, fs.ErrNotExist)
			if !e.failed(fmt.Errorf("engine: open %s: %w", e.path, err), missing) {
				break
			}
			continue
		}
		e.mu.Lock()
		if e.closed() {
			e.mu.Unlock()
			port.Close()
			break
		}
		e.port = port
		e.mu.Unlock()
		e.opened()
		err = e.readPort(port)
		port.Close()
		e.mu.Lock()
		e.port = nil
		e.mu.Unlock()
		if e.closed() {
			break
		}
		if !e.failed(fmt.Errorf("engine: read %s: %w", e.path, err), false) {
			break
		}
	}
	e.end(ErrClosed)
}

// readPort reads codes until the port fails.
func (e *serialEngine) readPort(port serial.Port) error {
	if err := port.SetReadTimeout(e.o.IdleEnd); err != nil {
		return err
	}
	fr := framer{max: e.o.MaxLen, log: e.o.Log, name: e.name}
	buf := make([]byte, 256)
	for {
		n, err := port.Read(buf)
		if err != nil {
			return err
		}
		if n == 0 { // idle gap: a scanner without terminator is done
			if text, ok := fr.flush(); ok && !e.emit(text, e.o.Clock.Now()) {
				return ErrClosed
			}
			continue
		}
		for _, b := range buf[:n] {
			if text, ok := fr.feed(b); ok && !e.emit(text, e.o.Clock.Now()) {
				return ErrClosed
			}
		}
	}
}

// Close stops the engine and closes the port.
func (e *serialEngine) Close() error {
	e.closeStream()
	e.mu.Lock()
	p := e.port
	e.mu.Unlock()
	if p != nil {
		p.Close()
	}
	return nil
}
