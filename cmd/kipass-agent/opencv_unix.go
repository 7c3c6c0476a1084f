//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// execSelf replaces the process by the program at path with the same
// arguments and environment.
func execSelf(path string) error {
	args := append([]string{path}, os.Args[1:]...)
	if err := syscall.Exec(path, args, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}
