package apimodel

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// pattern is a model pattern translated from Java regex syntax to RE2.
// AWS checks patterns with Java's Matcher.matches, a full match, so the
// translation is anchored at both ends.
type pattern struct {
	re *regexp.Regexp
	// notPrefix is a leading negative lookahead "(?!lit)" that RE2 lacks,
	// e.g. tag keys "^(?!aws:)...": the value must not start with it.
	notPrefix string
}

func (p *pattern) match(s string) bool {
	if p.notPrefix != "" && strings.HasPrefix(s, p.notPrefix) {
		return false
	}
	return p.re.MatchString(s)
}

var (
	lookaheadRE = regexp.MustCompile(`^\^?\(\?!([A-Za-z0-9:_-]+)\)`)
	unicodeRE   = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)
	repeatRE    = regexp.MustCompile(`\{([0-9]+),([0-9]+)\}`)
)

// maxRepeat is RE2's limit on counted repetition.
const maxRepeat = 1000

// compilePattern translates the Java constructs that appear in the AWS
// models and RE2 lacks: \uXXXX escapes, a leading negative lookahead of a
// literal, and counted repetitions above 1000 ({0,2048} becomes {0,}: the
// shape's max length still bounds the value). Anything else that RE2 rejects
// is reported as an error and the caller skips the pattern.
func compilePattern(java string) (*pattern, error) {
	p := &pattern{}
	src := java
	if m := lookaheadRE.FindStringSubmatch(src); m != nil {
		p.notPrefix = m[1]
		src = strings.TrimPrefix(src[len(m[0]):], "^")
	}
	src = unicodeRE.ReplaceAllString(src, `\x{$1}`)
	src = repeatRE.ReplaceAllStringFunc(src, func(r string) string {
		m := repeatRE.FindStringSubmatch(r)
		if n, err := strconv.Atoi(m[2]); err == nil && n > maxRepeat {
			return "{" + m[1] + ",}"
		}
		return r
	})
	re, err := regexp.Compile(`^(?:` + src + `)$`)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", java, err)
	}
	p.re = re
	return p, nil
}
