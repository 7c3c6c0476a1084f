package screen

import "errors"

// ErrEmptyText is returned when asked to encode an empty text.
var ErrEmptyText = errors.New("empty text")

// ErrBadOption is returned for an option or size the renderer cannot honour.
var ErrBadOption = errors.New("bad option")
