package s3

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/ocellus/ocellus/internal/api/s3/chunked"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// Error is an S3 error response. Handlers return it; writeError is the only
// place that turns errors into responses.
type Error struct {
	Code    string
	Message string
	Status  int
	// Header adds response headers (e.g. x-amz-delete-marker on a 404).
	Header map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorStatus is the one table from S3 error code to HTTP status and
// default message.
var errorStatus = map[string]struct {
	status int
	msg    string
}{
	"AccessDenied":                 {403, "Access Denied"},
	"AuthorizationHeaderMalformed": {400, "The authorization header is malformed."},
	"BadDigest":                    {400, "The Content-MD5 you specified did not match what we received."},
	"BucketAlreadyExists":          {409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."},
	"BucketAlreadyOwnedByYou":      {409, "Your previous request to create the named bucket succeeded and you already own it."},
	"BucketNotEmpty":               {409, "The bucket you tried to delete is not empty"},
	"EntityTooLarge":               {400, "Your proposed upload exceeds the maximum allowed size"},
	"EntityTooSmall":               {400, "Your proposed upload is smaller than the minimum allowed object size."},
	"IncompleteBody":               {400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	"InternalError":                {500, "We encountered an internal error. Please try again."},
	// Not an AWS code (AWS's disks do not fill up): 507 Insufficient
	// Storage, which SDKs do not retry, with the reason spelled out.
	"InsufficientStorage":       {507, ocellus.DiskFullMessage},
	"InvalidAccessKeyId":        {403, "The AWS Access Key Id you provided does not exist in our records."},
	"InvalidArgument":           {400, "Invalid Argument"},
	"InvalidBucketName":         {400, "The specified bucket is not valid."},
	"InvalidDigest":             {400, "The Content-MD5 you specified is not valid."},
	"InvalidPart":               {400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
	"InvalidPartNumber":         {416, "The requested partnumber is not satisfiable"},
	"InvalidPartOrder":          {400, "The list of parts was not in ascending order. Parts must be ordered by part number."},
	"InvalidRange":              {416, "The requested range is not satisfiable"},
	"InvalidRequest":            {400, "Invalid Request"},
	"MalformedXML":              {400, "The XML you provided was not well-formed or did not validate against our published schema."},
	"MethodNotAllowed":          {405, "The specified method is not allowed against this resource."},
	"MissingContentLength":      {411, "You must provide the Content-Length HTTP header."},
	"NoSuchBucket":              {404, "The specified bucket does not exist"},
	"NoSuchKey":                 {404, "The specified key does not exist."},
	"NoSuchUpload":              {404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
	"NoSuchVersion":             {404, "The specified version does not exist."},
	"NotImplemented":            {501, "A header or query you provided implies functionality that is not implemented."},
	"NotModified":               {304, "Not Modified"},
	"PreconditionFailed":        {412, "At least one of the pre-conditions you specified did not hold"},
	"RequestTimeTooSkewed":      {403, "The difference between the request time and the current time is too large."},
	"SignatureDoesNotMatch":     {403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	"XAmzContentSHA256Mismatch": {400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	"KeyTooLongError":           {400, "Your key is too long"},
	"InvalidChunkSizeError":     {400, "Only the last chunk is allowed to have a size less than 8192 bytes"},

	// Tagging, server-side encryption and ACLs (tagging.go, sse.go, acl.go).
	"InvalidTag":                          {400, "The TagKey you have provided is invalid"},
	"BadRequest":                          {400, "Bad Request"},
	"KMS.NotFoundException":               {400, "Invalid keyId"},
	"AccessControlListNotSupported":       {400, "The bucket does not allow ACLs"},
	"InvalidBucketAclWithObjectOwnership": {400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"},
}

// errf returns an *Error for code; an empty message uses the default one.
func errf(code, format string, args ...any) *Error {
	st, ok := errorStatus[code]
	if !ok {
		st.status = http.StatusBadRequest
	}
	msg := st.msg
	if format != "" {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg, Status: st.status}
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// asS3Error maps any error to the S3 error the client sees. Errors from
// body readers (chunk decoding, hash checks) arrive wrapped by io.Copy
// callers, hence errors.As/Is rather than type switches.
func asS3Error(err error) (*Error, bool) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e, true
	case errors.Is(err, chunked.ErrSignature):
		return errf("SignatureDoesNotMatch", "The chunk signature we calculated does not match the signature you provided."), true
	case errors.Is(err, chunked.ErrFormat):
		return errf("IncompleteBody", "%s", err.Error()), true
	case ocellus.DiskFull(err):
		return errf("InsufficientStorage", ""), true
	}
	return nil, false
}

// writeError is the single function that writes error responses. Internal
// causes are logged with the request id and never sent to the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	e, ok := asS3Error(err)
	if !ok {
		s.log.Error("s3 internal error", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "err", err)
		e = errf("InternalError", "")
	} else if e.Status >= 500 {
		s.log.Error("s3 error", "request_id", reqID, "code", e.Code, "err", err)
	}
	awsproto.OutcomeOf(r.Context()).SetCode(e.Code)
	for k, v := range e.Header {
		w.Header().Set(k, v)
	}
	if e.Status == http.StatusNotModified || r.Method == http.MethodHead {
		// No body: HEAD responses carry none, and 304 must not.
		w.WriteHeader(e.Status)
		return
	}
	body, _ := xml.Marshal(errorBody{Code: e.Code, Message: e.Message, Resource: r.URL.Path, RequestID: reqID})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(xml.Header)+len(body)))
	w.WriteHeader(e.Status)
	w.Write([]byte(xml.Header))
	w.Write(body)
}
