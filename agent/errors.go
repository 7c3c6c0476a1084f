package agent

import "errors"

// ErrConfig marks a configuration error: permanent until the file is fixed.
var ErrConfig = errors.New("config")
