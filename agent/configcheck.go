package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/kipass/kipass/status"
)

// CheckFiles checks what Open would find wrong in a config that parsed,
// without starting anything: the files it names (credential, PIN, CA,
// folder source) and the status address. It returns every problem found,
// each naming its key, joined.
func (c Config) CheckFiles() error {
	var errs []error
	bad := func(key string, err error) { errs = append(errs, fmt.Errorf("key %q: %w", key, err)) }
	if c.CredentialFile != "" {
		if fi, err := os.Stat(c.CredentialFile); err != nil {
			bad("credential_file", err)
		} else if fi.Mode().Perm()&0o077 != 0 {
			bad("credential_file", fmt.Errorf("%s is readable by others (mode %04o): chmod 600 it", c.CredentialFile, fi.Mode().Perm()))
		}
	}
	if c.CentralCAFile != "" {
		if _, err := os.ReadFile(c.CentralCAFile); err != nil {
			bad("central_ca_file", err)
		}
	}
	if c.Status.PINFile != "" {
		if _, err := status.LoadPIN(c.Status.PINFile); err != nil {
			bad("status.pin_file", errors.Unwrap(err))
		}
	}
	if c.Status.Listen != StatusOff {
		if _, _, err := net.SplitHostPort(c.Status.Listen); err != nil {
			bad("status.listen", err)
		}
	}
	if dir, ok := strings.CutPrefix(c.Source, "folder:"); ok {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			bad("source", fmt.Errorf("folder %s does not exist", dir))
		}
	}
	if _, err := os.Stat(c.KeysFile); err != nil {
		if _, derr := os.Stat(filepath.Dir(c.KeysFile)); derr != nil {
			bad("keys_file", fmt.Errorf("neither %s nor its folder exists", c.KeysFile))
		}
	}
	return errors.Join(errs...)
}

// IsScanEngine reports whether the source is a scan engine (stdin, serial,
// evdev) rather than a camera.
func (c Config) IsScanEngine() bool { return isEngineSpec(c.Source) }
