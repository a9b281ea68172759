package console

import (
	"compress/gzip"
	"crypto/subtle"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// nextPage is where to go after signing in: a console page, never
// elsewhere.
func nextPage(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, Prefix+"/") || strings.HasPrefix(u.Path, Prefix+"/login") {
		return Prefix + "/"
	}
	return u.RequestURI()
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(w, r); ok {
		http.Redirect(w, r, nextPage(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, name, problem string) {
	c.render(w, r, status, "login", map[string]any{"Title": "Sign in", "Token": c.sessions.loginToken(w, r), "Name": name,
		"Next": nextPage(r.FormValue("next")), "Error": problem, "Proxy": c.opt.ProxyHeader != "", "NoAccounts": len(c.opt.Accounts) == 0})
}

// login signs a person in. Failures count against the client's address
// and the name tried; past the limit, even the right password waits.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.showLogin(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	if c.opt.ProxyHeader != "" {
		c.showLogin(w, r, http.StatusForbidden, "", "Sign in through your company's single sign-on; this console takes no passwords.")
		return
	}
	name, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	if len(name) > maxName {
		// No account has a longer name; a long one must not make the
		// limiter's keys large.
		name = name[:maxName]
	}
	if !c.sessions.loginTokenValid(r, r.PostForm.Get("token")) {
		c.showLogin(w, r, http.StatusForbidden, name, "The sign-in form expired or came from elsewhere. Try again.")
		return
	}
	// The per-address limit is higher: many people may share an office's
	// address.
	wait, done := c.logins.attempt(limit{"name:" + name, loginFailsName}, limit{"ip:" + clientIP(r), loginFailsIP})
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		c.showLogin(w, r, http.StatusTooManyRequests, name,
			"Too many failed sign-ins; try again in "+wait.Round(time.Second).String()+".")
		return
	}
	// bcrypt takes tens of milliseconds of a core: a few at a time, so a
	// flood of sign-ins cannot starve the webhooks this process serves.
	select {
	case c.hashing <- struct{}{}:
	case <-r.Context().Done():
		done(false)
		return
	}
	a, ok := c.opt.Accounts.check(name, password, c.decoy)
	<-c.hashing
	done(ok)
	if !ok {
		c.opt.Log.Info("console: sign-in failed")
		c.showLogin(w, r, http.StatusUnauthorized, name, "That name and password do not sign in.")
		return
	}
	c.sessions.issue(w, a)
	http.Redirect(w, r, nextPage(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.sessions.clear(w)
	if c.opt.ProxyHeader != "" {
		c.render(w, r, http.StatusOK, "message", map[string]any{"Title": "Signed out", "Message": "Signed out of the console. Your company's single sign-on still knows you; sign out there too."})
		return
	}
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// home is the first page of each role.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if viewerOf(r).Account.Role.may(seeMarketing) {
		http.Redirect(w, r, Prefix+"/funnel", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/inbox", http.StatusSeeOther)
}

// assetServer serves the embedded assets; a file kept gzipped (Mermaid) is
// sent as it is to browsers that take gzip, and unpacked for others.
func assetServer(files fs.FS) http.Handler {
	plain := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		name := path.Clean(r.URL.Path)
		f, err := files.Open(name + ".gz")
		if err != nil {
			plain.ServeHTTP(w, r)
			return
		}
		defer f.Close()
		if ct := mimeOf(name); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Add("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.Copy(w, f)
			return
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			http.Error(w, "broken asset", http.StatusInternalServerError)
			return
		}
		_, _ = io.Copy(w, zr)
	})
}

func mimeOf(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return ""
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		page := strings.TrimSuffix(path.Base(n), ".html")
		if page == "layout" || page == "partials" {
			continue
		}
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, err
		}
		out[page] = t
	}
	return out, nil
}
