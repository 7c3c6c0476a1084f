package engine

import "log/slog"

// framer splits a byte stream from a scanner into codes. A code ends at
// CR, LF, TAB or ETX (0x03), or when the caller reports an idle gap; STX
// (0x02) starts a fresh code; other control bytes are dropped.
type framer struct {
	buf      []byte
	max      int
	overflow bool
	log      *slog.Logger
	name     string
}

// feed adds one byte and returns a finished code, if any.
func (f *framer) feed(b byte) (string, bool) {
	switch {
	case b == '\r' || b == '\n' || b == '\t' || b == 0x03:
		return f.flush()
	case b == 0x02:
		f.buf, f.overflow = f.buf[:0], false
	case b < 0x20 || b == 0x7f:
	case len(f.buf) >= f.max:
		f.overflow = true
	default:
		f.buf = append(f.buf, b)
	}
	return "", false
}

// flush ends the current code, for a terminator or an idle gap.
func (f *framer) flush() (string, bool) {
	defer func() { f.buf, f.overflow = f.buf[:0], false }()
	if f.overflow {
		f.log.Warn("engine: code too long; dropped", "source", f.name, "max_bytes", f.max)
		return "", false
	}
	if len(f.buf) == 0 {
		return "", false
	}
	return string(f.buf), true
}

func (f *framer) pending() bool { return len(f.buf) > 0 || f.overflow }
