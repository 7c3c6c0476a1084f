package engine

import "testing"

func TestComposerTwoSet(t *testing.T) {
	cases := []struct{ jamo, want string }{
		{"ㅎㅏㄴㄱㅡㄹ", "한글"},
		{"ㄷㅏㄹㄱ", "닭"},
		{"ㄷㅏㄹㄱㅇㅣ", "닭이"},
		{"ㄷㅏㄹㄱㅏ", "달가"}, // a compound final splits before a vowel
		{"ㄱㅏㅂㅅㅇㅓ", "값어"},
		{"ㅇㅏㄴㅈㅇㅏ", "앉아"},
		{"ㄱㅗㅏㅇ", "광"}, // compound vowel
		{"ㅇㅜㅣㄷㅔ", "위데"},
		{"ㄸㅏㄸ", "따ㄸ"}, // ㄸ cannot be a final
		{"ㅏㅏ", "ㅏㅏ"},
		{"ㄱㄴ", "ㄱㄴ"},
		{"ㅂㅏㅂㅇㅡㄹ", "밥을"},
	}
	for _, c := range cases {
		var k composer
		for _, r := range c.jamo {
			k.jamo(r)
		}
		if got := k.take(); got != c.want {
			t.Errorf("%s → %q, want %q", c.jamo, got, c.want)
		}
	}
}
