package apimodel

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind says which AWS error a ValidationError maps to.
type Kind int

const (
	// Validation: the input is well-typed but breaks a model constraint
	// (required, length, range, pattern, enum). AWS answers
	// InvalidParameterException (Rekognition) or ValidationException (L4V).
	Validation Kind = iota + 1
	// Serialization: a value has the wrong JSON type, a blob is not base64,
	// a timestamp is not a number, or the body is not JSON. awsJson1.1
	// services answer SerializationException.
	Serialization
)

func (k Kind) String() string {
	switch k {
	case Validation:
		return "Validation"
	case Serialization:
		return "Serialization"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ValidationError reports why an input does not fit its shape. Its Error
// text is the message AWS sends, e.g.
//
//	1 validation error detected: Value 'a b' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]+
type ValidationError struct {
	Kind Kind
	// Member is the input member (PascalCase, as in the request) that holds
	// the first offending value, e.g. "Image" for image.s3Object.bucket.
	Member string
	// Path is the AWS-style path of the first offending value.
	Path string
	// Violations are the individual "Value ... at ... failed to satisfy
	// constraint: ..." messages (Kind Validation).
	Violations []string
	// Message is the text of a Serialization error.
	Message string
}

func (e *ValidationError) Error() string {
	if e.Kind == Serialization {
		return e.Message
	}
	n := len(e.Violations)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return fmt.Sprintf("%d validation error%s detected: %s", n, plural, strings.Join(e.Violations, "; "))
}

// Validate checks input, a JSON object decoded with encoding/json (numbers
// as json.Number or float64; blobs as base64 strings or []byte), against the
// input shape of operation op. It returns nil, a *ValidationError, or an
// error for an unknown operation. Unknown members are ignored, as AWS does.
func (s *Service) Validate(op string, input map[string]any) error {
	o, ok := s.Operations[op]
	if !ok {
		return fmt.Errorf("apimodel: %s has no operation %q", s.ID, op)
	}
	if o.Input == "" {
		return nil
	}
	s.compilePatterns()
	v := &validator{s: s}
	v.structure(s.Shapes[o.Input], input, "", "")
	if v.err != nil {
		return v.err
	}
	return nil
}

type validator struct {
	s   *Service
	err *ValidationError
}

func (v *validator) fail(top, path, msg string) {
	if v.err == nil {
		v.err = &ValidationError{Kind: Validation, Member: top, Path: path}
	}
	v.err.Violations = append(v.err.Violations, msg)
}

func (v *validator) serialization(top, path, msg string) {
	v.err = &ValidationError{Kind: Serialization, Member: top, Path: path, Message: msg}
}

func (v *validator) broken() bool { return v.err != nil && v.err.Kind == Serialization }

// lowerFirst turns a member name into its path element the way Coral does:
// S3Object -> s3Object, ProjectName -> projectName.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToLower(string(r)) + s[n:]
}

func join(path, elem string) string {
	if path == "" {
		return elem
	}
	return path + "." + elem
}

func (v *validator) structure(sh *Shape, obj map[string]any, path, top string) {
	for _, m := range sh.Members {
		if v.broken() {
			return
		}
		mt := top
		if mt == "" {
			mt = m.Name
		}
		p := join(path, lowerFirst(m.Name))
		val, present := obj[m.Name]
		if !present || val == nil {
			if contains(sh.Required, m.Name) {
				v.fail(mt, p, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", p))
			}
			continue
		}
		v.value(v.s.Shapes[m.Shape], val, p, mt)
	}
}

// value checks one present, non-null value and reports its violations.
func (v *validator) value(sh *Shape, val any, path, top string) {
	if sh == nil {
		return
	}
	switch sh.Type {
	case "structure":
		obj, ok := val.(map[string]any)
		if !ok {
			v.serialization(top, path, mismatch(val, "structure"))
			return
		}
		v.structure(sh, obj, path, top)
	case "list":
		list, ok := val.([]any)
		if !ok {
			v.serialization(top, path, mismatch(val, "list"))
			return
		}
		for _, c := range v.lengthViolations(sh, len(list)) {
			v.fail(top, path, violation(val, path, c))
		}
		elem := v.s.Shapes[sh.Member]
		var inner []string
		for i, e := range list {
			if elem != nil && (elem.Type == "structure" || elem.Type == "list" || elem.Type == "map") {
				if e == nil {
					continue
				}
				v.value(elem, e, fmt.Sprintf("%s.%d.member", path, i+1), top)
			} else {
				cs, ok := v.scalar(elem, e, fmt.Sprintf("%s.%d.member", path, i+1), top)
				if !ok {
					return
				}
				inner = appendNew(inner, cs...)
			}
			if v.broken() {
				return
			}
		}
		if len(inner) > 0 {
			v.fail(top, path, violation(val, path, "Member must satisfy constraint: ["+strings.Join(inner, ", ")+"]"))
		}
	case "map":
		obj, ok := val.(map[string]any)
		if !ok {
			v.serialization(top, path, mismatch(val, "map"))
			return
		}
		for _, c := range v.lengthViolations(sh, len(obj)) {
			v.fail(top, path, violation(val, path, c))
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var keyCs, valCs []string
		valShape := v.s.Shapes[sh.Value]
		for _, k := range keys {
			cs, ok := v.scalar(v.s.Shapes[sh.Key], k, path, top)
			if !ok {
				return
			}
			keyCs = appendNew(keyCs, cs...)
			e := obj[k]
			if valShape != nil && (valShape.Type == "structure" || valShape.Type == "list" || valShape.Type == "map") {
				if e != nil {
					v.value(valShape, e, join(path, k), top)
				}
			} else {
				cs, ok := v.scalar(valShape, e, join(path, k), top)
				if !ok {
					return
				}
				valCs = appendNew(valCs, cs...)
			}
			if v.broken() {
				return
			}
		}
		if len(keyCs) > 0 {
			v.fail(top, path, violation(val, path, "Map keys must satisfy constraint: ["+strings.Join(keyCs, ", ")+"]"))
		}
		if len(valCs) > 0 {
			v.fail(top, path, violation(val, path, "Map value must satisfy constraint: ["+strings.Join(valCs, ", ")+"]"))
		}
	default:
		cs, ok := v.scalar(sh, val, path, top)
		if !ok {
			return
		}
		// Show the value as the Java service would print its typed form.
		shown := val
		switch sh.Type {
		case "blob":
			n, _ := blobLen(val)
			shown = byteBuffer(n)
		case "integer", "long":
			n, _ := integer(val, sh.Type)
			shown = strconv.FormatInt(n, 10)
		case "float", "double":
			f, _ := number(val)
			shown = renderFloat(f)
		}
		for _, c := range cs {
			v.fail(top, path, violation(shown, path, c))
		}
	}
}

// scalar type-checks a scalar value and returns the constraints it breaks.
// ok is false after a Serialization error.
func (v *validator) scalar(sh *Shape, val any, path, top string) (cs []string, ok bool) {
	if sh == nil {
		return nil, true
	}
	if val == nil {
		return []string{"Member must not be null"}, true
	}
	switch sh.Type {
	case "string":
		str, isStr := val.(string)
		if !isStr {
			v.serialization(top, path, mismatch(val, "string"))
			return nil, false
		}
		cs = v.lengthViolations(sh, utf8.RuneCountInString(str))
		if sh.Pattern != "" {
			if p := v.s.patterns[sh.Name]; p != nil && !p.match(str) {
				cs = append(cs, "Member must satisfy regular expression pattern: "+sh.Pattern)
			}
		}
		if len(sh.Enum) > 0 && !contains(sh.Enum, str) {
			cs = append(cs, "Member must satisfy enum value set: ["+strings.Join(sh.Enum, ", ")+"]")
		}
		return cs, true
	case "integer", "long":
		n, isNum := integer(val, sh.Type)
		if !isNum {
			v.serialization(top, path, mismatch(val, sh.Type))
			return nil, false
		}
		return rangeViolations(sh, float64(n)), true
	case "float", "double":
		f, isNum := number(val)
		if !isNum {
			v.serialization(top, path, mismatch(val, sh.Type))
			return nil, false
		}
		return rangeViolations(sh, f), true
	case "boolean":
		if _, isBool := val.(bool); !isBool {
			v.serialization(top, path, mismatch(val, "boolean"))
			return nil, false
		}
		return nil, true
	case "timestamp":
		if _, isNum := number(val); !isNum {
			v.serialization(top, path, mismatch(val, "timestamp"))
			return nil, false
		}
		return nil, true
	case "blob":
		n, good := blobLen(val)
		if !good {
			if _, isStr := val.(string); isStr {
				v.serialization(top, path, fmt.Sprintf("Base64 encoded value at '%s' is invalid", path))
			} else {
				v.serialization(top, path, mismatch(val, "blob"))
			}
			return nil, false
		}
		return v.lengthViolations(sh, n), true
	}
	// A structure, list or map where a scalar was expected in a collection.
	v.value(sh, val, path, top)
	return nil, !v.broken()
}

func (v *validator) lengthViolations(sh *Shape, n int) []string {
	var cs []string
	if sh.Max != nil && int64(n) > *sh.Max {
		cs = append(cs, fmt.Sprintf("Member must have length less than or equal to %d", *sh.Max))
	}
	if sh.Min != nil && int64(n) < *sh.Min {
		cs = append(cs, fmt.Sprintf("Member must have length greater than or equal to %d", *sh.Min))
	}
	return cs
}

func rangeViolations(sh *Shape, f float64) []string {
	var cs []string
	if sh.Max != nil && f > float64(*sh.Max) {
		cs = append(cs, fmt.Sprintf("Member must have value less than or equal to %d", *sh.Max))
	}
	if sh.Min != nil && f < float64(*sh.Min) {
		cs = append(cs, fmt.Sprintf("Member must have value greater than or equal to %d", *sh.Min))
	}
	return cs
}

func violation(val any, path, constraint string) string {
	return fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", render(val), path, constraint)
}

// render prints a value the way the Java services do (List.toString,
// Map.toString, Float.toString).
func render(val any) string {
	switch x := val.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			if f, err := x.Float64(); err == nil {
				return renderFloat(f)
			}
		}
		return string(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return renderFloat(x)
	case bool:
		return strconv.FormatBool(x)
	case []byte:
		return byteBuffer(len(x)).String()
	case byteBuffer:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + render(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(val)
}

// byteBuffer renders a blob of n bytes as Java's ByteBuffer.toString does,
// which is what AWS shows for blob values in validation messages.
type byteBuffer int

func (n byteBuffer) String() string {
	return fmt.Sprintf("java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", int(n), int(n))
}

// renderFloat prints f like Java's Double.toString: 101.0, 0.5, 1.0E8.
func renderFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a >= 1e7 || a < 1e-3) {
		mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'E', -1, 64), "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		e, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(e)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// mismatch is the SerializationException text for a value of the wrong
// JSON type, in the style of the Coral JSON deserializer.
func mismatch(val any, want string) string {
	switch val.(type) {
	case map[string]any:
		return "Start of structure or map found where not expected."
	case []any:
		return "Start of list found where not expected"
	}
	var got string
	switch val.(type) {
	case string:
		got = "STRING_VALUE"
	case json.Number, float64:
		got = "NUMBER_VALUE"
	case bool:
		got = "BOOLEAN_VALUE"
	case []byte:
		got = "BLOB_VALUE"
	default:
		got = fmt.Sprintf("%T", val)
	}
	switch want {
	case "structure", "map":
		return "Expected start of structure or map, found " + got
	case "list":
		return "Expected start of list, found " + got
	case "integer":
		return got + " can not be converted to an Integer"
	case "long":
		return got + " can not be converted to a Long"
	case "float":
		return got + " can not be converted to a Float"
	case "double":
		return got + " can not be converted to a Double"
	case "boolean":
		return got + " can not be converted to a Boolean"
	case "timestamp":
		return got + " can not be converted to a Timestamp"
	case "blob":
		return got + " can not be converted to a Blob"
	}
	return got + " can not be converted to a String"
}

func number(val any) (float64, bool) {
	switch x := val.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil && !math.IsInf(f, 0)
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// integer accepts whole numbers that fit the type (int32 for "integer").
func integer(val any, typ string) (int64, bool) {
	var n int64
	switch x := val.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(x), 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63-1024 {
				return 0, false
			}
			i = int64(f)
		}
		n = i
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<63-1024 {
			return 0, false
		}
		n = int64(x)
	case int:
		n = int64(x)
	case int64:
		n = x
	default:
		return 0, false
	}
	if typ == "integer" && (n > math.MaxInt32 || n < math.MinInt32) {
		return 0, false
	}
	return n, true
}

func blobLen(val any) (int, bool) {
	switch x := val.(type) {
	case []byte:
		return len(x), true
	case string:
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return 0, false
		}
		return len(b), true
	}
	return 0, false
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
