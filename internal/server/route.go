package server

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/ocellus/ocellus/internal/api/rekognition"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/console"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/sigv4"
)

// A route is one row of the server's routing table: the first row whose
// matcher accepts a request serves it.
type route struct {
	name string // for logs and tests
	// service is the service label of the requests the row serves in the
	// metrics; "" for Ocellus's own endpoints, which are not counted.
	service string
	match   matcher
	serve   func(w http.ResponseWriter, r *http.Request, service string)
}

// A matcher looks at a request and the service its SigV4 credential scope
// names ("" for an unsigned request, see scopeService).
type matcher func(r *http.Request, service string) bool

// routeTable is every way into the server, in the order it is tried:
//
//   - Ocellus's own endpoints under OpsPrefix, signed or not (no bucket
//     name can start with '_'): health, metrics and the web console
//     under console.Prefix, and the cluster's internal endpoint under
//     ClusterPrefix (authenticated with the cluster secret);
//   - each AWS service by the service its SigV4 scope names, or for an
//     unsigned request by the shape its protocol gives it: Rekognition's
//     awsJson1.1 X-Amz-Target, Lookout for Vision's restJson1 path under
//     /2020-11-20/, path-style S3 for anything without a target;
//   - everything else (signed for another service, or an unsigned
//     X-Amz-Target of another service) refused in its protocol's error
//     shape, never handed to S3.
func (s *Server) routeTable() []route {
	return []route{
		{"ops health", "", pathIs(OpsPrefix + "health"), handle(http.HandlerFunc(s.serveHealth))},
		{"ops ready", "", pathIs(OpsPrefix + "health/ready"), handle(http.HandlerFunc(s.serveHealth))},
		{"ops live", "", pathIs(OpsPrefix + "health/live"), handle(http.HandlerFunc(s.serveLive))},
		{"ops metrics", "", pathIs(OpsPrefix + "metrics"), handle(http.HandlerFunc(s.serveMetrics))},
		{"console", "", consolePath, handle(s.console)},
		{"cluster", "", pathPrefix(ClusterPrefix), handle(s.cluster)},
		{"ops unknown", "", pathPrefix(OpsPrefix), handle(http.NotFoundHandler())},
		{"rekognition", ocellus.Rekognition, scopeOr(ocellus.Rekognition, targetPrefix(rekognition.TargetPrefix)), handle(s.rek)},
		{"lookoutvision", ocellus.LookoutVision, scopeOr(ocellus.LookoutVision, pathPrefix("/2020-11-20/")), handle(s.l4v)},
		{"s3", "s3", scopeOr("s3", noTarget), handle(s.s3)},
		{"refuse", "refused", always, refuseService},
	}
}

// routeFor is the row of the table that serves r, and r's scope service.
func (s *Server) routeFor(r *http.Request) (route, string) {
	service := scopeService(r)
	for _, rt := range s.routes {
		if rt.match(r, service) {
			return rt, service
		}
	}
	panic("server: the routing table has no catch-all row") // routeTable ends with one
}

func handle(h http.Handler) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) }
}

func pathIs(p string) matcher {
	return func(r *http.Request, _ string) bool { return r.URL.Path == p }
}

// consolePath matches the console's pages and assets, and its prefix
// without the final slash (which the console redirects).
func consolePath(r *http.Request, _ string) bool {
	return strings.HasPrefix(r.URL.Path, console.Prefix) || r.URL.Path+"/" == console.Prefix
}

func pathPrefix(p string) matcher {
	return func(r *http.Request, _ string) bool { return strings.HasPrefix(r.URL.Path, p) }
}

func targetPrefix(p string) matcher {
	return func(r *http.Request, _ string) bool { return strings.HasPrefix(r.Header.Get("X-Amz-Target"), p) }
}

func noTarget(r *http.Request, _ string) bool { return r.Header.Get("X-Amz-Target") == "" }

func always(*http.Request, string) bool { return true }

// scopeOr matches a request signed for service, or an unsigned one that
// unsigned accepts (a request signed for another service never matches).
func scopeOr(service string, unsigned matcher) matcher {
	return func(r *http.Request, scope string) bool {
		return scope == service || scope == "" && unsigned(r, scope)
	}
}

// scopeService is the service named in a request's SigV4 credential scope,
// "" when the request names none. It reads the scope even when the rest of
// the authentication is malformed, so that a broken request for another
// service is refused as that service, never handed to S3.
func scopeService(r *http.Request) string {
	if a, err := sigv4.Parse(r); err == nil {
		return a.Service
	}
	cred := r.URL.Query().Get("X-Amz-Credential")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "AWS4-") {
		_, rest, _ := strings.Cut(h, "Credential=")
		cred, _, _ = strings.Cut(rest, ",")
	}
	// AKID/yyyymmdd/region/service/aws4_request
	if parts := strings.Split(strings.TrimSpace(cred), "/"); len(parts) == 5 {
		return parts[3]
	}
	return ""
}

// queryError is the error document of the awsQuery protocol (STS, IAM,
// SQS's query API...), which the REST-XML parsers of the SDKs also read.
type queryError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr,omitempty"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// refuseService answers a request signed for a service Ocellus does not
// serve, in the error shape that service's SDK clients parse: JSON for the
// JSON protocols (awsJson1.0/1.1 name an X-Amz-Target; restJson1 sends
// JSON), XML otherwise (awsQuery, restXml).
func refuseService(w http.ResponseWriter, r *http.Request, service string) {
	id := awsproto.NewRequestID()
	msg := fmt.Sprintf("Ocellus serves rekognition, lookoutvision and s3; this request is signed for '%s', which it does not serve.", service)
	if service == "" {
		msg = "Ocellus serves rekognition, lookoutvision and s3; this unsigned request is for none of them."
	}
	ct := r.Header.Get("Content-Type")
	if target := r.Header.Get("X-Amz-Target"); target != "" || strings.Contains(ct, "json") {
		code := "UnrecognizedClientException"
		if target != "" {
			code = "UnknownOperationException"
			msg = fmt.Sprintf("The operation %s is not served here. %s", target, msg)
		}
		awsproto.WriteError(w, id, http.StatusBadRequest, code, msg, nil)
		awsproto.OutcomeOf(r.Context()).SetCode(code)
		return
	}
	awsproto.OutcomeOf(r.Context()).SetCode("InvalidAction")
	body, _ := xml.Marshal(queryError{Type: "Sender", Code: "InvalidAction", Message: msg, RequestID: id})
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", id)
	h.Set("Content-Length", fmt.Sprint(len(xml.Header)+len(body)))
	w.WriteHeader(http.StatusBadRequest)
	if r.Method != http.MethodHead {
		w.Write([]byte(xml.Header))
		w.Write(body)
	}
}
