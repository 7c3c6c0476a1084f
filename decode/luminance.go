package decode

import (
	"fmt"

	"github.com/makiuchi-d/gozxing"
)

// lumSource is a gozxing.LuminanceSource over a contiguous grey buffer
// owned by the Decoder. It never copies the matrix, so one frame's buffer is
// reused across attempts and frames.
type lumSource struct {
	pix  []byte
	w, h int
}

var _ gozxing.LuminanceSource = (*lumSource)(nil)

func (s *lumSource) GetRow(y int, row []byte) ([]byte, error) {
	if y < 0 || y >= s.h {
		return nil, fmt.Errorf("decode: row %d of %d", y, s.h)
	}
	if cap(row) < s.w {
		row = make([]byte, s.w)
	}
	row = row[:s.w]
	copy(row, s.pix[y*s.w:(y+1)*s.w])
	return row, nil
}

func (s *lumSource) GetMatrix() []byte       { return s.pix[:s.w*s.h] }
func (s *lumSource) GetWidth() int           { return s.w }
func (s *lumSource) GetHeight() int          { return s.h }
func (s *lumSource) IsCropSupported() bool   { return false }
func (s *lumSource) IsRotateSupported() bool { return false }
func (s *lumSource) Invert() gozxing.LuminanceSource {
	return gozxing.NewInvertedLuminanceSource(s)
}
func (s *lumSource) Crop(left, top, width, height int) (gozxing.LuminanceSource, error) {
	return nil, fmt.Errorf("decode: crop not supported")
}
func (s *lumSource) RotateCounterClockwise() (gozxing.LuminanceSource, error) {
	return nil, fmt.Errorf("decode: rotate not supported")
}
func (s *lumSource) RotateCounterClockwise45() (gozxing.LuminanceSource, error) {
	return nil, fmt.Errorf("decode: rotate not supported")
}
func (s *lumSource) String() string { return fmt.Sprintf("lumSource %dx%d", s.w, s.h) }
