package engine

import "fmt"

// Linux input key codes a scanner uses (linux/input-event-codes.h).
const (
	keyEnter      = 28
	keyTab        = 15
	keyLeftShift  = 42
	keyRightShift = 54
	keyCapsLock   = 58
	keyRightAlt   = 100
	keyKPEnter    = 96
	keyHangeul    = 122
)

// usKeys maps key codes to the US layout's unshifted and shifted runes.
var usKeys = map[uint16][2]rune{
	2: {'1', '!'}, 3: {'2', '@'}, 4: {'3', '#'}, 5: {'4', '$'}, 6: {'5', '%'},
	7: {'6', '^'}, 8: {'7', '&'}, 9: {'8', '*'}, 10: {'9', '('}, 11: {'0', ')'},
	12: {'-', '_'}, 13: {'=', '+'},
	16: {'q', 'Q'}, 17: {'w', 'W'}, 18: {'e', 'E'}, 19: {'r', 'R'}, 20: {'t', 'T'},
	21: {'y', 'Y'}, 22: {'u', 'U'}, 23: {'i', 'I'}, 24: {'o', 'O'}, 25: {'p', 'P'},
	26: {'[', '{'}, 27: {']', '}'},
	30: {'a', 'A'}, 31: {'s', 'S'}, 32: {'d', 'D'}, 33: {'f', 'F'}, 34: {'g', 'G'},
	35: {'h', 'H'}, 36: {'j', 'J'}, 37: {'k', 'K'}, 38: {'l', 'L'},
	39: {';', ':'}, 40: {'\'', '"'}, 41: {'`', '~'}, 43: {'\\', '|'},
	44: {'z', 'Z'}, 45: {'x', 'X'}, 46: {'c', 'C'}, 47: {'v', 'V'}, 48: {'b', 'B'},
	49: {'n', 'N'}, 50: {'m', 'M'},
	51: {',', '<'}, 52: {'.', '>'}, 53: {'/', '?'}, 57: {' ', ' '},
	// Keypad (some scanners type digits there).
	55: {'*', '*'}, 71: {'7', '7'}, 72: {'8', '8'}, 73: {'9', '9'}, 74: {'-', '-'},
	75: {'4', '4'}, 76: {'5', '5'}, 77: {'6', '6'}, 78: {'+', '+'},
	79: {'1', '1'}, 80: {'2', '2'}, 81: {'3', '3'}, 82: {'0', '0'}, 83: {'.', '.'},
	98: {'/', '/'},
}

// koJamo maps letter keys to the Korean 2-set (두벌식) jamo, unshifted and
// shifted. Keys not listed type as in the US layout.
var koJamo = map[uint16][2]rune{
	16: {'ㅂ', 'ㅃ'}, 17: {'ㅈ', 'ㅉ'}, 18: {'ㄷ', 'ㄸ'}, 19: {'ㄱ', 'ㄲ'}, 20: {'ㅅ', 'ㅆ'},
	21: {'ㅛ', 'ㅛ'}, 22: {'ㅕ', 'ㅕ'}, 23: {'ㅑ', 'ㅑ'}, 24: {'ㅐ', 'ㅒ'}, 25: {'ㅔ', 'ㅖ'},
	30: {'ㅁ', 'ㅁ'}, 31: {'ㄴ', 'ㄴ'}, 32: {'ㅇ', 'ㅇ'}, 33: {'ㄹ', 'ㄹ'}, 34: {'ㅎ', 'ㅎ'},
	35: {'ㅗ', 'ㅗ'}, 36: {'ㅓ', 'ㅓ'}, 37: {'ㅏ', 'ㅏ'}, 38: {'ㅣ', 'ㅣ'},
	44: {'ㅋ', 'ㅋ'}, 45: {'ㅌ', 'ㅌ'}, 46: {'ㅊ', 'ㅊ'}, 47: {'ㅍ', 'ㅍ'}, 48: {'ㅠ', 'ㅠ'},
	49: {'ㅜ', 'ㅜ'}, 50: {'ㅡ', 'ㅡ'},
}

// keymap is a layout: whether it has a Hangul mode.
type keymap struct {
	name   string
	hangul bool
}

func keymapFor(layout string) (keymap, error) {
	switch layout {
	case "us", "":
		return keymap{name: "us"}, nil
	case "ko", "ko-2set", "kr":
		return keymap{name: "ko", hangul: true}, nil
	}
	return keymap{}, fmt.Errorf("engine: layout %q: want us or ko: %w", layout, ErrBadSpec)
}
