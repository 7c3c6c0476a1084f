package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/trust"
)

// Duration is a time.Duration written in config files as a Go duration
// string such as "2s" or "500ms".
type Duration time.Duration

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"2s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Config is the agent's configuration file (JSON). docs/agent.example.json
// is a documented example. Keys marked required must be present; unknown
// keys are an error.
type Config struct {
	// Facility is the facility id issued at enrollment (required).
	Facility string `json:"facility"`
	// Device is this device's id (required).
	Device string `json:"device"`
	// Entrance is the entrance alias shown to managers, e.g. "정문".
	Entrance string `json:"entrance,omitempty"`
	// Source is the frame source spec: a device index ("0"), a device path,
	// a video file, an image-sequence pattern, a URL, or "folder:DIR"
	// (required).
	Source string `json:"source"`
	// Camera tunes the frame source.
	Camera CameraConfig `json:"camera,omitempty"`
	// DataDir holds the queue file (required).
	DataDir string `json:"data_dir"`
	// CentralURL is central's base URL (required).
	CentralURL string `json:"central_url"`
	// CentralCAFile pins central's CA (PEM); the system roots when empty.
	CentralCAFile string `json:"central_ca_file,omitempty"`
	// InsecureHTTP allows a plain http:// central_url to a host other than
	// loopback: scans and the credential then travel unencrypted. Without
	// it such a URL is a config error.
	InsecureHTTP bool `json:"insecure_http,omitempty"`
	// CredentialFile holds the device credential (0600), if central requires one.
	CredentialFile string `json:"credential_file,omitempty"`
	// KeysFile is the issuer key set, JSON (required).
	KeysFile string `json:"keys_file"`
	// ClockSkew is the allowance on both sides of a token's validity; default "2s".
	ClockSkew Duration `json:"clock_skew,omitempty"`
	// ClockTolerance is how far the device clock may be from central's
	// before the "check the clock" alarm is raised; default "5s". Verdicts
	// use the offset learned from central either way.
	ClockTolerance Duration `json:"clock_tolerance,omitempty"`
	// KeysRefresh is the time between fetches of the issuer key set from
	// central (cached in keys_file); default "10m".
	KeysRefresh Duration `json:"keys_refresh,omitempty"`
	// Opaque lists issuers whose tokens the agent cannot check itself, each
	// with the pattern (RE2) its tokens match; such tokens are asked of
	// central online.
	Opaque []trust.OpaquePattern `json:"opaque,omitempty"`
	// VerifyTimeout bounds an online check at the door; default "1500ms".
	// When central does not answer in time the scan is recorded as pending.
	VerifyTimeout Duration `json:"verify_timeout,omitempty"`
	// DedupWindow suppresses the same code seen again within it; default
	// "5s" for cameras, "2.5s" for scan engines.
	DedupWindow Duration `json:"dedup_window,omitempty"`
	// DecodeBudget bounds the decoding attempts on one frame; default
	// the frame interval (1/camera.fps, or 1/30 s) for a camera, stream
	// or video, whose frames are decoded in stream mode, and "100ms" for
	// an image folder. Slow boards may want more; a visitor waits for it.
	DecodeBudget Duration `json:"decode_budget,omitempty"`
	// QueueMax caps the records waiting on the device; default 1,000,000.
	QueueMax int `json:"queue_max,omitempty"`
	// QueueKeyFile is the queue key (32 bytes), best on another
	// filesystem than DataDir. When empty: the systemd credential
	// "queue-key" ($CREDENTIALS_DIRECTORY/queue-key) when the service has
	// one, else DataDir/queue.db.key.
	QueueKeyFile string `json:"queue_key_file,omitempty"`
	// Audio selects the voice and the sound device.
	Audio AudioConfig `json:"audio,omitempty"`
	// LogLevel is debug, info, warn or error; default info.
	LogLevel string `json:"log_level,omitempty"`
	// LogFormat is "text" (default: key=value lines) or "json" (one JSON
	// object per line).
	LogFormat string `json:"log_format,omitempty"`
	// Status configures the local status page and /metrics.
	Status StatusConfig `json:"status,omitempty"`
}

// StatusOff as status.listen turns the status page off.
const StatusOff = "off"

// StatusConfig configures the local status page, /metrics and the API the
// status, stats and flush commands use.
type StatusConfig struct {
	// Listen is the page's address; default "127.0.0.1:8080", this device
	// only. "0.0.0.0:8080" opens it to the local network; "off" turns it off.
	Listen string `json:"listen,omitempty"`
	// PINFile holds the manager PIN, 6 to 12 digits (mode 0600), that unlocks the
	// settings; without it the settings cannot be changed on the page.
	PINFile string `json:"pin_file,omitempty"`
	// Language is the page's default language, "ko" (default) or "en".
	Language string `json:"language,omitempty"`
}

// CameraConfig tunes a frame source.
type CameraConfig struct {
	// Width and Height request a capture resolution (0: driver default).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// FPS requests a frame rate (0: driver default).
	FPS float64 `json:"fps,omitempty"`
	// FourCC requests a pixel format, "MJPG" for most USB cameras.
	FourCC string `json:"fourcc,omitempty"`
	// Focus is "driver" (default: leave it), "auto" (continuous autofocus)
	// or "fixed" (autofocus off at FocusDistance: stands at 20–30 cm).
	Focus string `json:"focus,omitempty"`
	// FocusDistance is the fixed focus in the driver's units (0: focus once, then hold).
	FocusDistance float64 `json:"focus_distance,omitempty"`
	// Exposure is "driver" (default), "auto" or "glare" (shorter exposure for glowing screens).
	Exposure string `json:"exposure,omitempty"`
	// IdleAfter drops the camera to a low frame rate after this long with no
	// motion and no code; default "30s", "-1s" turns it off.
	IdleAfter Duration `json:"idle_after,omitempty"`
	// DebugSnapshotDir, when set, lets a manager save one frame for
	// debugging. Frames are otherwise never stored. Leave it empty.
	DebugSnapshotDir string `json:"debug_snapshot_dir,omitempty"`
}

// AudioConfig selects the voice and the sound device.
type AudioConfig struct {
	// Language is "ko" (default) or "en".
	Language string `json:"language,omitempty"`
	// Volume is in (0, 1]; default 1.
	Volume float64 `json:"volume,omitempty"`
	// Device is an ALSA PCM name; "none" turns sound off.
	Device string `json:"device,omitempty"`
	// QuietHours is "HH:MM-HH:MM": tones at low volume inside it.
	QuietHours string `json:"quiet_hours,omitempty"`
	// Tones plays short tones instead of the voice.
	Tones bool `json:"tones,omitempty"`
	// Clips replaces prompts with operator WAV files, by prompt name.
	Clips map[string]string `json:"clips,omitempty"`
	// Command plays prompts through an external program (no-cgo builds).
	Command []string `json:"command,omitempty"`
}

// LoadConfig reads and checks a config file. Errors name the offending key
// and wrap ErrConfig.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%w %s: %w", ErrConfig, path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&c.DataDir, &c.KeysFile, &c.CredentialFile, &c.CentralCAFile, &c.Status.PINFile, &c.QueueKeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if strings.HasPrefix(c.Source, "folder:") && !filepath.IsAbs(c.Source[len("folder:"):]) {
		c.Source = "folder:" + filepath.Join(base, c.Source[len("folder:"):])
	}
	return c, nil
}

// ParseConfig decodes a config from r and checks it: unknown keys and
// missing required keys are errors naming the key.
func ParseConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return Config{}, err
	}
	seen, err := checkKeys(data)
	if err != nil {
		return Config{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Config{}, fmt.Errorf("unknown key %s", name)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Config{}, fmt.Errorf("key %q: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return Config{}, err
	}
	if err := c.check(); err != nil {
		return Config{}, withPosition(err, seen)
	}
	c.SetDefaults()
	return c, nil
}

func (c *Config) check() error {
	v := reflect.ValueOf(*c)
	var missing []string
	for _, key := range []string{"facility", "device", "source", "data_dir", "central_url", "keys_file"} {
		for i := 0; i < v.NumField(); i++ {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			if tag == key && v.Field(i).String() == "" {
				missing = append(missing, fmt.Sprintf("%q", key))
			}
		}
	}
	switch {
	case len(missing) == 1:
		return fmt.Errorf("missing required key %s", missing[0])
	case len(missing) > 1:
		// All at once: a new config is not fixed one failed start at a time.
		return fmt.Errorf("missing required keys %s", strings.Join(missing, ", "))
	}
	if err := client.CheckURL(c.CentralURL, c.InsecureHTTP); err != nil {
		return err
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("key \"log_level\": %q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "", LogText, LogJSON:
	default:
		return fmt.Errorf("key \"log_format\": %q is not text or json", c.LogFormat)
	}
	switch c.Status.Language {
	case "", "ko", "en":
	default:
		return fmt.Errorf("key \"status.language\": %q is not ko or en", c.Status.Language)
	}
	if c.ClockSkew < 0 || c.DedupWindow < 0 || c.QueueMax < 0 {
		return errors.New("keys \"clock_skew\", \"dedup_window\" and \"queue_max\" must not be negative")
	}
	if c.ClockTolerance < 0 || c.KeysRefresh < 0 || c.VerifyTimeout < 0 {
		return errors.New("keys \"clock_tolerance\", \"keys_refresh\" and \"verify_timeout\" must not be negative")
	}
	if _, err := parseFocus(c.Camera.Focus); err != nil {
		return err
	}
	if _, err := parseExposure(c.Camera.Exposure); err != nil {
		return err
	}
	if _, err := trust.NewVerifier(trust.VerifierOptions{Opaque: c.Opaque}); err != nil {
		return fmt.Errorf("key \"opaque\": %w", err)
	}
	return nil
}

// SetDefaults fills in the default of every key left empty. ParseConfig
// calls it; a Config built in code calls it before Open.
func (c *Config) SetDefaults() {
	if c.ClockSkew == 0 {
		c.ClockSkew = Duration(2 * time.Second)
	}
	if c.ClockTolerance == 0 {
		c.ClockTolerance = Duration(5 * time.Second)
	}
	if c.KeysRefresh == 0 {
		c.KeysRefresh = Duration(10 * time.Minute)
	}
	if c.VerifyTimeout == 0 {
		c.VerifyTimeout = Duration(1500 * time.Millisecond)
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = Duration(camera.CameraDedupWindow)
		if isEngineSpec(c.Source) {
			c.DedupWindow = Duration(camera.EngineDedupWindow)
		}
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Status.Listen == "" {
		c.Status.Listen = "127.0.0.1:8080"
	}
	if c.Status.Language == "" {
		c.Status.Language = "ko"
	}
}
