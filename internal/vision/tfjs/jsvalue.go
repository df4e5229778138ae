package tfjs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a parsed literal: a Keras topology nests
// about ten levels; a hostile file must not exhaust the stack.
const maxDepth = 200

// parseJS parses one JavaScript value literal at the start of s, the subset
// minified model files use: objects with bare, quoted or numeric keys,
// arrays, double- or single-quoted strings, numbers such as .03 or -1e-3,
// !0/!1, true/false, null and void 0. JSON is a subset. It returns the
// value (map[string]any, []any, string, float64, bool or nil) and the
// number of bytes consumed.
func parseJS(s string) (any, int, error) {
	p := &jsParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, 0, err
	}
	return v, p.i, nil
}

type jsParser struct {
	s string
	i int
}

func (p *jsParser) errf(format string, a ...any) error {
	return fmt.Errorf("tfjs: offset %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *jsParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsParser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errf("nesting deeper than %d", maxDepth)
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.errf("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"' || c == '\'':
		return p.str()
	case c == '!':
		switch {
		case strings.HasPrefix(p.s[p.i:], "!0"):
			p.i += 2
			return true, nil
		case strings.HasPrefix(p.s[p.i:], "!1"):
			p.i += 2
			return false, nil
		}
		return nil, p.errf("unsupported expression after '!'")
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		id := p.ident()
		switch id {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		case "void":
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '0' {
				p.i++
				return nil, nil
			}
		case "":
			return nil, p.errf("unexpected %q", rune(c))
		}
		return nil, p.errf("unsupported identifier %q", id)
	}
}

func isIdent(c byte, first bool) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

func (p *jsParser) ident() string {
	j := p.i
	for j < len(p.s) && isIdent(p.s[j], j == p.i) {
		j++
	}
	id := p.s[p.i:j]
	p.i = j
	return id
}

func (p *jsParser) object(depth int) (any, error) {
	p.i++ // {
	m := map[string]any{}
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated object")
		}
		if p.s[p.i] == '}' {
			p.i++
			return m, nil
		}
		var key string
		switch c := p.s[p.i]; {
		case c == '"' || c == '\'':
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			key = k.(string)
		case c >= '0' && c <= '9':
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			key = strconv.FormatFloat(n.(float64), 'g', -1, 64)
		default:
			key = p.ident()
			if key == "" {
				return nil, p.errf("expected an object key, got %q", rune(c))
			}
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errf("expected ':' after key %q", key)
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[key] = v
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
		default:
			return nil, p.errf("expected ',' or '}' in object")
		}
	}
}

func (p *jsParser) array(depth int) (any, error) {
	p.i++ // [
	a := []any{}
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated array")
		}
		if p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
		default:
			return nil, p.errf("expected ',' or ']' in array")
		}
	}
}

func (p *jsParser) number() (any, error) {
	j := p.i
	if j < len(p.s) && (p.s[j] == '-' || p.s[j] == '+') {
		j++
	}
	digits := 0
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
		digits++
	}
	if j < len(p.s) && p.s[j] == '.' {
		j++
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
			digits++
		}
	}
	if digits == 0 {
		return nil, p.errf("malformed number")
	}
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		k := j + 1
		if k < len(p.s) && (p.s[k] == '-' || p.s[k] == '+') {
			k++
		}
		e := k
		for k < len(p.s) && p.s[k] >= '0' && p.s[k] <= '9' {
			k++
		}
		if k == e {
			return nil, p.errf("malformed exponent")
		}
		j = k
	}
	f, err := strconv.ParseFloat(p.s[p.i:j], 64)
	if err != nil {
		return nil, p.errf("number %q: %v", p.s[p.i:j], err)
	}
	p.i = j
	return f, nil
}

func (p *jsParser) str() (any, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return nil, p.errf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return nil, p.errf("unterminated string")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case '0':
				b.WriteByte(0)
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) && strings.HasPrefix(p.s[p.i:], `\u`) {
					p.i += 2
					r2, err := p.hex4()
					if err != nil {
						return nil, err
					}
					r = utf16.DecodeRune(r, r2)
				}
				b.WriteRune(r)
			case 'x':
				if p.i+2 > len(p.s) {
					return nil, p.errf("short \\x escape")
				}
				v, err := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8)
				if err != nil {
					return nil, p.errf("bad \\x escape")
				}
				p.i += 2
				b.WriteRune(rune(v))
			case '\n':
			default:
				b.WriteByte(e)
			}
		case c == '\n':
			return nil, p.errf("newline in string")
		default:
			// Long base64 runs dominate shard files: copy them in one go.
			j := p.i
			for j < len(p.s) && p.s[j] != q && p.s[j] != '\\' && p.s[j] != '\n' {
				j++
			}
			b.WriteString(p.s[p.i:j])
			p.i = j
		}
	}
}

func (p *jsParser) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, p.errf("short \\u escape")
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
	if err != nil {
		return 0, p.errf("bad \\u escape")
	}
	p.i += 4
	if !utf8.ValidRune(rune(v)) && !utf16.IsSurrogate(rune(v)) {
		return utf8.RuneError, nil
	}
	return rune(v), nil
}

// exported finds the value a browserify bundle assigns to a module's
// exports ("X.exports={...}" or "X.exports=\"...\"") and parses it. A file
// that starts with '{' is taken as a plain model.json.
func exported(js string) (any, error) {
	t := strings.TrimLeft(js, " \t\r\n\ufeff")
	if strings.HasPrefix(t, "{") {
		v, _, err := parseJS(t)
		return v, err
	}
	for i := 0; ; {
		k := strings.Index(js[i:], ".exports=")
		if k < 0 {
			return nil, errors.New("tfjs: no `.exports=` object or string literal in the file")
		}
		at := i + k + len(".exports=")
		if at < len(js) && (js[at] == '{' || js[at] == '"' || js[at] == '\'') {
			v, _, err := parseJS(js[at:])
			return v, err
		}
		i = at
	}
}
