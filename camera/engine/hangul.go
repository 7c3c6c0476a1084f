package engine

import "strings"

// Hangul composition for the 2-set layout: jamo typed one by one become
// syllables (U+AC00 + (initial×21 + medial)×28 + final).

var (
	initials = []rune("ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")
	medials  = []rune("ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ")
	finals   = []rune(" ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ") // index 0: none

	vowelPairs = map[[2]rune]rune{
		{'ㅗ', 'ㅏ'}: 'ㅘ', {'ㅗ', 'ㅐ'}: 'ㅙ', {'ㅗ', 'ㅣ'}: 'ㅚ',
		{'ㅜ', 'ㅓ'}: 'ㅝ', {'ㅜ', 'ㅔ'}: 'ㅞ', {'ㅜ', 'ㅣ'}: 'ㅟ', {'ㅡ', 'ㅣ'}: 'ㅢ',
	}
	finalPairs = map[[2]rune]rune{
		{'ㄱ', 'ㅅ'}: 'ㄳ', {'ㄴ', 'ㅈ'}: 'ㄵ', {'ㄴ', 'ㅎ'}: 'ㄶ', {'ㄹ', 'ㄱ'}: 'ㄺ',
		{'ㄹ', 'ㅁ'}: 'ㄻ', {'ㄹ', 'ㅂ'}: 'ㄼ', {'ㄹ', 'ㅅ'}: 'ㄽ', {'ㄹ', 'ㅌ'}: 'ㄾ',
		{'ㄹ', 'ㅍ'}: 'ㄿ', {'ㄹ', 'ㅎ'}: 'ㅀ', {'ㅂ', 'ㅅ'}: 'ㅄ',
	}
	finalSplit = map[rune][2]rune{}
)

func init() {
	for pair, f := range finalPairs {
		finalSplit[f] = pair
	}
}

func indexOf(list []rune, r rune) int {
	for i, x := range list {
		if x == r {
			return i
		}
	}
	return -1
}

func isVowel(r rune) bool { return indexOf(medials, r) >= 0 }

// composer is the 2-set automaton. cho, jung, jong are the syllable being
// built (0 when absent).
type composer struct {
	cho, jung, jong rune
	out             strings.Builder
}

// commit writes the syllable (or lone jamo) being built.
func (c *composer) commit() {
	switch {
	case c.cho != 0 && c.jung != 0:
		i, m, f := indexOf(initials, c.cho), indexOf(medials, c.jung), 0
		if c.jong != 0 {
			f = indexOf(finals, c.jong)
		}
		c.out.WriteRune(rune(0xAC00 + (i*21+m)*28 + f))
	case c.cho != 0:
		c.out.WriteRune(c.cho)
	case c.jung != 0:
		c.out.WriteRune(c.jung)
	}
	c.cho, c.jung, c.jong = 0, 0, 0
}

// jamo feeds one jamo.
func (c *composer) jamo(r rune) {
	if isVowel(r) {
		switch {
		case c.jong != 0: // the final moves to the next syllable
			if pair, ok := finalSplit[c.jong]; ok {
				c.jong = pair[0]
				c.commit()
				c.cho = pair[1]
			} else {
				moved := c.jong
				c.jong = 0
				c.commit()
				c.cho = moved
			}
			c.jung = r
		case c.jung != 0:
			if v, ok := vowelPairs[[2]rune{c.jung, r}]; ok {
				c.jung = v
				return
			}
			c.commit()
			c.jung = r
		default:
			c.jung = r
		}
		return
	}
	switch {
	case c.cho != 0 && c.jung != 0 && c.jong == 0 && indexOf(finals, r) > 0:
		c.jong = r
	case c.jong != 0:
		if f, ok := finalPairs[[2]rune{c.jong, r}]; ok {
			c.jong = f
			return
		}
		c.commit()
		c.cho = r
	default:
		c.commit()
		c.cho = r
	}
}

// other feeds a non-jamo rune, ending any syllable.
func (c *composer) other(r rune) {
	c.commit()
	c.out.WriteRune(r)
}

// take returns everything composed so far and resets.
func (c *composer) take() string {
	c.commit()
	s := c.out.String()
	c.out.Reset()
	return s
}

func (c *composer) empty() bool {
	return c.cho == 0 && c.jung == 0 && c.jong == 0 && c.out.Len() == 0
}
