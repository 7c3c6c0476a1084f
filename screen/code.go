// Package screen renders a text as a QR code on a phone screen, as a tablet
// camera on a stand sees it. The demo, the issuer tool and the decoder's
// corpus generator use it to make frames with a known answer; Camera and
// Project photograph other scenes (printed codes) with the same camera.
package screen

import (
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"
)

// QuietZone is the width, in modules, of the light margin drawn around a code.
const QuietZone = 4

// Code is an encoded QR symbol: a square grid of modules without quiet zone.
type Code struct {
	// Size is the number of modules on a side (21 for version 1).
	Size int
	// Version is the QR version, 1 to 40.
	Version int
	dark    []bool
}

// Dark reports whether the module at column x, row y is dark. Positions
// outside the symbol (the quiet zone) are light.
func (c *Code) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
		return false
	}
	return c.dark[y*c.Size+x]
}

// Encode encodes text as a QR symbol at error correction level "L", "M",
// "Q" or "H" ("" means M). The smallest version that fits is chosen unless
// minVersion asks for a larger one (0 means no minimum).
func Encode(text, level string, minVersion int) (*Code, error) {
	if text == "" {
		return nil, fmt.Errorf("screen: encode: %w", ErrEmptyText)
	}
	if level == "" {
		level = "M"
	}
	ecl, err := decoder.ErrorCorrectionLevel_ValueOf(level)
	if err != nil {
		return nil, fmt.Errorf("screen: encode: level %q: %w", level, ErrBadOption)
	}
	hints := map[gozxing.EncodeHintType]interface{}{}
	var code *encoder.QRCode
	for v := minVersion; ; v++ {
		if v > 0 {
			hints[gozxing.EncodeHintType_QR_VERSION] = v
		}
		var werr error
		code, werr = encoder.Encoder_encode(text, ecl, hints)
		if werr == nil {
			break
		}
		if v <= 0 || v >= 40 {
			return nil, fmt.Errorf("screen: encode %d chars: %w", len(text), werr)
		}
	}
	m := code.GetMatrix()
	c := &Code{Size: m.GetWidth(), Version: code.GetVersion().GetVersionNumber()}
	c.dark = make([]bool, c.Size*c.Size)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			c.dark[y*c.Size+x] = m.Get(x, y) == 1
		}
	}
	return c, nil
}

// QR renders text as a plain QR code image (black modules on white, with a
// quiet zone of QuietZone modules), px pixels square, error correction
// level M. Modules are mapped to pixels by nearest neighbour, so px need not
// be a multiple of the module count; px must be at least one pixel per
// module.
func QR(text string, px int) (*image.Gray, error) {
	c, err := Encode(text, "M", 0)
	if err != nil {
		return nil, err
	}
	n := c.Size + 2*QuietZone
	if px < n {
		return nil, fmt.Errorf("screen: QR of %d modules in %d px: %w", n, px, ErrBadOption)
	}
	img := image.NewGray(image.Rect(0, 0, px, px))
	for y := 0; y < px; y++ {
		my := y*n/px - QuietZone
		row := img.Pix[y*img.Stride : y*img.Stride+px]
		for x := range row {
			if c.Dark(x*n/px-QuietZone, my) {
				row[x] = 0
			} else {
				row[x] = 255
			}
		}
	}
	return img, nil
}
