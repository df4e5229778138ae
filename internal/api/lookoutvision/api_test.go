package lookoutvision

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// Every status in the table is the one the API model gives the exception,
// and every exception an operation can answer with is reachable.
func TestErrorTableMatchesModel(t *testing.T) {
	seen := map[string]bool{internalError.code: true}
	for k, we := range errorCodes {
		if got := apimodel.LookoutVision.ErrorStatus(we.code); got != we.status {
			t.Errorf("%v -> %s %d; the model says %d", k, we.code, we.status, got)
		}
		seen[we.code] = true
	}
	if got := apimodel.LookoutVision.ErrorStatus(internalError.code); got != internalError.status {
		t.Errorf("internal -> %d; the model says %d", internalError.status, got)
	}
	for _, name := range apimodel.LookoutVision.OperationNames() {
		o, _ := apimodel.LookoutVision.Operation(name)
		for _, e := range o.Errors {
			if !seen[e] {
				t.Errorf("%s can answer %s, which no domain kind maps to", name, e)
			}
		}
	}
}

// writeError: status, X-Amzn-ErrorType, request id, Message, and the
// resource members for the shapes that have them; internal causes are not
// sent.
func TestWriteError(t *testing.T) {
	a := New(nil, nil, Config{})
	o, _ := apimodel.LookoutVision.Operation("DescribeModel")
	in := map[string]any{"ProjectName": "p", "ModelVersion": "3"}
	cases := []struct {
		err    error
		status int
		code   string
		rtype  string
		rid    string
	}{
		{ocellus.Errorf(ocellus.NotFound, "gone"), 404, "ResourceNotFoundException", "MODEL", "3"},
		{&ocellus.Error{Kind: ocellus.InUse, Message: "busy", ResourceType: "PROJECT", ResourceID: "p"}, 409, "ConflictException", "PROJECT", "p"},
		{ocellus.Errorf(ocellus.QuotaExceeded, "too many"), 402, "ServiceQuotaExceededException", "MODEL", "3"},
		{ocellus.Errorf(ocellus.Throttled, "slow down"), 429, "ThrottlingException", "", ""},
		{ocellus.Errorf(ocellus.AccessDenied, "no"), 403, "AccessDeniedException", "", ""},
		{ocellus.Errorf(ocellus.Invalid, "bad"), 400, "ValidationException", "", ""},
		{errors.New("disk on fire"), 500, "InternalServerException", "", ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		a.fe.WriteError(w, "req-1", a.call(o, in), c.err)
		body := w.Body.String()
		if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.code || w.Header().Get("x-amzn-RequestId") != "req-1" {
			t.Errorf("%v: %d %v", c.err, w.Code, w.Header())
		}
		if c.rtype != "" && (!strings.Contains(body, `"ResourceType":"`+c.rtype+`"`) || !strings.Contains(body, `"ResourceId":"`+c.rid+`"`)) {
			t.Errorf("%v: body %s lacks the resource", c.err, body)
		}
		if c.status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Errorf("throttling without Retry-After")
		}
		if strings.Contains(body, "disk on fire") {
			t.Errorf("internal cause leaked: %s", body)
		}
	}
}
