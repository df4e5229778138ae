package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ocellus/ocellus/internal/console"
	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

// chromium is the path of Debian's chromium. Under `make test` it must be
// there (scripts/install-deps.sh installs it); elsewhere the browser
// tests skip, saying why.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "chromium is not installed (scripts/install-deps.sh installs Debian's chromium)"
	if os.Getenv("OCELLUS_MAKE_TEST") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// shotDir is where the screenshots go: $OCELLUS_CONSOLE_SHOTS to keep them
// for a look, else a temporary directory.
func shotDir(t *testing.T) string {
	if d := os.Getenv("OCELLUS_CONSOLE_SHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// tab is one headless Chromium tab on the console of s, with the helpers
// the browser tests share.
type tab struct {
	t   *testing.T
	s   *e2e.Server
	ctx context.Context
	dir string // screenshots
}

// newTab starts Chromium for one test; it ends with the test.
func newTab(t *testing.T, s *e2e.Server, timeout time.Duration) *tab {
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	b := &tab{t: t, s: s, ctx: ctx, dir: shotDir(t)}
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression on the page.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// accessible checks the page's images and form fields.
func (b *tab) accessible(page string) {
	b.t.Helper()
	bad := eval[string](b, `[
		...[...document.images].filter(i => !i.alt.trim()).map(i => "image " + i.src + " has no alt text"),
		...[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
			.filter(f => !f.id || !document.querySelector('label[for="' + f.id + '"]'))
			.map(f => "field " + (f.name || f.outerHTML) + " has no label"),
	].join("; ")`)
	if bad != "" {
		b.t.Errorf("%s: %s", page, bad)
	}
}

// shoot saves the page at a desktop and a phone width.
func (b *tab) shoot(page string) {
	b.t.Helper()
	for _, v := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		b.do("viewport "+v.name, chromedp.EmulateViewport(v.width, v.height))
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", page, err)
		}
		p := filepath.Join(b.dir, page+"-"+v.name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("screenshot %s", p)
	}
	b.do("viewport desktop", chromedp.EmulateViewport(1280, 800))
}

func (b *tab) signIn(a ocellus.Account) {
	b.t.Helper()
	b.do("sign in as "+a.ID,
		chromedp.Navigate(b.s.URL+console.Prefix),
		chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SendKeys(chromedp.CSS("#access_key_id"), a.AccessKeyID),
		chromedp.SendKeys(chromedp.CSS("#secret_access_key"), a.SecretAccessKey),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#create-form")),
	)
	if got := b.text("#account"); got != a.ID {
		b.t.Fatalf("signed in as %q, want %s", got, a.ID)
	}
}

func (b *tab) signOut() {
	b.t.Helper()
	b.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	if got := b.text("#flash-text"); got != "You are signed out." {
		b.t.Errorf("after sign-out the page says %q", got)
	}
}

// TestBrowser drives the console in a real headless Chromium: sign in,
// create a project, see it listed, sign out; a second account does not see
// it. It checks the accessibility basics on every page (images have alt
// text, form fields have labels) and takes screenshots at desktop and
// phone widths.
func TestBrowser(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	b := newTab(t, s, 30*time.Second)
	do, text, accessible, shoot := b.do, b.text, b.accessible, b.shoot
	signIn, signOut, ctx := b.signIn, b.signOut, b.ctx

	do("open the console", chromedp.Navigate(s.URL+console.Prefix), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	accessible("sign-in page")
	shoot("signin")

	signIn(e2e.Alice)
	accessible("empty projects page")
	do("create a Custom Labels project",
		chromedp.SendKeys(chromedp.CSS("#name"), "browser-cats"),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#projects")),
	)
	if got := text("#flash-text"); got != "Created the project browser-cats." {
		t.Errorf("after create the page says %q", got)
	}
	do("create a Lookout for Vision project",
		chromedp.SetValue(chromedp.CSS("#product"), "lookout-vision"),
		chromedp.SendKeys(chromedp.CSS("#name"), "browser-boards"),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-arn$=":project/browser-boards"]`)),
	)
	list := text("#projects")
	for _, want := range []string{"browser-cats", "browser-boards", "Custom Labels", "Lookout for Vision", "CREATED"} {
		if !strings.Contains(list, want) {
			t.Errorf("the project list lacks %q:\n%s", want, list)
		}
	}
	do("try a name the API refuses",
		chromedp.SendKeys(chromedp.CSS("#name"), "no spaces allowed"),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS(`#flash.error`)),
	)
	if got := text("#flash"); !strings.HasPrefix(got, "Could not create the project.") || !strings.Contains(got, "failed to satisfy constraint") {
		t.Errorf("a bad name shows %q", got)
	}
	// The form comes back with what was typed, to correct it.
	if got, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#name"))); err != nil || got != "no spaces allowed" {
		t.Errorf("after the error the name field holds %q (%v)", got, err)
	}
	accessible("projects page")
	shoot("projects")
	signOut()

	signIn(e2e.Bob)
	if got := text("main"); strings.Contains(got, "browser-cats") || strings.Contains(got, "browser-boards") {
		t.Errorf("Bob sees Alice's projects:\n%s", got)
	}
	do("Bob has none", chromedp.WaitVisible(chromedp.CSS("#no-projects")))
	signOut()
}
