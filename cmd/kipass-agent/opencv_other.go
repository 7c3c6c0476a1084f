//go:build !unix

package main

import "errors"

// execSelf is not available here: the OpenCV build must be started
// directly.
func execSelf(path string) error {
	return errors.New("cannot replace the process by " + path + " on this system; start it directly")
}
