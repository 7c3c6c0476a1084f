package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
)

// cmdEnroll trades a one-time enrollment code for a device credential,
// writes it 0600, and fills facility, device, entrance and credential_file
// into the config file when one is given.
func cmdEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kipass-agent enroll --code CODE [--config FILE] [--central URL] [--credential FILE] [--name NAME]

Trades the one-time enrollment code a facility manager issued for this
device's credential. The credential is written to --credential (mode 0600;
default: the config's credential_file, or "credential" beside the config).
With --config, the facility, device, entrance and credential_file keys of
the config file are filled in; the other keys are kept.

Flags:
`)
		fs.PrintDefaults()
	}
	code := fs.String("code", "", "the one-time enrollment `code` (XXXX-XXXX-XXXX)")
	config := fs.String("config", "", "agent config `file` to fill in (JSON)")
	centralURL := fs.String("central", "", "central's base `URL` (default: the config's central_url)")
	credFile := fs.String("credential", "", "credential `file` to write (0600)")
	name := fs.String("name", "", "a `label` for this device at central (its model or place)")
	force := fs.Bool("force", false, "overwrite an existing credential file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *code == "" {
		return errors.New("--code is required")
	}
	var raw map[string]json.RawMessage
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("config %s: %w", *config, err)
		}
		str := func(k string) string {
			var s string
			json.Unmarshal(raw[k], &s)
			return s
		}
		if *centralURL == "" {
			*centralURL = str("central_url")
		}
		if *credFile == "" {
			*credFile = str("credential_file")
			if *credFile == "" {
				*credFile = "credential"
			}
			if !filepath.IsAbs(*credFile) {
				*credFile = filepath.Join(filepath.Dir(*config), *credFile)
			}
		}
	}
	if !strings.HasPrefix(*centralURL, "http://") && !strings.HasPrefix(*centralURL, "https://") {
		return errors.New("--central (or the config's central_url) must be an http(s) URL")
	}
	if *credFile == "" {
		return errors.New("--credential or --config is required")
	}
	if _, err := os.Stat(*credFile); err == nil && !*force {
		return fmt.Errorf("%s exists: this device is enrolled already (--force replaces its credential)", *credFile)
	}

	en, err := enroll(ctx, strings.TrimRight(*centralURL, "/"), api.EnrollRequest{Code: *code, Name: *name})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*credFile, []byte(en.Credential+"\n"), 0o600); err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	if *config != "" {
		for k, v := range map[string]string{"facility": en.Facility, "device": en.Device, "entrance": en.Entrance} {
			raw[k], _ = json.Marshal(v)
		}
		if _, ok := raw["credential_file"]; !ok {
			// The config's paths are read relative to the config's folder.
			raw["credential_file"], _ = json.Marshal(pathFromConfig(*config, *credFile))
		}
		b, err := json.MarshalIndent(raw, "", "  ")
		if err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if fi, err := os.Stat(*config); err == nil {
			mode = fi.Mode().Perm()
		}
		if err := writeFileAtomic(*config, append(b, '\n'), mode); err != nil {
			return fmt.Errorf("update config: %w", err)
		}
	}
	fmt.Fprintf(stdout, "enrolled: facility %s, device %s, entrance %q\ncredential written to %s (0600)\n",
		en.Facility, en.Device, en.Entrance, *credFile)
	if *config == "" {
		fmt.Fprintf(stdout, "put these keys in the agent config:\n  \"facility\": %q, \"device\": %q, \"entrance\": %q, \"credential_file\": %q\n",
			en.Facility, en.Device, en.Entrance, *credFile)
	}
	return nil
}

func enroll(ctx context.Context, base string, req api.EnrollRequest) (api.Enrollment, error) {
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, base+api.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return api.Enrollment{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return api.Enrollment{}, fmt.Errorf("central unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return api.Enrollment{}, err
	}
	if resp.StatusCode != http.StatusCreated {
		var ae api.Error
		if json.Unmarshal(data, &ae) == nil && ae.Reason != "" {
			return api.Enrollment{}, fmt.Errorf("central refused the code: %s (%s)", ae.Error, ae.Reason)
		}
		return api.Enrollment{}, fmt.Errorf("central answered %s", resp.Status)
	}
	var en api.Enrollment
	if err := json.Unmarshal(data, &en); err != nil || en.Credential == "" || en.Device == "" {
		return api.Enrollment{}, fmt.Errorf("central's answer is not an enrollment: %v", err)
	}
	return en, nil
}

// pathFromConfig writes path (relative to the working directory, or
// absolute) the way a key of the config file at config must hold it:
// relative to the config's folder when it lies inside it, else absolute.
func pathFromConfig(config, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	dir, err := filepath.Abs(filepath.Dir(config))
	if err != nil {
		return abs
	}
	if rel, err := filepath.Rel(dir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return abs
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed, with the given mode.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".kipass-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
