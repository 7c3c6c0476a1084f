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
	"runtime"
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
	lines := decodeAll(fs.Args(), decode.Options{Budget: *budget}, runtime.GOMAXPROCS(0))
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	failed := 0
	for i, path := range fs.Args() {
		line := <-lines[i]
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
	if failed > 0 {
		// With --json too: the lines say which, the exit status says that
		// some failed, for scripts.
		return fmt.Errorf("%d of %d images had no readable code", failed, fs.NArg())
	}
	return nil
}

// decodeAll decodes the images on workers goroutines, each with its own
// decoder (a decoder is not safe for concurrent use), and returns one
// channel per image, so results come out in the order given.
func decodeAll(paths []string, o decode.Options, workers int) []chan decodeLine {
	out := make([]chan decodeLine, len(paths))
	for i := range out {
		out[i] = make(chan decodeLine, 1)
	}
	next := make(chan int)
	go func() {
		for i := range paths {
			next <- i
		}
		close(next)
	}()
	for w := 0; w < max(1, workers); w++ {
		go func() {
			d := decode.New(o)
			defer d.Close()
			for i := range next {
				d.Reset() // unrelated stills: no region or sharpness history
				out[i] <- decodeOne(d, paths[i])
			}
		}()
	}
	return out
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
