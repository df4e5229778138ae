package awsproto

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/ocellus"
)

type fullVolume struct{ asked *int64 }

func (f fullVolume) Check(need int64) error {
	*f.asked = need
	return ocellus.Errorf(ocellus.QuotaExceeded, "full")
}

// TestFrontendHandle: the input is validated against the model before the
// operation runs, and data-storing operations ask the space reserve first.
func TestFrontendHandle(t *testing.T) {
	var asked int64 = -1
	ran := 0
	f := &Frontend{Model: apimodel.Rekognition, Space: fullVolume{&asked}}
	run := func(context.Context, Identity, map[string]any) (any, error) { ran++; return "ok", nil }

	_, err := f.Handle(context.Background(), Identity{}, &Call{Op: "DescribeProjects", Input: map[string]any{"MaxResults": "x"}, Run: run})
	var ve *apimodel.ValidationError
	if !errors.As(err, &ve) || ran != 0 {
		t.Fatalf("invalid input: err %v, ran %d", err, ran)
	}
	_, err = f.Handle(context.Background(), Identity{}, &Call{Op: "CreateProject", Input: map[string]any{"ProjectName": "p"}, Need: 42, Run: run})
	if ocellus.KindOf(err) != ocellus.QuotaExceeded || asked != 42 || ran != 0 {
		t.Fatalf("full volume: err %v, asked %d, ran %d", err, asked, ran)
	}
	out, err := f.Handle(context.Background(), Identity{}, &Call{Op: "DescribeProjects", Input: map[string]any{}, Run: run})
	if err != nil || out != "ok" || ran != 1 {
		t.Fatalf("valid read: %v, %v, ran %d", out, err, ran)
	}
}

// TestFrontendWriteError: AuthErrors pass as they are, the protocol maps
// the rest with the routed call, and what it does not map is the internal
// error, without its cause.
func TestFrontendWriteError(t *testing.T) {
	var seen *Call
	f := &Frontend{InternalCode: "InternalThing", Errors: func(c *Call, err error) (WireError, bool) {
		seen = c
		if ocellus.KindOf(err) == ocellus.NotFound {
			return WireError{Status: 404, Code: "Gone", Message: ocellus.MessageOf(err), Extra: map[string]any{"ResourceId": c.Op}}, true
		}
		return WireError{}, false
	}}
	c := &Call{Op: "DescribeThing"}
	for _, tc := range []struct {
		err    error
		status int
		code   string
		body   string
	}{
		{&AuthError{Status: 403, Code: "MissingAuthenticationTokenException", Message: "sign it"}, 403, "MissingAuthenticationTokenException", "sign it"},
		{ocellus.Errorf(ocellus.NotFound, "no such thing"), 404, "Gone", `"ResourceId":"DescribeThing"`},
		{errors.New("disk on fire"), 500, "InternalThing", "req-9"},
	} {
		w := httptest.NewRecorder()
		f.WriteError(w, "req-9", c, tc.err)
		if w.Code != tc.status || w.Header().Get("X-Amzn-ErrorType") != tc.code || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%v: %d %s %s", tc.err, w.Code, w.Header().Get("X-Amzn-ErrorType"), w.Body.String())
		}
		if strings.Contains(w.Body.String(), "fire") {
			t.Errorf("internal cause sent: %s", w.Body.String())
		}
	}
	if seen != c {
		t.Error("the protocol's Errors did not get the routed call")
	}
}
