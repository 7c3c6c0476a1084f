//go:build linux

package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// evioCGrab is EVIOCGRAB, _IOW('E', 0x90, int).
const evioCGrab = 0x40044590

// grab takes the device exclusively: its keys reach only this process.
// Closing the file releases it.
func grab(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := sc.Control(func(fd uintptr) { ierr = unix.IoctlSetInt(int(fd), evioCGrab, 1) }); err != nil {
		return err
	}
	return ierr
}
