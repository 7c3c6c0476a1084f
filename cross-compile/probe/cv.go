//go:build cgo && !nocv

package main

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

func init() {
	checks = append(checks, check{name: "gocv", run: checkCV})
}

// checkCV converts the QR into a Mat and lets OpenCV's QR detector find its
// four corners (Debian's OpenCV has no QUIRC, so only detection is checked).
func checkCV(img image.Image) (string, error) {
	gray := image.NewGray(image.Rect(0, 0, 320, 320))
	for i := range gray.Pix {
		gray.Pix[i] = 255
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			gray.SetGray(x+40, y+40, grayOf(r))
		}
	}
	m, err := gocv.ImageGrayToMatGray(gray)
	if err != nil {
		return "", fmt.Errorf("mat: %w", err)
	}
	defer m.Close()
	pts := gocv.NewMat()
	defer pts.Close()
	det := gocv.NewQRCodeDetector()
	defer det.Close()
	if !det.Detect(m, &pts) {
		return "", fmt.Errorf("OpenCV %s found no QR code", gocv.OpenCVVersion())
	}
	return fmt.Sprintf("OpenCV %s (gocv %s) found the QR corners (%d points)", gocv.OpenCVVersion(), gocv.Version(), pts.Total()), nil
}
