package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"time"

	"github.com/kipass/kipass/decode"
)

// decodeLine is one line of `decode --json`. Keep it stable: it is used to
// measure the decoder.
type decodeLine struct {
	File  string  `json:"file"`
	OK    bool    `json:"ok"`
	Text  string  `json:"text"`
	MS    float64 `json:"ms"`
	Error string  `json:"error,omitempty"`
}

func cmdDecode(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per image per line")
	budget := fs.Duration("budget", 0, "time `budget` per image for the decoding attempts (default 100ms)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no images given")
	}
	d := decode.New(decode.Options{Budget: *budget})
	defer d.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	failed := 0
	for _, path := range fs.Args() {
		d.Reset() // unrelated stills: no region or sharpness history
		line := decodeOne(d, path)
		if !line.OK {
			failed++
		}
		if *asJSON {
			if err := enc.Encode(line); err != nil {
				return err
			}
			continue
		}
		if line.OK {
			fmt.Fprintf(stdout, "%s\t%.1f ms\t%s\n", path, line.MS, line.Text)
		} else {
			fmt.Fprintf(stdout, "%s\t%.1f ms\tno code (%s)\n", path, line.MS, line.Error)
		}
	}
	if failed > 0 && !*asJSON {
		return fmt.Errorf("%d of %d images had no readable code", failed, fs.NArg())
	}
	return nil
}

func decodeOne(d *decode.Decoder, path string) decodeLine {
	line := decodeLine{File: path}
	f, err := os.Open(path)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	defer f.Close()
	start := time.Now()
	img, _, err := image.Decode(f)
	if err != nil {
		line.Error = "not an image: " + err.Error()
		return line
	}
	res, err := d.Decode(decode.Gray(img))
	line.MS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		line.Error = err.Error()
		return line
	}
	line.OK, line.Text = true, res.Text
	return line
}
