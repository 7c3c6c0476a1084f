package main

import (
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

	"github.com/kipass/kipass/atomicfile"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
)

// cmdEnroll trades a one-time enrollment code for a device credential,
// writes it 0600, and fills facility, device, entrance and credential_file
// into the config file when one is given.
func cmdEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kipass-agent enroll --code CODE [--config FILE] [--central URL] [--central-ca FILE] [--credential FILE] [--name NAME]
       kipass-agent enroll --rotate [--config FILE] [--central URL] [--central-ca FILE] [--credential FILE]

Trades the one-time enrollment code a facility manager issued for this
device's credential. The credential is written to --credential (mode 0600;
default: the config's credential_file, or "credential" beside the config).
With --config, the facility, device, entrance and credential_file keys of
the config file are filled in; the other keys are kept. The code travels
to central the way scans do: TLS against the system roots or the config's
central_ca_file, and plain http:// only to loopback unless the config has
"insecure_http": true.

--rotate replaces an enrolled device's credential: central issues a new one
for the old, the new one replaces the old in the credential file, and the
old one keeps working until the agent first uses the new one (restart it:
systemctl restart kipass-agent), when central revokes the old one.

Flags:
`)
		fs.PrintDefaults()
	}
	code := fs.String("code", "", "the one-time enrollment `code` (XXXX-XXXX-XXXX)")
	config := fs.String("config", "", "agent config `file` to fill in (JSON)")
	centralURL := fs.String("central", "", "central's base `URL` (default: the config's central_url)")
	caFile := fs.String("central-ca", "", "central's CA `file` (PEM; default: the config's central_ca_file, else the system roots)")
	credFile := fs.String("credential", "", "credential `file` to write (0600)")
	name := fs.String("name", "", "a `label` for this device at central (its model or place)")
	force := fs.Bool("force", false, "overwrite an existing credential file")
	rotate := fs.Bool("rotate", false, "replace this device's credential with a new one from central")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rotate && *code != "" {
		return errors.New("give either --code (a new device) or --rotate (an enrolled one)")
	}
	if *code == "" && !*rotate {
		return errors.New("--code is required (or --rotate, to replace an enrolled device's credential)")
	}
	var raw map[string]json.RawMessage
	insecureHTTP := false
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
		json.Unmarshal(raw["insecure_http"], &insecureHTTP)
		if *caFile == "" {
			if *caFile = str("central_ca_file"); *caFile != "" && !filepath.IsAbs(*caFile) {
				*caFile = filepath.Join(filepath.Dir(*config), *caFile)
			}
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
	co := client.Options{URL: *centralURL, CAFile: *caFile, InsecureHTTP: insecureHTTP, Timeout: 30 * time.Second}
	if err := client.CheckURL(co.URL, co.InsecureHTTP); err != nil {
		return fmt.Errorf("--central or the config: %w", err)
	}
	if *credFile == "" {
		return errors.New("--credential or --config is required")
	}
	if *rotate {
		return rotateCredential(ctx, co, *credFile, stdout)
	}
	central, err := client.New(co)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*credFile); err == nil && !*force {
		return fmt.Errorf("%s exists: this device is enrolled already (--force replaces its credential; --rotate replaces it without a new code)", *credFile)
	}

	var en api.Enrollment
	if err := central.Do(ctx, http.MethodPost, api.PathEnroll, api.EnrollRequest{Code: *code, Name: *name}, &en); err != nil {
		return err
	}
	if en.Credential == "" || en.Device == "" {
		return errors.New("central's answer is not an enrollment")
	}
	if err := atomicfile.Write(*credFile, []byte(en.Credential+"\n"), 0o600); err != nil {
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
		if err := atomicfile.Write(*config, append(b, '\n'), mode); err != nil {
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

// rotateCredential trades the credential in credFile for a new one and
// writes it in its place (0600). The old one stays valid at central until
// the new one is first used.
func rotateCredential(ctx context.Context, co client.Options, credFile string, stdout io.Writer) error {
	b, err := os.ReadFile(credFile)
	if err != nil {
		return fmt.Errorf("credential: %w (enroll the device first)", err)
	}
	old := strings.TrimSpace(string(b))
	co.Credential = old
	central, err := client.New(co)
	if err != nil {
		return err
	}
	var r api.Rotation
	if err := central.Do(ctx, http.MethodPost, api.PathRotate, nil, &r); err != nil {
		return err
	}
	if r.Credential == "" || r.Credential == old {
		return errors.New("central's answer is not a new credential")
	}
	if err := atomicfile.Write(credFile, []byte(r.Credential+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the new credential (the old one still works): %w", err)
	}
	fmt.Fprintf(stdout, "credential rotated: device %s of facility %s\nnew credential written to %s (0600)\n"+
		"restart the agent (systemctl restart kipass-agent): central revokes the old credential when the new one is first used\n",
		r.Subject, r.Facility, credFile)
	return nil
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
