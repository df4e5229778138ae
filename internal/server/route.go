package server

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/sigv4"
)

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
		return
	}
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
