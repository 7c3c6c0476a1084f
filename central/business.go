package central

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kipass/kipass/central/api"
)

// BusinessTypes are the kinds of facility a business registers as: the
// high-risk categories of the Ministry of Health and Welfare's 2020 list
// (where the electronic register was mandatory), common facilities, and
// "other".
var BusinessTypes = []api.BusinessType{
	{Code: "hunting_pocha", Name: "헌팅포차", English: "hunting pub", HighRisk: true},
	{Code: "gamseong_bar", Name: "감성주점", English: "lounge bar with dancing", HighRisk: true},
	{Code: "entertainment_bar", Name: "유흥주점", English: "nightclub, room salon", HighRisk: true},
	{Code: "danran_bar", Name: "단란주점", English: "karaoke bar", HighRisk: true},
	{Code: "colatec", Name: "콜라텍", English: "colatec dance hall", HighRisk: true},
	{Code: "karaoke", Name: "노래연습장", English: "karaoke room (incl. coin karaoke)", HighRisk: true},
	{Code: "indoor_group_exercise", Name: "실내 집단운동", English: "indoor group exercise (GX)", HighRisk: true},
	{Code: "standing_concert", Name: "실내 스탠딩 공연장", English: "indoor standing concert hall", HighRisk: true},
	{Code: "direct_sales", Name: "방문판매 등 직접판매홍보관", English: "direct-sales promotion hall", HighRisk: true},
	{Code: "logistics_center", Name: "대형물류센터", English: "large logistics centre", HighRisk: true},
	{Code: "large_academy", Name: "대형학원 (300인 이상)", English: "large private academy (300+)", HighRisk: true},
	{Code: "buffet", Name: "뷔페", English: "buffet restaurant", HighRisk: true},
	{Code: "restaurant", Name: "일반음식점", English: "restaurant"},
	{Code: "cafe", Name: "카페", English: "café"},
	{Code: "pc_bang", Name: "PC방", English: "internet café"},
	{Code: "gym", Name: "체육시설", English: "gym, sports facility"},
	{Code: "religious", Name: "종교시설", English: "religious facility"},
	{Code: "academy", Name: "학원", English: "private academy"},
	{Code: "other", Name: "기타", English: "other"},
}

func businessType(code string) (api.BusinessType, bool) {
	for _, t := range BusinessTypes {
		if t.Code == code {
			return t, true
		}
	}
	return api.BusinessType{}, false
}

// NormalizeBusinessNumber checks a Korean business registration number
// (사업자등록번호, "123-45-67890" or "1234567890") and returns its ten
// digits. The tenth digit is a check digit: with weights 1,3,7,1,3,7,1,3,5
// over the first nine digits, plus the tens of 5 × the ninth digit, the
// sum plus the check digit is a multiple of ten. The error wraps
// ErrBusinessNumber.
func NormalizeBusinessNumber(s string) (string, error) {
	var d []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == '-' || c == ' ':
		default:
			return "", fmt.Errorf("%w: only digits and dashes", ErrBusinessNumber)
		}
	}
	if len(d) != 10 {
		return "", fmt.Errorf("%w: %d digits, want 10", ErrBusinessNumber, len(d))
	}
	if BusinessNumberCheckDigit(string(d[:9])) != d[9] {
		return "", fmt.Errorf("%w: wrong check digit", ErrBusinessNumber)
	}
	return string(d), nil
}

// BusinessNumberCheckDigit returns the check digit ('0'–'9') of the first
// nine digits of a business registration number; 0 if nine is not nine digits.
func BusinessNumberCheckDigit(nine string) byte {
	if len(nine) != 9 {
		return 0
	}
	w := [9]int{1, 3, 7, 1, 3, 7, 1, 3, 5}
	sum := 0
	for i := 0; i < 9; i++ {
		c := nine[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * w[i]
	}
	sum += int(nine[8]-'0') * 5 / 10
	return byte('0' + (10-sum%10)%10)
}

// checkText returns a reason for a text field that is empty, too long, not
// UTF-8 or carries control characters; "" when it is fine. Text is plain
// data to central: quotes, semicolons and SQL keywords are stored verbatim.
func checkText(s string, max int, optional bool) string {
	if s == "" {
		if optional {
			return ""
		}
		return "missing"
	}
	if !utf8.ValidString(s) {
		return "not_utf8"
	}
	if utf8.RuneCountInString(s) > max {
		return "too_long"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "control_character"
		}
	}
	if strings.TrimSpace(s) == "" {
		return "missing"
	}
	return ""
}

// checkPhone accepts Korean phone numbers: 9 to 12 digits starting with 0,
// with optional dashes or spaces.
func checkPhone(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			n++
		case c == '-' || c == ' ':
		default:
			return "bad_phone"
		}
	}
	if n < 9 || n > 12 || !strings.HasPrefix(strings.TrimSpace(s), "0") {
		return "bad_phone"
	}
	return ""
}

// AddressKey folds an address for comparing branches: case and runs of
// spaces do not tell two branches apart. Stores use it for the unique
// (business number, address) key.
func AddressKey(a string) string {
	return strings.ToLower(strings.Join(strings.Fields(a), " "))
}
