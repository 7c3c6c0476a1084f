package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// A config error says where: the key's full path ("audio.volume") and the
// line and column in the file. checkKeys walks the JSON before it is
// decoded, against the Config type's keys.

// position is a line and column in a config file, both from 1.
type position struct{ line, col int }

func (p position) String() string { return fmt.Sprintf("line %d, column %d", p.line, p.col) }

// positionAt finds the line and column of byte offset off in data.
func positionAt(data []byte, off int64) position {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return position{line, col}
}

var durationType = reflect.TypeOf(Duration(0))

// jsonKeys maps the JSON keys of struct type t to their field types.
func jsonKeys(t reflect.Type) map[string]reflect.Type {
	keys := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		keys[name] = f.Type
	}
	return keys
}

// ConfigKeys lists every key of the config file by its full path
// ("audio.volume"), sorted; the example config is checked against it.
func ConfigKeys() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for name, ft := range jsonKeys(t) {
			out = append(out, prefix+name)
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
				walk(prefix+name+".", ft)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	sort.Strings(out)
	return out
}

// configWalker reads a config's tokens, checking keys and durations.
type configWalker struct {
	data []byte
	dec  *json.Decoder
	seen map[string]position // key path -> where the key is written
}

// checkKeys reports the first unknown key, misplaced value or bad duration
// in data, naming its full path and position; broken JSON is reported
// with its position too.
func checkKeys(data []byte) (map[string]position, error) {
	w := &configWalker{data: data, dec: json.NewDecoder(bytes.NewReader(data)), seen: map[string]position{}}
	w.dec.UseNumber()
	if err := w.value("", reflect.TypeOf(Config{})); err != nil {
		return nil, err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: text after the closing brace", w.pos(w.dec.InputOffset()))
	}
	return w.seen, nil
}

// keyInError finds the key an error names (`key "audio.volume"`).
var keyInError = regexp.MustCompile(`key "([^"]+)"`)

// withPosition adds where the key that err names is written in the file.
func withPosition(err error, seen map[string]position) error {
	m := keyInError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	if at, ok := seen[m[1]]; ok {
		return fmt.Errorf("%w (%s)", err, at)
	}
	return err
}

func (w *configWalker) pos(off int64) position { return positionAt(w.data, off) }

// syntax turns a decoder error into one with a position.
func (w *configWalker) syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: broken JSON: %s", w.pos(se.Offset), se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: broken JSON: the file ends too early", w.pos(int64(len(w.data))))
	}
	return fmt.Errorf("%s: broken JSON: %w", w.pos(w.dec.InputOffset()), err)
}

// value reads one value of Go type t at key path.
func (w *configWalker) value(path string, t reflect.Type) error {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return w.syntax(err)
	}
	// The value starts after any white space, colon or comma before it.
	for start < int64(len(w.data)) && strings.ContainsRune(" \t\r\n:,", rune(w.data[start])) {
		start++
	}
	at := w.pos(start)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		s, ok := tok.(string)
		if !ok {
			return fmt.Errorf("key %q (%s): want a duration string such as \"2s\", got %v", path, at, tok)
		}
		if _, err := time.ParseDuration(s); err != nil {
			return fmt.Errorf("key %q (%s): %q is not a duration such as \"2s\" or \"500ms\"", path, at, s)
		}
		return nil
	}
	switch d := tok.(type) {
	case json.Delim:
		switch {
		case d == '{' && t.Kind() == reflect.Struct:
			return w.object(path, t)
		case d == '{' && t.Kind() == reflect.Map:
			return w.mapObject(path, t.Elem())
		case d == '[' && t.Kind() == reflect.Slice:
			for i := 0; w.dec.More(); i++ {
				if err := w.value(fmt.Sprintf("%s[%d]", path, i), t.Elem()); err != nil {
					return err
				}
			}
			if _, err := w.dec.Token(); err != nil {
				return w.syntax(err)
			}
			return nil
		}
		return fmt.Errorf("key %q (%s): want %s", pathOr(path), at, kindName(t))
	case nil:
		return nil
	case string:
		if t.Kind() != reflect.String {
			return fmt.Errorf("key %q (%s): want %s, got the string %q", pathOr(path), at, kindName(t), d)
		}
	case bool:
		if t.Kind() != reflect.Bool {
			return fmt.Errorf("key %q (%s): want %s, got %v", pathOr(path), at, kindName(t), d)
		}
	case json.Number:
		switch t.Kind() {
		case reflect.Int, reflect.Int64:
			if _, err := d.Int64(); err != nil {
				return fmt.Errorf("key %q (%s): want a whole number, got %s", path, at, d)
			}
		case reflect.Float64:
		default:
			return fmt.Errorf("key %q (%s): want %s, got the number %s", pathOr(path), at, kindName(t), d)
		}
	}
	return nil
}

// object reads the keys of a JSON object into struct type t.
func (w *configWalker) object(path string, t reflect.Type) error {
	keys := jsonKeys(t)
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return w.syntax(err)
		}
		name, _ := tok.(string)
		quoted, _ := json.Marshal(name)
		at := w.pos(w.dec.InputOffset() - int64(len(quoted)))
		full := join(path, name)
		w.seen[full] = at
		ft, ok := keys[name]
		if !ok {
			return fmt.Errorf("unknown key %q (%s)%s", full, at, suggest(name, keys))
		}
		if err := w.value(full, ft); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil {
		return w.syntax(err)
	}
	return nil
}

// mapObject reads a JSON object of free keys whose values are of type t.
func (w *configWalker) mapObject(path string, t reflect.Type) error {
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return w.syntax(err)
		}
		name, _ := tok.(string)
		if err := w.value(join(path, name), t); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil {
		return w.syntax(err)
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func pathOr(path string) string {
	if path == "" {
		return "(the whole file)"
	}
	return path
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object {…}"
	case reflect.Slice:
		return "a list […]"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	}
	return t.String()
}

// suggest names the known key closest to a misspelled one.
func suggest(name string, keys map[string]reflect.Type) string {
	best, bestD := "", 3
	for k := range keys {
		if d := editDistance(name, k); d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(": did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
