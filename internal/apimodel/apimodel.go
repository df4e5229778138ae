package apimodel

import (
	"sort"
	"sync"
)

// Service is one AWS API model: its operations and the shapes they use.
// The generated values (Rekognition, LookoutVision) are read-only.
type Service struct {
	ID           string // model serviceId, e.g. "LookoutVision"
	APIVersion   string // e.g. "2020-11-20"
	Protocol     string // "json" (awsJson1.1) or "rest-json" (restJson1)
	SigningName  string // SigV4 service name
	TargetPrefix string // X-Amz-Target prefix for awsJson1.1, e.g. "RekognitionService"
	Operations   map[string]*Operation
	Shapes       map[string]*Shape

	// Compiled lazily on first use; the tables above are never written.
	patternsOnce sync.Once
	patterns     map[string]*pattern // by shape name
	skipped      []string            // shape names whose pattern RE2 cannot run
	routesOnce   sync.Once
	routes       []route
}

// Operation is one API operation.
type Operation struct {
	Name         string
	Method       string // HTTP method (restJson1); "POST" for awsJson1.1
	RequestURI   string // URI template, e.g. "/2020-11-20/projects/{projectName}"
	ResponseCode int    // success status: the model's http.responseCode, or 200
	Input        string // input shape name, "" if none
	Output       string // output shape name, "" if none
	Errors       []string
}

// Shape is a model shape. Only the fields for its Type are set.
type Shape struct {
	Name            string
	Type            string // structure, list, map, string, integer, long, float, double, boolean, blob, timestamp
	Members         []Member
	Required        []string
	Payload         string // member sent as the whole HTTP body (restJson1)
	Min, Max        *int64 // length (string, list, map, blob) or value (numbers)
	Pattern         string // Java regular expression, as in the model
	Enum            []string
	Member          string // list element shape
	Key, Value      string // map key and value shapes
	TimestampFormat string
	Streaming       bool
	RequiresLength  bool
	Sensitive       bool
	Exception       bool
	Fault           bool // server-side error (5xx)
	Error           *ErrorInfo
}

// Member is a structure member.
type Member struct {
	Name             string // PascalCase, as in the JSON body
	Shape            string
	Location         string // "", "uri", "querystring", "header" (restJson1 bindings)
	LocationName     string // URI label, query key or header name
	IdempotencyToken bool
	JSONValue        bool
	TimestampFormat  string
}

// ErrorInfo is the "error" trait of an exception shape.
type ErrorInfo struct {
	Code           string
	HTTPStatusCode int
	SenderFault    bool
}

func i64(v int64) *int64 { return &v }

// Operation returns the named operation.
func (s *Service) Operation(name string) (*Operation, bool) {
	op, ok := s.Operations[name]
	return op, ok
}

// OperationNames returns the operation names in sorted order.
func (s *Service) OperationNames() []string {
	names := make([]string, 0, len(s.Operations))
	for n := range s.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Shape returns the named shape.
func (s *Service) Shape(name string) (*Shape, bool) {
	sh, ok := s.Shapes[name]
	return sh, ok
}

// MemberNamed returns the structure member with the given name.
func (sh *Shape) MemberNamed(name string) (*Member, bool) {
	for i := range sh.Members {
		if sh.Members[i].Name == name {
			return &sh.Members[i], true
		}
	}
	return nil, false
}

// ErrorStatus returns the HTTP status code the model gives the error shape
// named code (e.g. "ConflictException" -> 409). Error shapes without an
// httpStatusCode get 500 if they are faults and 400 otherwise; 0 means code
// is not an error shape of this service.
func (s *Service) ErrorStatus(code string) int {
	sh, ok := s.Shapes[code]
	if !ok || (!sh.Exception && sh.Error == nil) {
		return 0
	}
	if sh.Error != nil && sh.Error.HTTPStatusCode != 0 {
		return sh.Error.HTTPStatusCode
	}
	if sh.Fault {
		return 500
	}
	return 400
}

// SkippedPatterns lists the shapes whose model pattern cannot be expressed
// in Go's RE2 syntax; their pattern constraint is not checked.
func (s *Service) SkippedPatterns() []string {
	s.compilePatterns()
	return append([]string(nil), s.skipped...)
}

func (s *Service) compilePatterns() {
	s.patternsOnce.Do(func() {
		s.patterns = map[string]*pattern{}
		for name, sh := range s.Shapes {
			if sh.Pattern == "" {
				continue
			}
			p, err := compilePattern(sh.Pattern)
			if err != nil {
				s.skipped = append(s.skipped, name)
				continue
			}
			s.patterns[name] = p
		}
		sort.Strings(s.skipped)
	})
}
