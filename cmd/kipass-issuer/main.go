// Command kipass-issuer is a development tool that stands in for the QR
// issuers (Naver, PASS, Kakao): it makes issuer keys, revokes them in a key
// set, issues one-time tokens at a chosen time with a chosen key, renders
// them as QR PNGs or phone-screen images, and measures the QR size.
//
// Usage:
//
//	kipass-issuer keygen --issuer dev --out key.json --keyset keys.json
//	kipass-issuer revoke --keyset keys.json --kid 0F277034
//	kipass-issuer issue (--key key.json | --keys DIR [--issuer NAME] [--kid HEX]) [--at TIME] [--png out.png [--screen]]
//	kipass-issuer qr-size
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/token"
)

const usage = `kipass-issuer stands in for the QR issuers (Naver, PASS, Kakao) during development.

Usage:

	kipass-issuer keygen --issuer NAME --out KEY.json [--keyset KEYS.json]
	kipass-issuer revoke --keyset KEYS.json --kid HEX
	kipass-issuer issue (--key KEY.json | --keys DIR [--issuer NAME] [--kid HEX])
	                    [--at TIME] [--png FILE [--screen] [--px N]]
	kipass-issuer qr-size

keygen makes an Ed25519 issuer key and adds its public half to a key set
file (created if missing). revoke marks a key revoked in a key set file.
issue prints a one-time token issued now, or at --at (RFC 3339, or an
offset from now such as -30s or +2m), signed by the key in --key or by the
one key in the folder --keys that matches --issuer and --kid; with --png it
writes the token as a QR image (--screen: as a phone screen seen by a
tablet camera, the decode corpus renderer). qr-size prints the QR version
a token needs at each error-correction level.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "kipass-issuer: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "keygen":
		return keygen(args[1:], stdout, stderr)
	case "issue":
		return issue(args[1:], stdout, stderr)
	case "revoke":
		return revoke(args[1:], stdout, stderr)
	case "qr-size":
		return qrSize(stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "kipass-issuer %s (%s)\n", heartbeat.Version(), runtime.Version())
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "dev", "issuer `name` (naver, pass, kakao, dev)")
	out := fs.String("out", "", "private key `file` to write (0600, required)")
	keyset := fs.String("keyset", "", "key set `file` to add the public key to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("keygen: --out is required")
	}
	k, err := token.GenerateKey(*issuer)
	if err != nil {
		return err
	}
	if err := writeJSON(*out, k, 0o600); err != nil {
		return err
	}
	if *keyset != "" {
		ks := token.NewKeySet()
		if _, err := os.Stat(*keyset); err == nil {
			if ks, err = token.LoadKeySet(*keyset); err != nil {
				return err
			}
		}
		ks.Replace(append(ks.Keys(), k.Public()))
		if err := writeJSON(*keyset, ks, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "key %s for issuer %s written to %s\n", k.ID, k.Issuer, *out)
	return nil
}

func issue(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "private key `file`")
	keyDir := fs.String("keys", "", "`folder` of private key files to choose from with --issuer and --kid")
	issuer := fs.String("issuer", "", "with --keys: the issuer `name` of the key")
	kid := fs.String("kid", "", "with --keys: the key id (8 `hex` digits)")
	at := fs.String("at", "", "issue `time`: RFC 3339, or an offset from now such as -30s (default: now)")
	pngOut := fs.String("png", "", "write the token as a QR PNG to `file`")
	asScreen := fs.Bool("screen", false, "with --png: render a phone screen as a tablet camera sees it")
	px := fs.Int("px", 400, "QR image size in `pixels` (without --screen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := chooseKey(*keyFile, *keyDir, *issuer, *kid)
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	when, err := parseAt(*at, time.Now())
	if err != nil {
		return fmt.Errorf("issue: --at: %w", err)
	}
	tok, err := token.Signer{Key: k}.Issue(when)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	if *pngOut == "" {
		return nil
	}
	var img image.Image
	if *asScreen {
		img, err = screen.Render(tok, screen.Options{})
	} else {
		img, err = screen.QR(tok, *px)
	}
	if err != nil {
		return err
	}
	f, err := os.Create(*pngOut)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseAt reads --at: empty for now, an RFC 3339 time, or a signed Go
// duration from now.
func parseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if s[0] == '-' || s[0] == '+' {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(d), nil
	}
	return time.Parse(time.RFC3339, s)
}

// chooseKey loads the key file, or the single key in dir matching the
// issuer and key id filters.
func chooseKey(file, dir, issuer, kid string) (token.PrivateKey, error) {
	switch {
	case file != "" && dir != "":
		return token.PrivateKey{}, errors.New("give --key or --keys, not both")
	case file != "":
		if issuer != "" || kid != "" {
			return token.PrivateKey{}, errors.New("--issuer and --kid choose among --keys")
		}
		return token.LoadPrivateKey(file)
	case dir == "":
		return token.PrivateKey{}, errors.New("--key or --keys is required")
	}
	var want token.KeyID
	if kid != "" {
		if err := want.UnmarshalText([]byte(kid)); err != nil {
			return token.PrivateKey{}, fmt.Errorf("--kid: %w", err)
		}
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return token.PrivateKey{}, err
	}
	var found []token.PrivateKey
	for _, p := range paths {
		k, err := token.LoadPrivateKey(p)
		if err != nil {
			continue // a key set or another file
		}
		if (issuer == "" || k.Issuer == issuer) && (kid == "" || k.ID == want) {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return token.PrivateKey{}, fmt.Errorf("no key in %s for issuer %q, key id %q", dir, issuer, kid)
	case 1:
		return found[0], nil
	}
	return token.PrivateKey{}, fmt.Errorf("%d keys in %s match issuer %q, key id %q: choose one with --issuer or --kid", len(found), dir, issuer, kid)
}

func revoke(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyset := fs.String("keyset", "", "key set `file` (required)")
	kid := fs.String("kid", "", "key id to revoke, 8 `hex` digits (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyset == "" || *kid == "" {
		return errors.New("revoke: --keyset and --kid are required")
	}
	var id token.KeyID
	if err := id.UnmarshalText([]byte(*kid)); err != nil {
		return fmt.Errorf("revoke: --kid: %w", err)
	}
	ks, err := token.LoadKeySet(*keyset)
	if err != nil {
		return err
	}
	k, ok := ks.Lookup(id)
	if !ok {
		return fmt.Errorf("revoke: no key %s in %s", id, *keyset)
	}
	keys := ks.Keys()
	for i := range keys {
		if keys[i].ID == id {
			keys[i].Revoked = true
		}
	}
	ks.Replace(keys)
	if err := writeJSON(*keyset, ks, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %s of issuer %s revoked in %s\n", id, k.Issuer, *keyset)
	return nil
}

// qrSize issues a throwaway token and prints the QR symbol it needs at each
// error-correction level.
func qrSize(stdout io.Writer) error {
	k, err := token.GenerateKey("dev")
	if err != nil {
		return err
	}
	tok, err := token.Signer{Key: k}.Issue(time.Now())
	if err != nil {
		return err
	}
	for _, level := range []string{"L", "M", "Q", "H"} {
		c, err := screen.Encode(tok, level, 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "level %s: QR version %d, %d×%d modules (token %d characters, alphanumeric mode)\n",
			level, c.Version, c.Size, c.Size, len(tok))
	}
	return nil
}

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), mode)
}
