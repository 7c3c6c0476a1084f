package main

import "image/color"

// grayOf maps a 16-bit channel value to a Gray pixel.
func grayOf(v uint32) color.Gray { return color.Gray{Y: uint8(v >> 8)} }
