package apimodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// route is an operation's URI template split into path segments.
type route struct {
	op       *Operation
	segments []segment
}

type segment struct {
	literal string
	label   string // set for {label} and {label+}
	greedy  bool   // {label+}: matches the rest of the path, slashes included
}

func (s *Service) compileRoutes() {
	s.routesOnce.Do(func() {
		for _, name := range s.OperationNames() {
			op := s.Operations[name]
			uri, _, _ := strings.Cut(op.RequestURI, "?")
			r := route{op: op}
			for _, part := range strings.Split(strings.TrimPrefix(uri, "/"), "/") {
				if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
					label := part[1 : len(part)-1]
					greedy := strings.HasSuffix(label, "+")
					r.segments = append(r.segments, segment{label: strings.TrimSuffix(label, "+"), greedy: greedy})
				} else {
					r.segments = append(r.segments, segment{literal: part})
				}
			}
			s.routes = append(s.routes, r)
		}
	})
}

// Match finds the restJson1 operation for method and escapedPath (the raw
// path, r.URL.EscapedPath(), without the query). It matches segment by
// segment on the escaped form, so an ARN sent as one segment with %2F for
// "/" stays one label; labels are unescaped after matching. A path that
// matches some template but not for this method does not match.
func (s *Service) Match(method, escapedPath string) (*Operation, map[string]string, bool) {
	s.compileRoutes()
	escapedPath, _, _ = strings.Cut(escapedPath, "?")
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, false
	}
	parts := strings.Split(escapedPath[1:], "/")
	for _, r := range s.routes {
		if r.op.Method != method {
			continue
		}
		if labels, ok := r.match(parts); ok {
			return r.op, labels, true
		}
	}
	return nil, nil, false
}

func (r route) match(parts []string) (map[string]string, bool) {
	labels := map[string]string{}
	for i, seg := range r.segments {
		if i >= len(parts) {
			return nil, false
		}
		switch {
		case seg.greedy:
			raw := strings.Join(parts[i:], "/")
			val, err := url.PathUnescape(raw)
			if err != nil || val == "" {
				return nil, false
			}
			labels[seg.label] = val
			return labels, true
		case seg.label != "":
			val, err := url.PathUnescape(parts[i])
			if err != nil || val == "" {
				return nil, false
			}
			labels[seg.label] = val
		default:
			if parts[i] != seg.literal {
				return nil, false
			}
		}
	}
	if len(parts) != len(r.segments) {
		return nil, false
	}
	return labels, true
}

// DecodeRest builds the input object of a restJson1 operation from the
// request: URI labels (from Match), query strings, headers and the JSON
// body. The result has the same form as a decoded awsJson1.1 body, ready for
// Validate: strings, json.Number for numbers and timestamps (epoch seconds),
// bools, []any for lists, and []byte for a blob payload (DetectAnomalies'
// raw image). Malformed JSON or query values give a Serialization
// *ValidationError. DecodeRest reads r.Body; bound it before calling.
func (s *Service) DecodeRest(op *Operation, r *http.Request, labels map[string]string) (map[string]any, error) {
	in := map[string]any{}
	if op == nil || op.Input == "" {
		return in, nil
	}
	sh := s.Shapes[op.Input]
	query := r.URL.Query()
	var bodyMembers []Member
	for _, m := range sh.Members {
		ms := s.Shapes[m.Shape]
		switch m.Location {
		case "uri":
			raw, ok := labels[m.LocationName]
			if !ok {
				continue
			}
			v, err := s.fromString(ms, raw, m.LocationName, "uri")
			if err != nil {
				return nil, err
			}
			in[m.Name] = v
		case "querystring":
			vals, ok := query[m.LocationName]
			if !ok || ms == nil {
				continue
			}
			if ms.Type == "list" {
				list := make([]any, 0, len(vals))
				for _, raw := range vals {
					v, err := s.fromString(s.Shapes[ms.Member], raw, m.LocationName, "querystring")
					if err != nil {
						return nil, err
					}
					list = append(list, v)
				}
				in[m.Name] = list
				continue
			}
			v, err := s.fromString(ms, vals[0], m.LocationName, "querystring")
			if err != nil {
				return nil, err
			}
			in[m.Name] = v
		case "header":
			raw, ok := r.Header[http.CanonicalHeaderKey(m.LocationName)]
			if !ok || len(raw) == 0 {
				continue
			}
			v, err := s.fromString(ms, raw[0], m.LocationName, "header")
			if err != nil {
				return nil, err
			}
			in[m.Name] = v
		default:
			bodyMembers = append(bodyMembers, m)
		}
	}
	if r.Body == nil {
		return in, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if sh.Payload != "" {
		m, _ := sh.MemberNamed(sh.Payload)
		ps := s.Shapes[m.Shape]
		if ps != nil && ps.Type == "blob" {
			if len(body) > 0 {
				in[m.Name] = body
			}
			return in, nil
		}
		if len(bytes.TrimSpace(body)) > 0 {
			v, err := decodeJSON(body)
			if err != nil {
				return nil, err
			}
			in[m.Name] = v
		}
		return in, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return in, nil
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{Kind: Serialization, Message: mismatch(v, "structure")}
	}
	for _, m := range bodyMembers {
		name := m.Name
		if m.LocationName != "" {
			name = m.LocationName
		}
		if val, ok := obj[name]; ok {
			in[m.Name] = val
		}
	}
	return in, nil
}

// DecodeJSON decodes a request body the way Validate expects it: numbers
// as json.Number, exactly one JSON value. Errors are Serialization
// *ValidationErrors.
func DecodeJSON(body []byte) (map[string]any, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{Kind: Serialization, Message: mismatch(v, "structure")}
	}
	return obj, nil
}

func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &ValidationError{Kind: Serialization, Message: "Could not parse request body into json: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ValidationError{Kind: Serialization, Message: "Could not parse request body into json: unexpected data after the JSON value"}
	}
	return v, nil
}

// fromString converts a URI label, query or header value to the JSON form
// of its shape.
func (s *Service) fromString(sh *Shape, raw, name, where string) (any, error) {
	if sh == nil {
		return raw, nil
	}
	bad := func() error {
		return &ValidationError{Kind: Serialization, Path: name,
			Message: fmt.Sprintf("Invalid value %q for %s parameter '%s' (%s expected)", raw, where, name, sh.Type)}
	}
	switch sh.Type {
	case "integer", "long":
		bits := 64
		if sh.Type == "integer" {
			bits = 32
		}
		if _, err := strconv.ParseInt(raw, 10, bits); err != nil {
			return nil, bad()
		}
		return json.Number(raw), nil
	case "float", "double":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad()
		}
		return json.Number(raw), nil
	case "boolean":
		switch raw {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, bad()
	case "timestamp":
		t, err := parseTime(raw, where)
		if err != nil {
			return nil, bad()
		}
		return epochSeconds(t), nil
	case "blob":
		return []byte(raw), nil
	}
	return raw, nil
}

// parseTime reads a bound timestamp: ISO-8601 in URIs and query strings,
// an HTTP date in headers (restJson1 defaults); epoch seconds are accepted
// everywhere.
func parseTime(raw, where string) (time.Time, error) {
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05", "2006-01-02"}
	if where == "header" {
		layouts = append([]string{http.TimeFormat, time.RFC1123, time.RFC1123Z}, layouts...)
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, raw); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, errors.New("not a timestamp")
}

func epochSeconds(t time.Time) json.Number {
	sec := t.Unix()
	ns := t.Nanosecond()
	if ns == 0 {
		return json.Number(strconv.FormatInt(sec, 10))
	}
	frac := strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
	if sec < 0 {
		// Keep it exact: -1.5 is sec -2 + 0.5.
		f := float64(sec) + float64(ns)/1e9
		return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
	}
	return json.Number(strconv.FormatInt(sec, 10) + "." + frac)
}
