package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// readerEngine reads codes from an io.Reader, one per line.
type readerEngine struct {
	*stream
	r io.Reader
}

// NewReader returns an engine that reads codes from r, one per line (CR,
// LF or CRLF; TAB and ETX also end a code). It ends with io.EOF when r
// does. Open("stdin") uses it on os.Stdin.
func NewReader(r io.Reader, name string, o Options) Codes {
	o = o.withDefaults()
	e := &readerEngine{stream: newStream(name, o), r: r}
	go e.run()
	return e
}

func (e *readerEngine) run() {
	fr := framer{max: e.o.MaxLen, log: e.o.Log, name: e.name}
	br := bufio.NewReader(e.r)
	for {
		b, err := br.ReadByte()
		if err != nil {
			if text, ok := fr.flush(); ok {
				e.emit(text, e.o.Clock.Now())
			}
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("engine: read %s: %w", e.name, err)
			}
			e.end(err)
			return
		}
		if text, ok := fr.feed(b); ok {
			if !e.emit(text, e.o.Clock.Now()) {
				e.end(ErrClosed)
				return
			}
		}
	}
}

// Close stops delivering codes. A read blocked on r (such as stdin) stays
// blocked until r yields; its result is dropped.
func (e *readerEngine) Close() error {
	e.closeStream()
	return nil
}
