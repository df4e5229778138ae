// Package awsproto is the wire plumbing shared by the AWS JSON front-ends:
// authentication of a request into an Identity, request ids, epoch-second
// timestamps, and the one function that writes JSON error responses.
package awsproto

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/sigv4"
)

// Identity is an authenticated caller.
type Identity struct {
	Account   string
	Region    string
	RequestID string
}

// NewRequestID returns a request id in the UUID form AWS uses.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MaxBody is the largest JSON request body accepted (DetectCustomLabels
// carries up to 5 MB of base64 image; UpdateDatasetEntries up to 10 MB).
const MaxBody = 16 << 20

// ReadBody reads the whole body up to MaxBody.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("request body larger than %d bytes", MaxBody)
	}
	return b, nil
}

// AuthError is a failed authentication, already mapped to the error code
// and status the AWS JSON services answer with.
type AuthError struct {
	Status  int
	Code    string
	Message string
}

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

// Authenticate verifies r's SigV4 signature over body for service and
// region, and returns the caller's identity.
func Authenticate(r *http.Request, body []byte, v *sigv4.Verifier, service, region string) (Identity, error) {
	hash := sigv4.PayloadHash(body)
	if h := r.Header.Get(sigv4.HeaderContentSHA256); h != "" && h != sigv4.UnsignedPayload && !strings.EqualFold(h, hash) {
		return Identity{}, &AuthError{http.StatusBadRequest, "InvalidSignatureException", "The provided X-Amz-Content-Sha256 header does not match the request body."}
	} else if strings.EqualFold(h, sigv4.UnsignedPayload) {
		hash = h
	}
	res, err := v.Verify(r, hash)
	if err != nil {
		var se *sigv4.Error
		if !errors.As(err, &se) {
			return Identity{}, &AuthError{http.StatusForbidden, "AccessDeniedException", "Authentication failed."}
		}
		switch se.Code {
		case sigv4.ErrMissing:
			return Identity{}, &AuthError{http.StatusForbidden, "MissingAuthenticationTokenException", se.Message}
		case sigv4.ErrUnknownKey:
			return Identity{}, &AuthError{http.StatusBadRequest, "UnrecognizedClientException", se.Message}
		case sigv4.ErrMalformed, sigv4.ErrExpiresRange:
			return Identity{}, &AuthError{http.StatusBadRequest, "IncompleteSignatureException", se.Message}
		default: // bad signature, skew, expiry
			return Identity{}, &AuthError{http.StatusBadRequest, "InvalidSignatureException", se.Message}
		}
	}
	if res.Auth.Service != service {
		return Identity{}, &AuthError{http.StatusBadRequest, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service)}
	}
	if res.Auth.Region != region {
		return Identity{}, &AuthError{http.StatusBadRequest, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This endpoint serves '%s'.", res.Auth.Region, region)}
	}
	return Identity{Account: res.Credential.AccountID, Region: region}, nil
}

// WriteError writes an AWS JSON error response, readable by every SDK: the
// Go SDK reads the X-Amzn-ErrorType header, boto3 and the CLI read __type.
// extra adds shape members such as ResourceId. This is the only place JSON
// errors are encoded.
func WriteError(w http.ResponseWriter, requestID string, status int, code, message string, extra map[string]any) {
	body := map[string]any{"__type": code, "Message": message, "message": message, "Code": code}
	for k, v := range extra {
		body[k] = v
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-ErrorType", code)
	h.Set("x-amzn-RequestId", requestID)
	if code == "ThrottlingException" || code == "ProvisionedThroughputExceededException" {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// WriteJSON writes a success response.
func WriteJSON(w http.ResponseWriter, requestID, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, requestID, http.StatusInternalServerError, "InternalServerError", "An internal error occurred.", nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("x-amzn-RequestId", requestID)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Time is a timestamp encoded as epoch seconds with millisecond fraction,
// the JSON protocols' default.
type Time time.Time

// MarshalJSON writes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads epoch seconds.
func (t *Time) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp must be epoch seconds: %w", err)
	}
	*t = Time(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

// TimePtr converts a time for an optional wire member.
func TimePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := Time(t)
	return &v
}
