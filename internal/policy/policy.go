// Package policy parses and evaluates the IAM policy documents attached to
// Custom Labels projects (PutProjectPolicy). Only what project policies use
// is supported: Effect, Principal (account id, account root ARN, "*"),
// Action and Resource with wildcards, NotAction/NotResource, and Deny
// overriding Allow. Conditions are refused rather than silently ignored.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Document is a parsed policy.
type Document struct {
	Version    string
	Statements []Statement
}

// Statement is one policy statement.
type Statement struct {
	Sid         string
	Allow       bool
	Principals  []string // account ids, or "*"
	Actions     []string
	NotActions  []string
	Resources   []string
	NotResource []string
}

type rawStatement struct {
	Sid         string          `json:"Sid"`
	Effect      string          `json:"Effect"`
	Principal   json.RawMessage `json:"Principal"`
	Action      json.RawMessage `json:"Action"`
	NotAction   json.RawMessage `json:"NotAction"`
	Resource    json.RawMessage `json:"Resource"`
	NotResource json.RawMessage `json:"NotResource"`
	Condition   json.RawMessage `json:"Condition"`
}

var (
	accountRoot = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):root$`)
	accountARN  = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):`)
	accountID   = regexp.MustCompile(`^[0-9]{12}$`)
	sidPattern  = regexp.MustCompile(`^[A-Za-z0-9]*$`)
)

func malformed(format string, args ...any) error {
	return ocellus.Errorf(ocellus.MalformedPolicy, "The policy document is malformed: "+format, args...)
}

// Parse validates doc as an IAM policy and returns it.
func Parse(doc string) (*Document, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, malformed("not valid JSON (%v)", err)
	}
	if dec.More() {
		return nil, malformed("trailing data after the JSON object")
	}
	d := &Document{}
	for k, v := range raw {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &d.Version); err != nil || (d.Version != "2012-10-17" && d.Version != "2008-10-17") {
				return nil, malformed("Version must be \"2012-10-17\" or \"2008-10-17\"")
			}
		case "Id":
		case "Statement":
		default:
			return nil, malformed("unknown top-level element %q", k)
		}
	}
	st, ok := raw["Statement"]
	if !ok {
		return nil, malformed("missing required element \"Statement\"")
	}
	var raws []rawStatement
	if t := bytes.TrimSpace(st); len(t) > 0 && t[0] == '{' {
		var one rawStatement
		if err := json.Unmarshal(st, &one); err != nil {
			return nil, malformed("Statement is not an object (%v)", err)
		}
		raws = []rawStatement{one}
	} else if err := json.Unmarshal(st, &raws); err != nil {
		return nil, malformed("Statement must be an object or a list of objects")
	}
	if len(raws) == 0 {
		return nil, malformed("Statement is empty")
	}
	for i, r := range raws {
		s, err := parseStatement(r)
		if err != nil {
			return nil, malformed("statement %d: %v", i+1, err)
		}
		d.Statements = append(d.Statements, s)
	}
	return d, nil
}

func parseStatement(r rawStatement) (Statement, error) {
	s := Statement{Sid: r.Sid}
	if !sidPattern.MatchString(r.Sid) {
		return s, fmt.Errorf("Sid must be alphanumeric")
	}
	switch r.Effect {
	case "Allow":
		s.Allow = true
	case "Deny":
	default:
		return s, fmt.Errorf("Effect must be \"Allow\" or \"Deny\"")
	}
	if len(r.Condition) > 0 {
		return s, fmt.Errorf("Condition is not supported in project policies")
	}
	if len(r.Principal) == 0 {
		return s, fmt.Errorf("missing Principal")
	}
	p, err := parsePrincipal(r.Principal)
	if err != nil {
		return s, err
	}
	s.Principals = p
	if s.Actions, err = stringOrList(r.Action, "Action"); err != nil {
		return s, err
	}
	if s.NotActions, err = stringOrList(r.NotAction, "NotAction"); err != nil {
		return s, err
	}
	if (len(s.Actions) == 0) == (len(s.NotActions) == 0) {
		return s, fmt.Errorf("exactly one of Action and NotAction is required")
	}
	for _, a := range append(append([]string{}, s.Actions...), s.NotActions...) {
		if a != "*" && !strings.Contains(a, ":") {
			return s, fmt.Errorf("action %q must be \"*\" or \"service:Action\"", a)
		}
	}
	if s.Resources, err = stringOrList(r.Resource, "Resource"); err != nil {
		return s, err
	}
	if s.NotResource, err = stringOrList(r.NotResource, "NotResource"); err != nil {
		return s, err
	}
	if len(s.Resources) > 0 && len(s.NotResource) > 0 {
		return s, fmt.Errorf("Resource and NotResource cannot both be present")
	}
	return s, nil
}

func parsePrincipal(raw json.RawMessage) ([]string, error) {
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return nil, fmt.Errorf("Principal must be \"*\" or an object")
		}
		return []string{"*"}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("Principal must be \"*\" or an object")
	}
	var out []string
	for k, v := range m {
		if k != "AWS" {
			return nil, fmt.Errorf("unsupported principal type %q (only \"AWS\")", k)
		}
		vals, err := stringOrList(v, "Principal.AWS")
		if err != nil {
			return nil, err
		}
		for _, p := range vals {
			switch {
			case p == "*":
				out = append(out, "*")
			case accountID.MatchString(p):
				out = append(out, p)
			case accountRoot.MatchString(p):
				out = append(out, accountRoot.FindStringSubmatch(p)[1])
			case accountARN.MatchString(p):
				// A user or role in an account: we authenticate accounts, so
				// it grants that account.
				out = append(out, accountARN.FindStringSubmatch(p)[1])
			default:
				return nil, fmt.Errorf("invalid principal %q", p)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("Principal names no one")
	}
	return out, nil
}

func stringOrList(raw json.RawMessage, name string) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, fmt.Errorf("%s must not be empty", name)
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, fmt.Errorf("%s must be a string or a non-empty list of strings", name)
	}
	for _, s := range many {
		if s == "" {
			return nil, fmt.Errorf("%s must not contain empty strings", name)
		}
	}
	return many, nil
}

// Allows reports whether the document lets account perform action (e.g.
// "rekognition:CopyProjectVersion") on resource. An explicit Deny wins; no
// matching Allow means no.
func (d *Document) Allows(account, action, resource string) bool {
	allowed := false
	for _, s := range d.Statements {
		if !s.matches(account, action, resource) {
			continue
		}
		if !s.Allow {
			return false
		}
		allowed = true
	}
	return allowed
}

func (s Statement) matches(account, action, resource string) bool {
	okPrincipal := false
	for _, p := range s.Principals {
		if p == "*" || p == account {
			okPrincipal = true
		}
	}
	if !okPrincipal {
		return false
	}
	if len(s.Actions) > 0 && !anyMatch(s.Actions, action, true) {
		return false
	}
	if len(s.NotActions) > 0 && anyMatch(s.NotActions, action, true) {
		return false
	}
	if len(s.Resources) > 0 && !anyMatch(s.Resources, resource, false) {
		return false
	}
	if len(s.NotResource) > 0 && anyMatch(s.NotResource, resource, false) {
		return false
	}
	return true
}

func anyMatch(patterns []string, value string, fold bool) bool {
	for _, p := range patterns {
		if wildcard(p, value, fold) {
			return true
		}
	}
	return false
}

// wildcard matches IAM wildcards: '*' any run (including '/'), '?' one char.
// Actions compare case-insensitively, resources exactly.
func wildcard(pattern, value string, fold bool) bool {
	if fold {
		pattern, value = strings.ToLower(pattern), strings.ToLower(value)
	}
	// path.Match stops '*' at '/', so escape '/' out of the way.
	const sep = "\x00"
	p := strings.ReplaceAll(pattern, "/", sep)
	v := strings.ReplaceAll(value, "/", sep)
	p = strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(p)
	ok, err := path.Match(p, v)
	return err == nil && ok
}
