//go:build linux

package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kipass/kipass/camera"
)

// openPTY opens a pseudo-terminal pair and returns the master and the
// slave's path: the slave stands in for a USB-CDC scanner's tty.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("ptsname: %v", err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

func waitState(t *testing.T, h HealthReporter, want camera.State) camera.Health {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.Health()
		if got.State == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSerialScannerOnPTY(t *testing.T) {
	master, slave := openPTY(t)
	// The scanner is configured by a stable name, as /dev/serial/by-id/...
	link := filepath.Join(t.TempDir(), "scanner")
	if err := os.Symlink(slave, link); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		states []camera.State
	)
	c, err := Open(context.Background(), "serial:"+link+"?baud=115200", Options{
		IdleEnd: 60 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		OnHealth: func(h camera.Health) {
			mu.Lock()
			states = append(states, h.State)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hr := c.(HealthReporter)
	waitState(t, hr, camera.StateOK)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next := func(want string) {
		t.Helper()
		code, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("want %q: %v", want, err)
		}
		if code.Text != want || code.Source != "serial:"+link {
			t.Fatalf("got %q from %s, want %q", code.Text, code.Source, want)
		}
	}
	write := func(m *os.File, s string) {
		t.Helper()
		if _, err := m.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write(master, "CODE-1\r\n")
	next("CODE-1")
	write(master, "\x02FRAMED-2\x03")
	next("FRAMED-2")
	write(master, "NOTERM-3") // no terminator: ends after the idle gap
	next("NOTERM-3")
	write(master, "CODE-1\r\n") // a repeat within 2.5 s is suppressed
	write(master, "CODE-4\n")
	next("CODE-4")

	// The scanner is unplugged: the pty disappears.
	master.Close()
	h := waitState(t, hr, camera.StateAbsent)
	t.Logf("unplugged: %s", h.Reason)

	// It comes back under a new tty; the stable name follows it.
	master2, slave2 := openPTY(t)
	defer master2.Close()
	os.Remove(link)
	if err := os.Symlink(slave2, link); err != nil {
		t.Fatal(err)
	}
	waitState(t, hr, camera.StateOK)
	write(master2, "CODE-5\r")
	next("CODE-5")
	if got := hr.Health().Reopens; got != 2 {
		t.Errorf("opens %d, want 2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) < 3 || states[0] != camera.StateOK || states[len(states)-1] != camera.StateOK {
		t.Errorf("health changes %v", states)
	}
}
