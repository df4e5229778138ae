package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

const (
	sessionCookie = "ocellus_console"
	// signInCookie carries the token the sign-in form must repeat, so that
	// another site cannot sign a browser in to an account of its choosing.
	signInCookie = "ocellus_console_signin"
	csrfField    = "csrf"
)

// A session is one signed-in browser.
type session struct {
	ID      string
	Account string // account id
	KeyID   string // the access key id signed in with
	CSRF    string // the token every state-changing form carries
	Expires time.Time
	flash   flash // shown once, on the next page
}

// flash is a one-time message after a form action: what was done, or
// what failed (Title) and why (Text, the API's message). After a failed
// create it keeps the form's values, so that the form comes back filled.
type flash struct {
	Error         bool
	Title, Text   string
	Product, Name string
}

// sessions is the server-side session table. Expired sessions are never
// returned and are swept on each sign-in.
type sessions struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[string]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// create starts a session for a.
func (s *sessions) create(a ocellus.Account) *session {
	now := s.now()
	ss := &session{ID: randomToken(), Account: a.ID, KeyID: a.AccessKeyID, CSRF: randomToken(), Expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.m {
		if !now.Before(old.Expires) {
			delete(s.m, id)
		}
	}
	s.m[ss.ID] = ss
	return ss
}

// get is r's live session. It returns a copy: the caller may read it
// without the lock.
func (s *sessions) get(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[ck.Value]
	if !ok {
		return session{}, false
	}
	if !s.now().Before(ss.Expires) {
		delete(s.m, ss.ID)
		return session{}, false
	}
	return *ss, true
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// setFlash keeps f for the session's next page.
func (s *sessions) setFlash(id string, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.m[id]; ok {
		ss.flash = f
	}
}

// takeFlash returns and clears the session's flash.
func (s *sessions) takeFlash(id string) flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return flash{}
	}
	f := ss.flash
	ss.flash = flash{}
	return f
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
}

// signedIn wraps a page or action that needs a session: without one the
// browser goes to the sign-in page (a POST is refused), and every POST must
// carry the session's CSRF token.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, ok := c.sessions.get(r)
		if !ok {
			if r.Method == http.MethodPost {
				http.Error(w, "Forbidden: you are not signed in, or your session has expired. Sign in again.", http.StatusForbidden)
				return
			}
			http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue(csrfField), ss.CSRF) {
			http.Error(w, "Forbidden: the form's CSRF token is missing or does not match your session. Reload the page and try again.", http.StatusForbidden)
			return
		}
		h(w, r, ss)
	}
}

// signInData is the sign-in page's content.
type signInData struct {
	Token string // repeats the sign-in cookie
	KeyID string
}

func (c *Console) serveSignInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.get(r); ok {
		http.Redirect(w, r, Prefix+"projects", http.StatusSeeOther)
		return
	}
	var f flash
	if r.URL.Query().Has("signed-out") {
		f.Text = "You are signed out."
	}
	c.signInPage(w, r, http.StatusOK, "", f)
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, status int, keyID string, f flash) {
	tok := randomToken()
	http.SetCookie(w, cookie(r, signInCookie, tok, 3600))
	c.render(w, status, "signin.html", page{Title: "Sign in", Flash: f, Data: signInData{Token: tok, KeyID: keyID}})
}

// serveSignIn checks the access key id and secret against the accounts
// file and starts a session.
func (c *Console) serveSignIn(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(signInCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), ck.Value) {
		http.Error(w, "Forbidden: the sign-in form's CSRF token is missing or does not match. Reload the sign-in page and try again.", http.StatusForbidden)
		return
	}
	keyID, secret := r.PostFormValue("access_key_id"), r.PostFormValue("secret_access_key")
	a, ok := c.account(keyID, secret)
	if !ok {
		c.signInPage(w, r, http.StatusUnauthorized, keyID, flash{Error: true, Text: "The access key ID or secret access key is not correct."})
		return
	}
	ss := c.sessions.create(a)
	http.SetCookie(w, cookie(r, signInCookie, "", -1))
	http.SetCookie(w, cookie(r, sessionCookie, ss.ID, int(c.sessions.ttl/time.Second)))
	http.Redirect(w, r, Prefix+"projects", http.StatusSeeOther)
}

// account is the account whose key pair this is. Every account is
// compared in constant time, so the answer's timing tells nothing.
func (c *Console) account(keyID, secret string) (ocellus.Account, bool) {
	var found ocellus.Account
	ok := 0
	for _, a := range c.accounts {
		m := subtle.ConstantTimeCompare([]byte(keyID), []byte(a.AccessKeyID)) &
			subtle.ConstantTimeCompare([]byte(secret), []byte(a.SecretAccessKey))
		if m == 1 {
			found = a
		}
		ok |= m
	}
	return found, ok == 1 && keyID != "" && secret != ""
}

func (c *Console) serveSignOut(w http.ResponseWriter, r *http.Request, ss session) {
	c.sessions.delete(ss.ID)
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"signin?signed-out=1", http.StatusSeeOther)
}
