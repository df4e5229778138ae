// Package console is Ocellus's web console, served by `ocellus serve`
// under Prefix: sign-in with an account's access key, and the account's
// Custom Labels and Lookout for Vision projects in one list, created and
// deleted through the same control-plane use cases (and so the same rules
// and messages) as the AWS APIs. Pages are rendered on the server from
// templates and assets embedded in the binary: nothing is fetched from
// elsewhere, and the pages work without JavaScript.
//
// Security: a session lives on the server (the cookie holds only its
// random id; HttpOnly, SameSite=Strict, scoped to Prefix) and expires
// SessionTTL after sign-in. Every state change is a POST that must carry
// the session's CSRF token (sign-in carries a token of its own, bound to a
// pre-session cookie), and a POST whose Origin is another site is refused.
package console

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// Prefix is the path the console is served under, inside the server's
// reserved non-AWS prefix /_ocellus/.
const Prefix = "/_ocellus/console/"

// maxForm bounds the body of a console form.
const maxForm = 64 << 10

//go:embed assets
var assets embed.FS

// Config configures a Console. Zero values are the documented defaults.
type Config struct {
	// Accounts are who may sign in, with their access key id and secret.
	Accounts []ocellus.Account
	// SessionTTL is how long a session lasts after sign-in (default 8h).
	SessionTTL time.Duration
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default: discard
}

// Console serves the web console. It is an http.Handler for paths under
// Prefix.
type Console struct {
	ctl      *control.Control
	l4v      *control.Lookout
	accounts []ocellus.Account
	now      func() time.Time
	log      *slog.Logger
	sessions *sessions
	pages    *template.Template
	static   http.Handler
	routes   map[string]http.HandlerFunc // "METHOD path" (path below Prefix)
}

// New returns the console over the Custom Labels (ctl) and Lookout for
// Vision (l4v) use cases.
func New(ctl *control.Control, l4v *control.Lookout, cfg Config) *Console {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{ctl: ctl, l4v: l4v, accounts: cfg.Accounts, now: cfg.Now, log: cfg.Logger,
		sessions: newSessions(cfg.SessionTTL, cfg.Now)}
	c.pages = template.Must(template.New("").Funcs(template.FuncMap{
		"prefix": func() string { return Prefix },
		"list":   func(s ...string) []string { return s },
		"has":    slices.Contains[[]string],
		"inc":    func(i int) int { return i + 1 },
	}).
		ParseFS(assets, "assets/*.html"))
	static, _ := fs.Sub(assets, "assets/static")
	c.static = http.StripPrefix(Prefix+"static/", http.FileServerFS(static))
	c.routes = map[string]http.HandlerFunc{
		"GET ":                 c.serveHome,
		"GET signin":           c.serveSignInPage,
		"POST signin":          c.serveSignIn,
		"POST signout":         c.signedIn(c.serveSignOut),
		"GET projects":         c.signedIn(c.serveProjects),
		"POST projects":        c.signedIn(c.serveCreateProject),
		"POST projects/delete": c.signedIn(c.serveDeleteProject),
		"GET project":          c.signedIn(c.serveProject),
		"POST datasets":        c.signedIn(c.serveCreateDataset),
		"GET dataset":          c.signedIn(c.serveDataset),
		"GET image":            c.signedIn(c.serveImage),
		"GET entry":            c.signedIn(c.serveEntry),
		"POST entry":           c.signedIn(c.serveLabel),
		"POST upload":          c.signedIn(c.serveUpload),
		"POST train":           c.signedIn(c.serveTrain),
		"GET model":            c.signedIn(c.serveModel),
		"POST model/hosting":   c.signedIn(c.serveHosting),
	}
	return c
}

// ServeHTTP serves one console request: the static assets, or the page or
// form action its method and path name.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if r.URL.Path+"/" == Prefix {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(rest, "static/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if strings.HasSuffix(rest, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "public, max-age=3600")
		c.static.ServeHTTP(w, r)
		return
	}
	h.Set("Cache-Control", "no-store")
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	route, ok := c.routes[method+" "+rest]
	if !ok {
		if _, get := c.routes["GET "+rest]; get {
			http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
			return
		}
		if _, post := c.routes["POST "+rest]; post {
			http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodPost {
		if !sameOrigin(r) {
			http.Error(w, "Forbidden: this form was sent from another site.", http.StatusForbidden)
			return
		}
		// The console's forms are a few short fields, but for the
		// image uploads (multipart).
		var err error
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" && uploads[rest] {
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
			err = r.ParseMultipartForm(8 << 20)
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			err = r.ParseForm()
		}
		if err != nil {
			http.Error(w, "The form could not be read: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
	}
	route(w, r)
}

// uploads are the form actions that take files (multipart/form-data).
var uploads = map[string]bool{"upload": true}

// sameOrigin reports whether a POST comes from the console's own pages: a
// browser names the page's origin in Origin, and Strict cookies already
// keep other sites' requests out of a session; a request without Origin
// (not a browser form) is left to the CSRF token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	_, host, ok := strings.Cut(o, "://")
	return ok && host == r.Host
}

func (c *Console) serveHome(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.get(r); ok {
		http.Redirect(w, r, Prefix+"projects", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	Title   string
	Session *session // nil on the sign-in page
	Flash   flash
	Data    any
	Refresh bool // work in progress: the page reloads itself every 2 s
	Script  bool // the page uses the labeling script
}

// render writes a page with status.
func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := c.pages.ExecuteTemplate(&b, name, p); err != nil {
		c.log.Error("console: render page", "page", name, "err", err)
		http.Error(w, "Internal error while rendering the page.", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// message is the text of err a user may see: a domain error's message (the
// one the AWS APIs send); anything else is logged and not shown.
func (c *Console) message(err error, what string) string {
	if ocellus.KindOf(err) != ocellus.Internal || ocellus.DiskFull(err) {
		return ocellus.MessageOf(err)
	}
	c.log.Error("console: "+what, "err", err)
	return "Internal error: " + what + " failed; the cause is in the server log."
}
