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

// TestBrowser drives the console in a real headless Chromium: sign in,
// create a project, see it listed, sign out; a second account does not see
// it. It checks the accessibility basics on every page (images have alt
// text, form fields have labels) and takes screenshots at desktop and
// phone widths.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	s := e2e.Start(t, server.Config{})
	dir := shotDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	// accessible checks the page's images and form fields.
	accessible := func(page string) {
		t.Helper()
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[
			...[...document.images].filter(i => !i.alt.trim()).map(i => "image " + i.src + " has no alt text"),
			...[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
				.filter(f => !f.id || !document.querySelector('label[for="' + f.id + '"]'))
				.map(f => "field " + (f.name || f.outerHTML) + " has no label"),
		].join("; ")`))
		if err != nil {
			t.Fatalf("%s: checking alt texts and labels: %v", page, err)
		}
		if bad != "" {
			t.Errorf("%s: %s", page, bad)
		}
	}
	// shoot saves the page at a desktop and a phone width.
	shoot := func(page string) {
		t.Helper()
		for _, v := range []struct {
			name          string
			width, height int64
		}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
			do("viewport "+v.name, chromedp.EmulateViewport(v.width, v.height))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", page, err)
			}
			p := filepath.Join(dir, page+"-"+v.name+".png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s", p)
		}
		do("viewport desktop", chromedp.EmulateViewport(1280, 800))
	}
	signIn := func(a ocellus.Account) {
		t.Helper()
		do("sign in as "+a.ID,
			chromedp.Navigate(s.URL+console.Prefix),
			chromedp.WaitVisible(chromedp.CSS("#signin-form")),
			chromedp.SendKeys(chromedp.CSS("#access_key_id"), a.AccessKeyID),
			chromedp.SendKeys(chromedp.CSS("#secret_access_key"), a.SecretAccessKey),
			chromedp.Click(chromedp.CSS("#sign-in")),
			chromedp.WaitVisible(chromedp.CSS("#create-form")),
		)
		if got := text("#account"); got != a.ID {
			t.Fatalf("signed in as %q, want %s", got, a.ID)
		}
	}
	signOut := func() {
		t.Helper()
		do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
		if got := text("#flash-text"); got != "You are signed out." {
			t.Errorf("after sign-out the page says %q", got)
		}
	}

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
