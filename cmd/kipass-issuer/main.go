// Command kipass-issuer is a development tool that stands in for the QR
// issuers (Naver, PASS, Kakao): it makes issuer keys, issues one-time
// tokens and renders them as QR PNGs.
//
// Usage:
//
//	kipass-issuer keygen --issuer dev --out key.json --keyset keys.json
//	kipass-issuer issue --key key.json [--at RFC3339] [--png out.png] [--screen]
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
	"time"

	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/token"
)

const usage = `kipass-issuer stands in for the QR issuers (Naver, PASS, Kakao) during development.

Usage:

	kipass-issuer keygen --issuer NAME --out KEY.json [--keyset KEYS.json]
	kipass-issuer issue --key KEY.json [--at TIME] [--png FILE] [--screen]

keygen makes an Ed25519 issuer key and adds its public half to a key set
file (created if missing). issue prints a fresh one-time token and, with
--png, writes it as a QR image (--screen: as a phone screen seen by a camera).
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
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
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
	keyFile := fs.String("key", "", "private key `file` (required)")
	at := fs.String("at", "", "issue `time`, RFC 3339 (default: now)")
	pngOut := fs.String("png", "", "write the token as a QR PNG to `file`")
	asScreen := fs.Bool("screen", false, "with --png: render a phone screen as a tablet camera sees it")
	px := fs.Int("px", 400, "QR image size in `pixels`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" {
		return errors.New("issue: --key is required")
	}
	k, err := token.LoadPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	when := time.Now()
	if *at != "" {
		if when, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("issue: --at: %w", err)
		}
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

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), mode)
}
