package console_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go/aws/awserr"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/console"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// browser is a plain net/http client with a cookie jar, as a browser
// without JavaScript would use the console.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // the last page's CSRF token
}

func newBrowser(t *testing.T, s *e2e.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.URL + console.Prefix, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// do sends a request (following redirects) and returns the final status
// and body; a page's CSRF token is kept.
func (b *browser) do(method, path string, form url.Values, header ...string) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(out); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(out)
}

func (b *browser) signIn(a ocellus.Account) {
	b.t.Helper()
	b.do("GET", "signin", nil)
	code, page := b.do("POST", "signin", url.Values{"csrf": {b.csrf}, "access_key_id": {a.AccessKeyID}, "secret_access_key": {a.SecretAccessKey}})
	if code != http.StatusOK || !strings.Contains(page, `id="account">`+a.ID+`<`) {
		b.t.Fatalf("sign in as %s: %d\n%s", a.ID, code, page)
	}
}

// post sends a form of the signed-in page with its CSRF token.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	return b.do("POST", path, form)
}

var flashRE = regexp.MustCompile(`id="flash-text">([^<]*)<`)

func flashOf(page string) string {
	if m := flashRE.FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// apiMessage is the message the Rekognition API answers err with.
func apiMessage(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorMessage()
}

// TestProjectsOverHTTP: sign in, create projects of both products, see
// them listed with their status, get the API's messages for a bad name and
// a duplicate, delete, sign out.
func TestProjectsOverHTTP(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	b := newBrowser(t, s)

	if code, page := b.do("GET", "projects", nil); code != http.StatusOK || !strings.Contains(page, `id="signin-form"`) {
		t.Fatalf("projects without a session: %d, want the sign-in page", code)
	}
	b.do("GET", "signin", nil)
	code, page := b.do("POST", "signin", url.Values{"csrf": {b.csrf}, "access_key_id": {e2e.Alice.AccessKeyID}, "secret_access_key": {"wrong"}})
	if code != http.StatusUnauthorized || flashOf(page) != "The access key ID or secret access key is not correct." {
		t.Fatalf("wrong secret: %d %q", code, flashOf(page))
	}
	b.signIn(e2e.Alice)

	_, page = b.post("projects", url.Values{"product": {"custom-labels"}, "name": {"cats"}})
	if got := flashOf(page); got != "Created the project cats." {
		t.Fatalf("create: flash %q", got)
	}
	_, page = b.post("projects", url.Values{"product": {"lookout-vision"}, "name": {"circuits"}})
	if got := flashOf(page); got != "Created the project circuits." {
		t.Fatalf("create Lookout project: flash %q", got)
	}
	for _, want := range []string{"Custom Labels", "Lookout for Vision", ">cats<", ">circuits<", ">CREATED<"} {
		if !strings.Contains(page, want) {
			t.Errorf("projects page lacks %q", want)
		}
	}
	// The API sees what the console created.
	rek := s.Rekognition(e2e.Alice)
	out, err := rek.DescribeProjects(context.Background(), &rekognition.DescribeProjectsInput{})
	if err != nil || len(out.ProjectDescriptions) != 1 {
		t.Fatalf("DescribeProjects: %v %v", out, err)
	}

	// The same rules and messages as the API.
	_, err = rek.CreateProject(context.Background(), &rekognition.CreateProjectInput{ProjectName: aws.String("bad name!")})
	_, page = b.post("projects", url.Values{"product": {"custom-labels"}, "name": {"bad name!"}})
	if got, want := flashOf(page), apiMessage(t, err); got != want || want == "" {
		t.Errorf("bad name: console says %q, the API %q", got, want)
	}
	if !strings.Contains(page, `value="bad name!"`) {
		t.Error("after a failed create the form does not keep the name")
	}
	_, err = rek.CreateProject(context.Background(), &rekognition.CreateProjectInput{ProjectName: aws.String("cats")})
	_, page = b.post("projects", url.Values{"product": {"custom-labels"}, "name": {"cats"}})
	if got, want := flashOf(page), apiMessage(t, err); got != want {
		t.Errorf("duplicate: console says %q, the API %q", got, want)
	}
	_, err = s.LookoutVision(e2e.Alice).CreateProject(&lv.CreateProjectInput{ProjectName: aws.String("circuits")})
	var lverr awserr.Error
	if !errors.As(err, &lverr) {
		t.Fatalf("Lookout for Vision duplicate CreateProject: %v", err)
	}
	_, page = b.post("projects", url.Values{"product": {"lookout-vision"}, "name": {"circuits"}})
	if got := flashOf(page); got != lverr.Message() || got == "" {
		t.Errorf("duplicate Lookout project: console says %q, the API %q", got, lverr.Message())
	}
	if !strings.Contains(page, `value="lookout-vision" selected`) {
		t.Error("after a failed create the form does not keep the product")
	}
	_, page = b.post("projects", url.Values{"product": {"nonsense"}, "name": {"x"}})
	if got := flashOf(page); !strings.Contains(got, "Choose the product") {
		t.Errorf("unknown product: %q", got)
	}

	// Delete both.
	arn := *out.ProjectDescriptions[0].ProjectArn
	_, page = b.post("projects/delete", url.Values{"arn": {arn}})
	if got := flashOf(page); got != "Deleted the project cats." {
		t.Errorf("delete: %q", got)
	}
	l4vARN := regexp.MustCompile(`data-arn="(arn:aws:lookoutvision:[^"]+)"`).FindStringSubmatch(page)
	if l4vARN == nil {
		t.Fatalf("no Lookout project row:\n%s", page)
	}
	_, page = b.post("projects/delete", url.Values{"arn": {l4vARN[1]}})
	if got := flashOf(page); got != "Deleted the project circuits." || !strings.Contains(page, `id="no-projects"`) {
		t.Errorf("delete Lookout project: %q", got)
	}

	// Sign out: the session is gone on the server, not only in the jar.
	oldCSRF := b.csrf
	b.post("signout", url.Values{})
	if code, page := b.do("GET", "projects", nil); !strings.Contains(page, `id="signin-form"`) {
		t.Fatalf("after sign-out: %d, want the sign-in page", code)
	}
	b.csrf = oldCSRF
	if code, _ := b.post("projects", url.Values{"product": {"custom-labels"}, "name": {"after"}}); code != http.StatusForbidden {
		t.Errorf("create after sign-out: %d, want 403", code)
	}
}

// TestCSRFRequired: every state change without the session's token (or
// from another origin) is refused and changes nothing.
func TestCSRFRequired(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	b := newBrowser(t, s)
	b.signIn(e2e.Alice)
	for _, c := range []struct {
		name  string
		form  url.Values
		extra []string
	}{
		{"no token", url.Values{"product": {"custom-labels"}, "name": {"p1"}}, nil},
		{"wrong token", url.Values{"csrf": {strings.Repeat("0", 64)}, "product": {"custom-labels"}, "name": {"p2"}}, nil},
		{"other origin", url.Values{"csrf": {b.csrf}, "product": {"custom-labels"}, "name": {"p3"}}, []string{"Origin", "http://evil.example"}},
	} {
		code, body := b.do("POST", "projects", c.form, c.extra...)
		if code != http.StatusForbidden || !strings.Contains(body, "Forbidden") {
			t.Errorf("%s: %d %q, want 403", c.name, code, body)
		}
	}
	if code, _ := b.do("POST", "signout", url.Values{}); code != http.StatusForbidden {
		t.Errorf("sign-out without token: %d", code)
	}
	out, err := s.Rekognition(e2e.Alice).DescribeProjects(context.Background(), &rekognition.DescribeProjectsInput{})
	if err != nil || len(out.ProjectDescriptions) != 0 {
		t.Fatalf("refused forms created projects: %v %v", out, err)
	}
	// Still signed in: the refused sign-out did nothing.
	if _, page := b.do("GET", "projects", nil); !strings.Contains(page, `id="create-form"`) {
		t.Fatal("the refused sign-out signed the browser out")
	}

	// Sign-in needs the token its page set in a cookie.
	fresh := newBrowser(t, s)
	code, _ := fresh.do("POST", "signin", url.Values{"access_key_id": {e2e.Alice.AccessKeyID}, "secret_access_key": {e2e.Alice.SecretAccessKey}})
	if code != http.StatusForbidden {
		t.Errorf("sign-in without token: %d, want 403", code)
	}
}

// TestSessionCookie: the session cookie is HttpOnly, SameSite=Strict,
// scoped to the console, and holds nothing but a random id.
func TestSessionCookie(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	b := newBrowser(t, s)
	b.do("GET", "signin", nil)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Jar: b.c.Jar}
	resp, err := c.PostForm(b.base+"signin", url.Values{"csrf": {b.csrf}, "access_key_id": {e2e.Alice.AccessKeyID}, "secret_access_key": {e2e.Alice.SecretAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "ocellus_console" {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != console.Prefix || len(sess.Value) != 64 {
		t.Errorf("session cookie %+v", sess)
	}
	if strings.Contains(sess.Value, e2e.Alice.ID) || strings.Contains(sess.Value, e2e.Alice.AccessKeyID) {
		t.Errorf("the cookie carries account data: %q", sess.Value)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
}

// TestSessionExpires: a session ends SessionTTL (8h) after sign-in.
func TestSessionExpires(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := e2e.Start(t, server.Config{Now: now})
	b := newBrowser(t, s)
	b.signIn(e2e.Alice)
	offset.Store(int64(7*time.Hour + 59*time.Minute))
	if _, page := b.do("GET", "projects", nil); !strings.Contains(page, `id="create-form"`) {
		t.Fatal("session ended before 8h")
	}
	offset.Store(int64(8*time.Hour + time.Minute))
	if _, page := b.do("GET", "projects", nil); !strings.Contains(page, `id="signin-form"`) {
		t.Fatal("session still open after 8h")
	}
	if code, body := b.post("projects", url.Values{"product": {"custom-labels"}, "name": {"late"}}); code != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Errorf("POST with an expired session: %d %q", code, body)
	}
}

// TestAccountsSeparate: Bob sees none of Alice's projects and cannot
// delete one by its ARN.
func TestAccountsSeparate(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	alice, bob := newBrowser(t, s), newBrowser(t, s)
	alice.signIn(e2e.Alice)
	alice.post("projects", url.Values{"product": {"custom-labels"}, "name": {"alices"}})
	_, page := alice.post("projects", url.Values{"product": {"lookout-vision"}, "name": {"alices-l4v"}})
	arns := regexp.MustCompile(`data-arn="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(arns) != 2 {
		t.Fatalf("Alice has %d project rows, want 2", len(arns))
	}
	bob.signIn(e2e.Bob)
	_, page = bob.do("GET", "projects", nil)
	if strings.Contains(page, "alices") || !strings.Contains(page, `id="no-projects"`) {
		t.Fatal("Bob sees Alice's projects")
	}
	for _, m := range arns {
		_, page = bob.post("projects/delete", url.Values{"arn": {m[1]}})
		if f := flashOf(page); !strings.Contains(page, `class="flash error"`) || strings.HasPrefix(f, "Deleted") {
			t.Errorf("Bob deleting %s: %q", m[1], f)
		}
	}
	if _, page = alice.do("GET", "projects", nil); strings.Count(page, "data-arn=") != 2 {
		t.Error("Bob's delete removed Alice's project")
	}
}

// TestStaticAndLimits: the assets are served from the binary, without
// directory listings; an oversized form is refused before it is read.
func TestStaticAndLimits(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	b := newBrowser(t, s)
	for path, want := range map[string]int{
		"static/console.css": http.StatusOK, "static/ocellus.svg": http.StatusOK,
		"static/": http.StatusNotFound, "static/nope.js": http.StatusNotFound, "nowhere": http.StatusNotFound,
	} {
		if code, _ := b.do("GET", path, nil); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
	if code, _ := b.do("DELETE", "projects", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE projects: %d, want 405", code)
	}
	// Without the final slash the console redirects to its prefix.
	resp, err := b.c.Get(s.URL + strings.TrimSuffix(console.Prefix, "/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != console.Prefix+"signin" {
		t.Errorf("GET /_ocellus/console: %d at %s, want the sign-in page", resp.StatusCode, resp.Request.URL.Path)
	}
	b.signIn(e2e.Alice)
	code, _ := b.post("projects", url.Values{"product": {"custom-labels"}, "name": {strings.Repeat("a", 70<<10)}})
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB form: %d, want 413", code)
	}
}
